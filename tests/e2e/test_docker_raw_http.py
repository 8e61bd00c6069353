"""End to end: the OCI distribution API spoken "by hand" with `requests` against a real `packyard serve`.

The same raw-HTTP cases formats/docker/tests/test_push_pull.py and test_bad_input_more.py check
in-process (Django's test client), here once through gunicorn and the Docker token flow, so the
headers, status codes, streaming bodies and error documents are those a real client sees:

1. the 401 challenge (realm/service/scope parsed from WWW-Authenticate) and the token it leads to;
2. monolithic blob upload, HEAD, ranged GET (206 / 416);
3. chunked upload: PATCH with Content-Range, an out-of-order PATCH (416 RANGE_INVALID), status,
   closing PUT, and a PUT with the wrong digest (DIGEST_INVALID);
4. cross-repository mount: 201 for a caller who may read the source, a plain 202 session otherwise;
5. manifests: odd whitespace kept byte for byte, MANIFEST_BLOB_UNKNOWN, MANIFEST_INVALID, the
   4 MiB cap (413 SIZE_INVALID) with the server still answering after it, NAME_INVALID, TAG_INVALID;
6. tags list pagination through the Link header;
7. the catalog as seen by a read-only user;
8. manifest DELETE by digest, then MANIFEST_UNKNOWN.

Repositories are named raw-*, users raw-*, so nothing clashes with the other e2e modules.
"""
from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import urlencode

import pytest
import requests

from tests.ociimages import OCI_MANIFEST, descriptor, digest, make_image

PASSWORDS = {"raw-alice": "raw-alice-pw-1", "raw-bob": "raw-bob-pw-1", "raw-carol": "raw-carol-pw-1"}
REPO = "raw-e2e"  # alice delete, bob read, carol deploy
SOURCE = "raw-src"  # alice read only; the mount source bob and carol cannot see
TIMEOUT = 60


@pytest.fixture(scope="module")
def site(packyard):
    for user, password in PASSWORDS.items():
        packyard.ensure_user(user, password)
    packyard.create_repo(REPO, "docker")
    packyard.create_repo(SOURCE, "docker")
    packyard.grant(REPO, "delete", user="raw-alice")
    packyard.grant(REPO, "read", user="raw-bob")
    packyard.grant(REPO, "deploy", user="raw-carol")
    packyard.grant(SOURCE, "read", user="raw-alice")
    return packyard


def parse_challenge(header: str) -> dict:
    scheme, _, params = header.partition(" ")
    assert scheme == "Bearer", header
    return dict(re.findall(r'(\w+)="([^"]*)"', params))


def token(site, user: str, scope: str) -> str:
    """A registry token for `scope`, from the realm and service a 401 challenge names."""
    challenge = parse_challenge(requests.get(f"{site.url}/v2/", timeout=TIMEOUT).headers["WWW-Authenticate"])
    r = requests.get(challenge["realm"], params={"service": challenge["service"], "scope": scope},
                     auth=(user, PASSWORDS[user]), timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()["token"]


class Client:
    """A requests.Session carrying one Bearer token for one user and scope."""

    def __init__(self, site, user: str, scope: str):
        self.url = site.url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token(site, user, scope)}"

    def __call__(self, method: str, path: str, **kwargs) -> requests.Response:
        target = path if path.startswith("http") else f"{self.url}{path}"
        return self.http.request(method, target, timeout=TIMEOUT, **kwargs)


def pushing(site, user: str, name: str) -> Client:
    return Client(site, user, f"repository:{name}:pull,push,delete")


def error_code(r: requests.Response) -> str:
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    errors = r.json()["errors"]
    assert errors and all({"code", "message"} <= set(e) for e in errors), r.text
    return errors[0]["code"]


