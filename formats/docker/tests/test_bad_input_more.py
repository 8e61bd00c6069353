"""Bad input on the /v2 API answers a 4xx in the OCI error shape, never a 500.

Each case here was a 500 (or is a neighbour of one, kept as a regression guard): JSON nested
deeper than Python's parser can recurse, descriptor sizes that overflow the BigIntegerField
columns, strings a database cannot hold (NUL for PostgreSQL, lone UTF-16 surrogates for every
driver), non-string annotations (NaN/Infinity are refused by PostgreSQL jsonb and SQLite's
JSON_VALID), manifests that read as both an image and an index (CVE-2021-41190), Content-Range
numbers too long for int(), and an upstream registry or token endpoint sending such JSON.

Every request goes through the Django test client, which re-raises a view's exception: before
the fixes these tests failed with RecursionError, OverflowError/DataError, UnicodeEncodeError,
ValueError or AttributeError rather than with a wrong status. They run on SQLite and on
PostgreSQL (make test), and several only failed on one of the two.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from formats.docker.models import Manifest
from tests.ociimages import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, descriptor, digest, make_image
from tests.servers import free_port

from .conftest import basic

pytestmark = pytest.mark.django_db

# OCI distribution-spec 1.1 error codes, plus the ones docker/distribution documents and this
# registry uses (RANGE_INVALID, PAGINATION_NUMBER_INVALID, TAG_INVALID, UNAVAILABLE).
SPEC_CODES = {
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED",
    "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS", "RANGE_INVALID", "PAGINATION_NUMBER_INVALID", "TAG_INVALID",
    "UNAVAILABLE",
}
TOO_DEEP = 100_000  # far past the recursion limit however deep the stack already is
LONG_NUMBER = "9" * 5000  # more digits than int() converts (4300 by default since Python 3.11)


def assert_oci_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    errors = response.json()["errors"]
    assert errors[0]["code"] == code and code in SPEC_CODES
    assert isinstance(errors[0]["message"], str)


@pytest.fixture
def image(dk, push):
    """An image pushed as dk/app:v1, so manifests below can point at blobs that exist."""
    pushed = make_image()
    assert push("dk/app", pushed, "v1").status_code == 201
    return pushed


def put_manifest(client, body: bytes, content_type: str = OCI_MANIFEST, reference: str = "bad"):
    return client.put(f"/v2/dk/app/manifests/{reference}", data=body, content_type=content_type, **basic("alice"))


# ---------------------------------------------------------------------------------------------
# Manifest bodies: each builder takes the pushed image's manifest (as a dict) and returns the
# body (a dict to serialise, or raw bytes) and the Content-Type to send.


def with_doc(change):
    def build(doc):
        change(doc)
        return doc, doc.get("mediaType") if isinstance(doc.get("mediaType"), str) else "application/json"
    return build


def set_layer(key, value):
    return with_doc(lambda doc: doc["layers"][0].__setitem__(key, value))


def set_field(key, value):
    return with_doc(lambda doc: doc.__setitem__(key, value))


def raw(body: bytes):
    return lambda doc: (body, OCI_MANIFEST)


MANIFEST_CASES = {
    # RecursionError in json.loads: unclosed, balanced, and nested inside a valid-looking manifest.
    "unclosed-brackets": raw(b"[" * TOO_DEEP),
    "balanced-nesting": raw(b"[" * 50_000 + b"]" * 50_000),
    "deep-annotation": raw(b'{"schemaVersion": 2, "annotations": ' + b'{"a": ' * TOO_DEEP + b"1" + b"}" * TOO_DEEP
                           + b"}"),
    # Sizes beyond the BigIntegerField (the layer points at a blob the repository holds).
    "size-2**70": set_layer("size", 2**70),
    "size-2**63": set_layer("size", 2**63),
    # Each size fits, their sum (Manifest.content_size) does not.
    "size-sum-overflows": set_layer("size", 2**63 - 1),
    "size-negative": set_layer("size", -1),
    "size-bool": set_layer("size", True),
    "size-float": set_layer("size", 1.5),
    # Not an object, or parts of the wrong type.
    "list": raw(b"[1, 2]"),
    "number": raw(b"3"),
    "string": raw(b'"manifest"'),
    "null": raw(b"null"),
    "layers-not-a-list": set_field("layers", {"0": "x"}),
    "descriptor-not-an-object": set_field("layers", ["sha256:" + "a" * 64]),
    "digest-uppercase-hex": with_doc(lambda doc: doc["layers"][0].__setitem__(
        "digest", "sha256:" + doc["layers"][0]["digest"][7:].upper())),
    "digest-short": with_doc(lambda doc: doc["layers"][0].__setitem__("digest", doc["layers"][0]["digest"][:-1])),
    "mediaType-not-a-string": set_field("mediaType", 5),
    "layer-mediaType-not-a-string": set_layer("mediaType", ["x"]),
    # Both an image and an index (CVE-2021-41190): declared either way, or left to inference.
    "image-with-manifests": set_field("manifests", []),
    "inferred-with-manifests-and-layers": with_doc(
        lambda doc: (doc.pop("mediaType"), doc.__setitem__("manifests", []))),
    # Strings a database cannot store: NUL (PostgreSQL) and lone surrogates (every driver).
    "annotation-nul": set_field("annotations", {"a": "b\u0000c"}),
    "annotation-key-nul": set_field("annotations", {"a\u0000": "b"}),
    "annotation-surrogate": set_field("annotations", {"a": "\ud800"}),
    "annotation-not-a-string": set_field("annotations", {"a": 1}),
    "annotation-nested": set_field("annotations", {"a": {"b": "c"}}),
    "annotation-nan": set_field("annotations", {"a": float("nan")}),  # json.dumps writes NaN
    "annotation-infinity": set_field("annotations", {"a": float("inf")}),  # and Infinity
    "artifactType-nul": set_field("artifactType", "application/x\u0000"),
    "artifactType-surrogate": set_field("artifactType", "application/\udfff"),
    "config-mediaType-nul": with_doc(lambda doc: doc["config"].__setitem__("mediaType", "a/b\u0000")),
    "config-mediaType-surrogate": with_doc(lambda doc: doc["config"].__setitem__("mediaType", "a/\ud800")),
}


@pytest.mark.parametrize("build", MANIFEST_CASES.values(), ids=MANIFEST_CASES.keys())
def test_bad_manifest_is_manifest_invalid(client, image, build):
    body, content_type = build(json.loads(image.manifest))
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()  # ensure_ascii: NUL and surrogates travel as \u escapes
    response = put_manifest(client, body, content_type)
    assert_oci_error(response, 400, "MANIFEST_INVALID")
    assert not Manifest.objects.filter(image="app").exclude(digest=image.digest).exists()


def test_index_with_layers_is_manifest_invalid(client, image):
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor(OCI_MANIFEST, image.manifest)],
             "layers": []}
    assert_oci_error(put_manifest(client, json.dumps(index).encode(), OCI_INDEX), 400, "MANIFEST_INVALID")


def test_index_platform_strings_a_database_cannot_hold_are_left_out(client, image):
    """Platforms are stored for display only, and non-string values were already skipped: an
    unstorable string is skipped the same way rather than refusing a pullable index."""
    entry = descriptor(OCI_MANIFEST, image.manifest, platform={"os": "linux", "architecture": "amd\u0000",
                                                                "variant": "\ud800"})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}).encode()
    response = put_manifest(client, index, OCI_INDEX, "multi")
    assert response.status_code == 201, response.content
    assert Manifest.objects.get(digest=digest(index)).platforms == [{"os": "linux"}]


@pytest.mark.parametrize("config", [
    b"[" * TOO_DEEP,  # RecursionError in parse.image_config, reached from store.save_manifest
    # NUL fails on PostgreSQL only; the lone surrogate in created failed on SQLite too.
    json.dumps({"os": "linux", "architecture": "amd\u0000", "variant": "\ud800",
                "created": "2024-01-01T00:00:00Z\ud800"}).encode(),
], ids=["too-deep", "unstorable-strings"])
def test_image_config_that_cannot_be_read_is_skipped(client, push, dk, config):
    """The config blob is only read for display fields; what cannot be stored is left out."""
    r = client.post(f"/v2/dk/app/blobs/uploads/?digest={digest(config)}", data=config,
                    content_type="application/octet-stream", **basic("alice"))
    assert r.status_code == 201
    base = make_image()
    assert push("dk/app", base, "v1").status_code == 201  # its layer is now in the repository
    doc = json.loads(base.manifest)
    doc["config"] = descriptor(OCI_CONFIG, config)
    body = json.dumps(doc).encode()
    response = put_manifest(client, body, OCI_MANIFEST, "v2")
    assert response.status_code == 201, response.content
    manifest = Manifest.objects.get(digest=digest(body))
    assert manifest.platforms == ([] if config.startswith(b"[") else [{"os": "linux"}])
    assert manifest.image_created == ""


def test_declared_size_differing_from_the_blob_is_accepted(client, image):
    """Kept as it is: the push checks that each blob exists, not its size, like distribution does
    (the OCI spec does not ask for more). A client verifies size and digest when it pulls."""
    doc = json.loads(image.manifest)
    doc["layers"][0]["size"] = 5
    assert put_manifest(client, json.dumps(doc).encode(), OCI_MANIFEST, "odd-size").status_code == 201


# ---------------------------------------------------------------------------------------------
# References, query parameters and headers.

UPPER = "sha256:" + "A" * 64
SHORT = "sha256:" + "a" * 63
REQUEST_CASES = [
    pytest.param("get", f"/v2/dk/app/manifests/{UPPER}", {}, 400, "DIGEST_INVALID", id="manifest-uppercase-digest"),
    pytest.param("get", f"/v2/dk/app/manifests/{SHORT}", {}, 400, "DIGEST_INVALID", id="manifest-short-digest"),
    pytest.param("get", f"/v2/dk/app/blobs/{UPPER}", {}, 400, "DIGEST_INVALID", id="blob-uppercase-digest"),
    pytest.param("get", "/v2/dk/app/blobs/garbage", {}, 400, "DIGEST_INVALID", id="blob-garbage-digest"),
    pytest.param("get", "/v2/dk/app/referrers/garbage", {}, 400, "DIGEST_INVALID", id="referrers-garbage"),
    pytest.param("get", f"/v2/dk/app/referrers/{UPPER}", {}, 400, "DIGEST_INVALID", id="referrers-uppercase"),
    pytest.param("get", "/v2/dk/app/tags/list?n=-1", {}, 400, "PAGINATION_NUMBER_INVALID", id="tags-n-negative"),
    pytest.param("get", "/v2/dk/app/tags/list?n=abc", {}, 400, "PAGINATION_NUMBER_INVALID", id="tags-n-abc"),
    pytest.param("get", "/v2/_catalog?n=-1", {}, 400, "PAGINATION_NUMBER_INVALID", id="catalog-n-negative"),
    pytest.param("get", f"/v2/dk/app/tags/list?n={LONG_NUMBER}", {}, 400, "PAGINATION_NUMBER_INVALID",
                 id="tags-n-5000-digits"),
    pytest.param("get", "/v2/dk/app/tags/list?n=%C2%B2", {}, 400, "PAGINATION_NUMBER_INVALID",
                 id="tags-n-superscript-two"),
    pytest.param("get", f"/v2/_catalog?n={LONG_NUMBER}", {}, 400, "PAGINATION_NUMBER_INVALID",
                 id="catalog-n-5000-digits"),
    pytest.param("post", f"/v2/dk/app/blobs/uploads/?digest={UPPER}", {}, 400, "DIGEST_INVALID",
                 id="monolithic-upload-uppercase-digest"),
    pytest.param("put", "/v2/dk/app/manifests/sha256:" + "a" * 64 + "?tag=%00", {}, 400, "TAG_INVALID",
                 id="manifest-tag-parameter-nul"),
]


@pytest.mark.parametrize("method, url, headers, status, code", REQUEST_CASES)
def test_bad_reference_or_parameter(client, image, method, url, headers, status, code):
    send = getattr(client, method)
    if method in ("post", "put"):
        response = send(url, data=image.manifest, content_type=OCI_MANIFEST, **headers, **basic("alice"))
    else:
        response = send(url, **headers, **basic("alice"))
    assert_oci_error(response, status, code)


@pytest.fixture
def upload(client, dk):
    """The path of a fresh upload session."""
    start = client.post("/v2/dk/app/blobs/uploads/", data=b"", content_type="application/octet-stream",
                        **basic("alice"))
    assert start.status_code == 202
    return start["Location"].split("testserver", 1)[1]


@pytest.mark.parametrize("content_range", [
    "garbage", "5-1", "-1-2", "0--1", f"0-{LONG_NUMBER}", f"{LONG_NUMBER}-1", "0-99999999999999999999",
], ids=["garbage", "backwards", "negative", "negative-end", "end-5000-digits", "start-5000-digits", "20-digits"])
def test_patch_with_bad_content_range_is_416(client, upload, content_range):
    # The 5000-digit ones reached int() and raised ValueError (a 500); the rest were already 416.
    response = client.patch(upload, data=b"abcd", content_type="application/octet-stream",
                            HTTP_CONTENT_RANGE=content_range, **basic("alice"))
    assert_oci_error(response, 416, "RANGE_INVALID")
    assert response["Range"] == "0-0"  # nothing was appended


@pytest.mark.parametrize("value", [
    "", "garbage", UPPER, "sha256:zz", "sha512:" + "a" * 128, "sha256:" + "a" * 5000, "%00",
], ids=["empty", "garbage", "uppercase", "not-hex", "sha512", "too-long", "nul"])
def test_closing_put_with_malformed_digest_is_digest_invalid(client, upload, value):
    response = client.put(f"{upload}?digest={value}", data=b"", content_type="application/octet-stream",
                          **basic("alice"))
    assert_oci_error(response, 400, "DIGEST_INVALID")


# ---------------------------------------------------------------------------------------------
# An upstream registry (pull-through cache) sending the same kinds of JSON.


class CannedUpstream:
    """A registry on 127.0.0.1 answering each path with a fixed (status, headers, body).

    A path in `protected` answers 401 with a Bearer challenge unless the request carries a
    Bearer token, then what `routes` says: enough to drive the upstream token flow.
    """

    def __init__(self):
        self.routes: dict[str, tuple[int, dict, bytes]] = {}
        self.protected: set[str] = set()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                if path in upstream.protected and not self.headers.get("Authorization", "").startswith("Bearer "):
                    challenge = f'Bearer realm="{upstream.url}/token",service="canned",scope="x"'
                    status, headers, body = 401, {"WWW-Authenticate": challenge}, b""
                else:
                    status, headers, body = upstream.routes.get(path, (404, {}, b'{"errors": []}'))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def canned(make_repo, alice):
    upstream = CannedUpstream()
    make_repo("dkr", kind="remote", upstream_url=upstream.url, grants={alice: "read"})
    yield upstream
    upstream.stop()


HUGE_LAYER = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                         "config": {"mediaType": OCI_CONFIG, "digest": "sha256:" + "a" * 64, "size": 2},
                         "layers": [{"mediaType": "x/y", "digest": "sha256:" + "b" * 64, "size": 2**70}]}).encode()


@pytest.mark.parametrize("body", [b"[" * TOO_DEEP, b"[" * 50_000 + b"]" * 50_000, b"{not json", HUGE_LAYER],
                         ids=["unclosed-brackets", "balanced-nesting", "invalid-json-as-before", "size-2**70"])
def test_upstream_manifest_that_cannot_be_parsed_is_unavailable(client, canned, body):
    # What an upstream's invalid JSON already gave: 502 UNAVAILABLE naming the repository.
    canned.routes["/v2/app/manifests/v1"] = (200, {"Content-Type": OCI_MANIFEST}, body)
    response = client.get("/v2/dkr/app/manifests/v1", **basic("alice"))
    assert_oci_error(response, 502, "UNAVAILABLE")
    assert "unusable manifest" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("body", [b"[" * TOO_DEEP, b"[1]", b"5", b'{"tags": "abc"}'],
                         ids=["too-deep", "list", "number", "tags-not-a-list"])
def test_upstream_tag_list_that_cannot_be_parsed_counts_as_unknown(client, canned, body):
    # An upstream list that cannot be read leaves the local tags: none here, so NAME_UNKNOWN.
    canned.routes["/v2/app/tags/list"] = (200, {"Content-Type": "application/json"}, body)
    assert_oci_error(client.get("/v2/dkr/app/tags/list", **basic("alice")), 404, "NAME_UNKNOWN")


@pytest.mark.parametrize("body, status, code", [
    (b"[" * TOO_DEEP, 502, "UNAVAILABLE"),
    (b'["token"]', 502, "UNAVAILABLE"),
    # A token with an unusable expires_in is still a token (kept for the default 60 s): the
    # authorised request then finds no such manifest.
    (b'{"token": "t", "expires_in": [1]}', 404, "MANIFEST_UNKNOWN"),
    (b'{"token": "t", "expires_in": 1e999}', 404, "MANIFEST_UNKNOWN"),
], ids=["too-deep", "list", "expires_in-list", "expires_in-infinite"])
def test_upstream_token_endpoint_sending_odd_json(client, canned, body, status, code):
    canned.protected.add("/v2/app/manifests/v1")
    canned.routes["/token"] = (200, {"Content-Type": "application/json"}, body)
    assert_oci_error(client.get("/v2/dkr/app/manifests/v1", **basic("alice")), status, code)