def push_blob(client: Client, name: str, data: bytes) -> str:
    d = digest(data)
    r = client("POST", f"/v2/{name}/blobs/uploads/?digest={d}", data=data,
               headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    return d


def push_image(client: Client, name: str, tag: str, image=None) -> str:
    image = image or make_image({f"{tag}.txt": tag.encode()})
    for data in image.blobs.values():
        push_blob(client, name, data)
    r = client("PUT", f"/v2/{name}/manifests/{tag}", data=image.manifest, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    return image.digest


def test_token_flow_from_the_challenge(site):
    name = f"{REPO}/flow"
    # The base endpoint answers a bare challenge; a repository endpoint adds the scope it needs.
    base = requests.get(f"{site.url}/v2/", timeout=TIMEOUT)
    assert base.status_code == 401 and error_code(base) == "UNAUTHORIZED"
    assert base.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    r = requests.get(f"{site.url}/v2/{name}/tags/list", timeout=TIMEOUT)
    assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
    challenge = parse_challenge(r.headers["WWW-Authenticate"])
    assert challenge["realm"].startswith(site.url) and challenge["service"] == "packyard"
    assert challenge["scope"] == f"repository:{name}:pull"
    # wrong password: no token
    bad = requests.get(challenge["realm"], params={"service": challenge["service"], "scope": challenge["scope"]},
                       auth=("raw-bob", "not-it"), timeout=TIMEOUT)
    assert bad.status_code == 401
    got = requests.get(challenge["realm"], params={"service": challenge["service"], "scope": challenge["scope"]},
                       auth=("raw-bob", PASSWORDS["raw-bob"]), timeout=TIMEOUT)
    assert got.status_code == 200 and got.headers["Cache-Control"] == "no-store"
    bearer = {"Authorization": f"Bearer {got.json()['token']}"}
    assert requests.get(f"{site.url}/v2/", headers=bearer, timeout=TIMEOUT).status_code == 200
    # nothing pushed yet: past authentication, the image is unknown
    r = requests.get(f"{site.url}/v2/{name}/tags/list", headers=bearer, timeout=TIMEOUT)
    assert r.status_code == 404 and error_code(r) == "NAME_UNKNOWN"
    # a pull token does not allow a push: a fresh challenge asking for the wider scope
    r = requests.post(f"{site.url}/v2/{name}/blobs/uploads/", headers=bearer, timeout=TIMEOUT)
    assert r.status_code == 401
    again = parse_challenge(r.headers["WWW-Authenticate"])
    assert again["scope"] == f"repository:{name}:pull,push" and again["error"] == "insufficient_scope"


def test_monolithic_upload_head_and_ranges(site):
    name = f"{REPO}/mono"
    alice = pushing(site, "raw-alice", name)
    data = bytes(range(256)) * 4
    d = digest(data)
    r = alice("POST", f"/v2/{name}/blobs/uploads/?digest={d}", data=data,
              headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == d
    assert r.headers["Location"].endswith(f"/v2/{name}/blobs/{d}")
    head = alice("HEAD", f"/v2/{name}/blobs/{d}")
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data))
    assert head.headers["Docker-Content-Digest"] == d and head.content == b""
    part = alice("GET", f"/v2/{name}/blobs/{d}", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    whole = alice("GET", f"/v2/{name}/blobs/{d}")
    assert whole.status_code == 200 and whole.content == data
    past = alice("GET", f"/v2/{name}/blobs/{d}", headers={"Range": f"bytes={len(data) + 10}-{len(data) + 20}"})
    assert past.status_code == 416
    # a wrong digest on a monolithic POST stores nothing
    r = alice("POST", f"/v2/{name}/blobs/uploads/?digest={digest(b'other')}", data=b"not other")
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    missing = alice("HEAD", f"/v2/{name}/blobs/{digest(b'other')}")
    assert missing.status_code == 404


def test_chunked_upload(site):
    name = f"{REPO}/chunks"
    alice = pushing(site, "raw-alice", name)
    data = b"0123456789abcdefghij" * 50  # 1000 bytes in three pieces
    a, b, c = data[:400], data[400:800], data[800:]
    r = alice("POST", f"/v2/{name}/blobs/uploads/")
    assert r.status_code == 202 and r.headers["Range"] == "0-0"
    location = r.headers["Location"]
    assert r.headers["Docker-Upload-UUID"] in location
    r = alice("PATCH", location, data=a, headers={"Content-Range": "0-399", "Content-Type": "application/octet-stream"})
    assert r.status_code == 202 and r.headers["Range"] == "0-399"
    location = r.headers["Location"]
    # a chunk that does not start where the upload ends: refused, the Range still says 0-399
    r = alice("PATCH", location, data=c, headers={"Content-Range": "800-999", "Content-Type": "application/octet-stream"})
    assert r.status_code == 416 and error_code(r) == "RANGE_INVALID" and r.headers["Range"] == "0-399"
    r = alice("PATCH", location, data=b, headers={"Content-Range": "400-799", "Content-Type": "application/octet-stream"})
    assert r.status_code == 202 and r.headers["Range"] == "0-799"
    status = alice("GET", r.headers["Location"])
    assert status.status_code == 204 and status.headers["Range"] == "0-799"
    d = digest(data)
    r = alice("PUT", f"{status.headers['Location']}?{urlencode({'digest': d})}", data=c,
              headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == d and r.headers["Location"].endswith(f"/blobs/{d}")
    assert alice("GET", f"/v2/{name}/blobs/{d}").content == data
    # another session closed with a digest that is not its bytes'
    r = alice("POST", f"/v2/{name}/blobs/uploads/")
    wrong = alice("PUT", f"{r.headers['Location']}?{urlencode({'digest': digest(b'something else')})}", data=a)
    assert wrong.status_code == 400 and error_code(wrong) == "DIGEST_INVALID"
    # the failed session is gone
    assert alice("GET", r.headers["Location"]).status_code == 404


def test_cross_repository_mount(site):
    src_name, name = f"{SOURCE}/base", f"{REPO}/mounted"
    data = b"a layer shared between repositories\n" * 10
    d = digest(data)
    # Seed the source as admin (Basic credentials work on /v2 too); alice may only read it.
    r = requests.post(f"{site.url}/v2/{src_name}/blobs/uploads/?digest={d}", data=data, auth=site.admin,
                      timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    alice = Client(site, "raw-alice", f"repository:{name}:pull,push repository:{src_name}:pull")
    r = alice("POST", f"/v2/{name}/blobs/uploads/?mount={d}&from={src_name}")
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == d and r.headers["Location"].endswith(f"/v2/{name}/blobs/{d}")
    assert alice("GET", f"/v2/{name}/blobs/{d}").content == data
    # carol may push the target but not read the source: an ordinary session, no hint the blob exists
    carol = Client(site, "raw-carol", f"repository:{name}2:pull,push repository:{src_name}:pull")
    r = carol("POST", f"/v2/{name}2/blobs/uploads/?mount={d}&from={src_name}")
    assert r.status_code == 202 and r.headers["Range"] == "0-0" and "Docker-Content-Digest" not in r.headers
    assert carol("HEAD", f"/v2/{name}2/blobs/{d}").status_code == 404
    assert carol("DELETE", r.headers["Location"]).status_code == 204  # cancel the session


def test_manifests_put_get_and_rejections(site):
    name = f"{REPO}/manifests"
    alice = pushing(site, "raw-alice", name)
    image = make_image({"ws.txt": b"whitespace\n"})
    for data in image.blobs.values():
        push_blob(alice, name, data)
    # Odd but valid JSON whitespace: the registry must store and serve these very bytes.
    doc = json.loads(image.manifest)
    body = ("\n\t " + json.dumps(doc, indent="\t", separators=(" ,", " :  ")) + " \r\n\n").encode()
    expected = "sha256:" + hashlib.sha256(body).hexdigest()
    r = alice("PUT", f"/v2/{name}/manifests/odd", data=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == expected and r.headers["Location"]
    by_tag = alice("GET", f"/v2/{name}/manifests/odd", headers={"Accept": OCI_MANIFEST})
    by_digest = alice("GET", f"/v2/{name}/manifests/{expected}", headers={"Accept": OCI_MANIFEST})
    for got in (by_tag, by_digest):
        assert got.status_code == 200 and got.content == body
        assert got.headers["Docker-Content-Digest"] == expected
        assert got.headers["Content-Type"] == OCI_MANIFEST
        assert got.headers["Content-Length"] == str(len(body))
    # a layer that was never pushed
    doc2 = dict(doc, layers=[descriptor(doc["layers"][0]["mediaType"], b"never pushed")])
    r = alice("PUT", f"/v2/{name}/manifests/orphan", data=json.dumps(doc2), headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and error_code(r) == "MANIFEST_BLOB_UNKNOWN"
    assert r.json()["errors"][0]["detail"]["digest"] == digest(b"never pushed")
    r = alice("PUT", f"/v2/{name}/manifests/broken", data=b'{"schemaVersion": 2, "layers": [',
              headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and error_code(r) == "MANIFEST_INVALID"
    # Over the 4 MiB cap (formats/docker/parse.py MAX_MANIFEST_BYTES): 413 SIZE_INVALID, and the
    # server answers the next request.
    huge = b'{"schemaVersion": 2, "pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    r = alice("PUT", f"/v2/{name}/manifests/huge", data=huge, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 413 and error_code(r) == "SIZE_INVALID"
    assert alice("GET", f"/v2/{name}/manifests/odd").content == body
    assert alice("GET", f"/v2/{name}/manifests/huge").status_code == 404
    # names and tags outside the grammar are refused before anything else
    r = alice("GET", f"/v2/{REPO}/Upper/manifests/odd")
    assert r.status_code == 400 and error_code(r) == "NAME_INVALID"
    r = alice("PUT", f"/v2/{name}/manifests/-bad-tag", data=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and error_code(r) == "TAG_INVALID"
    r = alice("GET", f"/v2/{name}/manifests/{'t' * 129}")
    assert r.status_code == 400 and error_code(r) == "TAG_INVALID"


def test_tags_list_follows_link_pages(site):
    name = f"{REPO}/paged"
    alice = pushing(site, "raw-alice", name)
    tags = ["v5", "a1", "latest", "b-2", "v10"]
    image = make_image({"paged.txt": b"paged\n"})
    for tag in tags:
        push_image(alice, name, tag, image)
    seen, pages = [], 0
    path = f"/v2/{name}/tags/list?n=2"
    while path:
        r = alice("GET", path)
        assert r.status_code == 200 and r.json()["name"] == name
        page = r.json()["tags"]
        assert len(page) <= 2
        seen += page
        pages += 1
        link = r.headers.get("Link")
        if link is None:
            break
        match = re.fullmatch(r'<(/v2/[^>]+)>; rel="next"', link)
        assert match, link
        path = match.group(1)  # relative to the host
    assert seen == sorted(tags) and pages == 3
    whole = alice("GET", f"/v2/{name}/tags/list").json()["tags"]
    assert whole == sorted(tags)


def test_catalog_lists_only_what_bob_reads(site):
    alice = pushing(site, "raw-alice", f"{REPO}/cat")
    push_image(alice, f"{REPO}/cat", "v1")
    admin_push = requests.Session()
    admin_push.auth = site.admin
    hidden = make_image({"hidden.txt": b"hidden\n"})
    for data in hidden.blobs.values():
        assert admin_push.post(f"{site.url}/v2/{SOURCE}/hidden/blobs/uploads/?digest={digest(data)}",
                               data=data, timeout=TIMEOUT).status_code == 201
    assert admin_push.put(f"{site.url}/v2/{SOURCE}/hidden/manifests/v1", data=hidden.manifest,
                          headers={"Content-Type": OCI_MANIFEST}, timeout=TIMEOUT).status_code == 201
    # anonymous: a challenge naming the catalog scope
    r = requests.get(f"{site.url}/v2/_catalog", timeout=TIMEOUT)
    assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
    assert parse_challenge(r.headers["WWW-Authenticate"])["scope"] == "registry:catalog:*"
    bob = Client(site, "raw-bob", "registry:catalog:*")
    r = bob("GET", "/v2/_catalog")
    assert r.status_code == 200, r.text
    names = r.json()["repositories"]
    assert names == sorted(names)
    assert f"{REPO}/cat" in names
    assert not [n for n in names if n.startswith(f"{SOURCE}/")]
    # alice reads both repositories
    names = Client(site, "raw-alice", "registry:catalog:*")("GET", "/v2/_catalog").json()["repositories"]
    assert f"{REPO}/cat" in names and f"{SOURCE}/hidden" in names


def test_delete_manifest_by_digest(site):
    name = f"{REPO}/gone"
    alice = pushing(site, "raw-alice", name)
    d = push_image(alice, name, "v1")
    # bob reads but may not delete
    bob = Client(site, "raw-bob", f"repository:{name}:pull,delete")
    r = bob("DELETE", f"/v2/{name}/manifests/{d}")
    assert r.status_code in (401, 403) and error_code(r) in ("DENIED", "UNAUTHORIZED")
    r = alice("DELETE", f"/v2/{name}/manifests/{d}")
    assert r.status_code == 202, r.text
    for reference in (d, "v1"):
        r = alice("GET", f"/v2/{name}/manifests/{reference}")
        assert r.status_code == 404 and error_code(r) == "MANIFEST_UNKNOWN"
    assert alice("DELETE", f"/v2/{name}/manifests/{d}").status_code == 404
