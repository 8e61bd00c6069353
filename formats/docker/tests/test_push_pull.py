"""Blob uploads (monolithic, chunked, streamed, mounts) and manifests (validation, tags, exact bytes)."""
from __future__ import annotations

import hashlib
import json

from repositories.models import Asset
from tests.ociimages import OCI_INDEX, OCI_MANIFEST, descriptor, digest, make_image, make_index

from .conftest import basic

DATA = b"0123456789" * 1000
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


def errors(response):
    return [e["code"] for e in response.json()["errors"]]


def test_monolithic_upload_then_blob_head_get_and_range(client, dk):
    r = client.post(f"/v2/dk/app/blobs/uploads/?digest={DIGEST}", data=DATA, content_type="application/octet-stream",
                    **basic("alice"))
    assert r.status_code == 201 and r["Location"].endswith(f"/v2/dk/app/blobs/{DIGEST}")
    assert r["Docker-Content-Digest"] == DIGEST
    head = client.head(f"/v2/dk/app/blobs/{DIGEST}", **basic("bob"))
    assert head.status_code == 200 and head["Content-Length"] == str(len(DATA))
    assert head["Docker-Content-Digest"] == DIGEST
    part = client.get(f"/v2/dk/app/blobs/{DIGEST}", HTTP_RANGE="bytes=10-19", **basic("bob"))
    assert part.status_code == 206 and b"".join(part.streaming_content) == DATA[10:20]
    # blobs are scoped to the image they were pushed to
    other = client.head(f"/v2/dk/other/blobs/{DIGEST}", **basic("bob"))
    assert other.status_code == 404


def test_chunked_upload_with_status_and_out_of_order_chunk(client, dk):
    start = client.post("/v2/dk/app/blobs/uploads/", data=b"", content_type="application/octet-stream",
                        **basic("alice"))
    assert start.status_code == 202 and start["Range"] == "0-0" and start["Docker-Upload-UUID"]
    location = start["Location"].split("testserver", 1)[1]
    r = client.patch(location, data=DATA[:4000], content_type="application/octet-stream",
                     HTTP_CONTENT_RANGE="0-3999", **basic("alice"))
    assert r.status_code == 202 and r["Range"] == "0-3999"
    wrong = client.patch(location, data=DATA[5000:6000], content_type="application/octet-stream",
                         HTTP_CONTENT_RANGE="5000-5999", **basic("alice"))
    assert wrong.status_code == 416 and errors(wrong) == ["RANGE_INVALID"] and wrong["Range"] == "0-3999"
    status = client.get(location, **basic("alice"))
    assert status.status_code == 204 and status["Range"] == "0-3999"
    r = client.patch(location, data=DATA[4000:9000], content_type="application/octet-stream", **basic("alice"))
    assert r.status_code == 202 and r["Range"] == "0-8999"
    done = client.put(f"{location}?digest={DIGEST}", data=DATA[9000:], content_type="application/octet-stream",
                      **basic("alice"))
    assert done.status_code == 201 and done["Docker-Content-Digest"] == DIGEST
    assert client.get(location, **basic("alice")).status_code == 404  # the session is gone
    assert Asset.objects.filter(path=f"app/blobs/{DIGEST}").exists()


def test_upload_digest_mismatch_missing_digest_and_cancel(client, dk):
    bad = client.post("/v2/dk/app/blobs/uploads/?digest=sha256:" + "0" * 64, data=DATA,
                      content_type="application/octet-stream", **basic("alice"))
    assert bad.status_code == 400 and errors(bad) == ["DIGEST_INVALID"]
    assert errors(client.post("/v2/dk/app/blobs/uploads/?digest=md5:zz", data=b"x", content_type="a/b",
                              **basic("alice"))) == ["DIGEST_INVALID"]
    start = client.post("/v2/dk/app/blobs/uploads/", data=b"", content_type="a/b", **basic("alice"))
    location = start["Location"].split("testserver", 1)[1]
    client.patch(location, data=DATA, content_type="application/octet-stream", **basic("alice"))
    wrong = client.put(f"{location}?digest=sha256:{'1' * 64}", data=b"", content_type="a/b", **basic("alice"))
    assert wrong.status_code == 400 and errors(wrong) == ["DIGEST_INVALID"]
    assert errors(client.get(location, **basic("alice"))) == ["BLOB_UPLOAD_UNKNOWN"]
    start = client.post("/v2/dk/app/blobs/uploads/", data=b"", content_type="a/b", **basic("alice"))
    location = start["Location"].split("testserver", 1)[1]
    assert client.delete(location, **basic("alice")).status_code == 204
    assert client.patch(location, data=b"x", content_type="a/b", **basic("alice")).status_code == 404
    assert errors(client.get("/v2/dk/app/blobs/uploads/nonsense", **basic("alice"))) == ["BLOB_UPLOAD_UNKNOWN"]


def test_manifest_push_pull_by_tag_and_digest_exact_bytes(client, dk, push):
    image = make_image()
    r = push("dk/app", image, "v1")
    assert r.status_code == 201 and r["Docker-Content-Digest"] == image.digest
    assert r["Location"].endswith(f"/v2/dk/app/manifests/{image.digest}")
    for ref in ("v1", image.digest):
        got = client.get(f"/v2/dk/app/manifests/{ref}", **basic("bob"))
        assert got.status_code == 200 and got.content == image.manifest
        assert got["Content-Type"] == OCI_MANIFEST and got["Docker-Content-Digest"] == image.digest
        head = client.head(f"/v2/dk/app/manifests/{ref}", **basic("bob"))
        assert head.status_code == 200 and head["Content-Length"] == str(len(image.manifest)) and not head.content
    assert errors(client.get("/v2/dk/app/manifests/nope", **basic("bob"))) == ["MANIFEST_UNKNOWN"]
    assert client.get(f"/v2/dk/app/manifests/{image.digest}", HTTP_IF_NONE_MATCH=f'"{image.digest}"',
                      **basic("bob")).status_code == 304


def test_manifest_validation(client, dk, push):
    image = make_image()
    put = lambda ref, body, ctype=OCI_MANIFEST: client.put(  # noqa: E731
        f"/v2/dk/app/manifests/{ref}", data=body, content_type=ctype, **basic("alice"))
    missing = put("v1", image.manifest)
    assert missing.status_code == 400 and errors(missing) == ["MANIFEST_BLOB_UNKNOWN"] * 2
    assert errors(put("v1", b"{not json")) == ["MANIFEST_INVALID"]
    assert errors(put("v1", b"[]")) == ["MANIFEST_INVALID"]
    assert errors(put("v1", json.dumps({"schemaVersion": 1}).encode())) == ["MANIFEST_INVALID"]
    odd = json.dumps({"schemaVersion": 2, "mediaType": "application/x-odd", "config": {}}).encode()
    assert errors(put("v1", odd, "application/x-odd")) == ["MANIFEST_INVALID"]
    assert errors(put("v1", json.dumps({"schemaVersion": 2, "config": {"digest": "x"}, "layers": []}).encode())) == [
        "MANIFEST_INVALID"]
    big = put("v1", b" " * (4 * 1024 * 1024 + 1))
    assert big.status_code == 413
    assert errors(put("bad:tag:x", image.manifest)) == ["DIGEST_INVALID"]
    assert errors(put("-bad", image.manifest)) == ["TAG_INVALID"]
    assert push("dk/app", image, "v1").status_code == 201
    assert errors(put("sha256:" + "a" * 64, image.manifest)) == ["DIGEST_INVALID"]
    assert errors(client.get("/v2/dk/App/tags/list", **basic("alice"))) == ["NAME_INVALID"]
    assert errors(client.get("/v2/dk/tags/list", **basic("alice"))) == ["NAME_INVALID"]
    # an index whose child is not in the repository
    index = make_index({"arm64": make_image(arch="arm64")})
    r = put("multi", index.manifest, OCI_INDEX)
    assert r.status_code == 400 and errors(r) == ["MANIFEST_UNKNOWN"]


def test_multi_arch_index_and_tags_pagination(client, dk, push):
    index = make_index({"amd64": make_image(arch="amd64"), "arm64": make_image(arch="arm64", files={"b": b"2"})})
    assert push("dk/app", index, "multi").status_code == 201
    for tag in ("b", "a", "c"):
        assert push("dk/app", make_image(), tag).status_code == 201
    full = client.get("/v2/dk/app/tags/list", **basic("bob")).json()
    assert full == {"name": "dk/app", "tags": ["a", "b", "c", "multi"]}
    page = client.get("/v2/dk/app/tags/list?n=2", **basic("bob"))
    assert page.json()["tags"] == ["a", "b"] and page["Link"] == '</v2/dk/app/tags/list?n=2&last=b>; rel="next"'
    last = client.get("/v2/dk/app/tags/list?n=2&last=b", **basic("bob"))
    assert last.json()["tags"] == ["c", "multi"] and not last.has_header("Link")
    assert client.get("/v2/dk/app/tags/list?n=0", **basic("bob")).json()["tags"] == []
    assert errors(client.get("/v2/dk/app/tags/list?n=x", **basic("bob"))) == ["PAGINATION_NUMBER_INVALID"]
    assert errors(client.get("/v2/dk/none/tags/list", **basic("bob"))) == ["NAME_UNKNOWN"]


def test_cross_repository_mount(client, dk, push, make_repo, alice, make_user):
    carol = make_user("carol")
    make_repo("dk2", grants={alice: "deploy", carol: "deploy"})
    image = make_image()
    assert push("dk/app", image).status_code == 201
    layer = next(iter(image.blobs))
    r = client.post(f"/v2/dk2/copy/blobs/uploads/?mount={layer}&from=dk/app", data=b"", content_type="a/b",
                    **basic("alice"))
    assert r.status_code == 201 and r["Docker-Content-Digest"] == layer
    assert client.head(f"/v2/dk2/copy/blobs/{layer}", **basic("alice")).status_code == 200
    # carol may not read dk: a plain upload session, no hint the blob exists
    r = client.post(f"/v2/dk2/other/blobs/uploads/?mount={layer}&from=dk/app", data=b"", content_type="a/b",
                    **basic("carol"))
    assert r.status_code == 202 and r["Docker-Upload-UUID"]


def test_referrers_and_subject(client, dk, push):
    image = make_image()
    assert push("dk/app", image, "v1").status_code == 201
    subject = descriptor(OCI_MANIFEST, image.manifest)
    sbom = make_image({"sbom.json": b"{}"}, subject=subject, artifact_type="application/spdx+json",
                      annotations={"k": "v"})
    sig = make_image({"sig": b"x"}, subject=subject, artifact_type="application/vnd.dev.cosign")
    for art in (sbom, sig):
        r = push("dk/app", art, art.digest)
        assert r.status_code == 201 and r["OCI-Subject"] == image.digest
    listed = client.get(f"/v2/dk/app/referrers/{image.digest}", **basic("bob"))
    assert listed.status_code == 200 and listed["Content-Type"] == OCI_INDEX
    entries = {m["digest"]: m for m in listed.json()["manifests"]}
    assert set(entries) == {sbom.digest, sig.digest}
    assert entries[sbom.digest]["artifactType"] == "application/spdx+json"
    assert entries[sbom.digest]["annotations"] == {"k": "v"}
    filtered = client.get(f"/v2/dk/app/referrers/{image.digest}?artifactType=application/vnd.dev.cosign",
                          **basic("bob"))
    assert [m["digest"] for m in filtered.json()["manifests"]] == [sig.digest]
    assert filtered["OCI-Filters-Applied"] == "artifactType"
    empty = client.get(f"/v2/dk/app/referrers/sha256:{'0' * 64}", **basic("bob"))
    assert empty.status_code == 200 and empty.json()["manifests"] == []


def test_catalog_lists_only_readable_repositories(client, dk, push, make_repo, make_user):
    make_user("carol")
    secret = make_repo("secret")
    assert push("dk/app", make_image()).status_code == 201
    assert push("dk/tools/x", make_image()).status_code == 201
    from formats.docker import store
    from formats.docker.parse import parse

    data = make_image().manifest
    store.save_manifest(secret, "hidden", digest(data), data, parse(data, OCI_MANIFEST))
    assert client.get("/v2/_catalog", **basic("bob")).json() == {"repositories": ["dk/app", "dk/tools/x"]}
    assert client.get("/v2/_catalog", **basic("carol")).json() == {"repositories": []}
    page = client.get("/v2/_catalog?n=1", **basic("bob"))
    assert page.json()["repositories"] == ["dk/app"] and "last=dk%2Fapp" in page["Link"]
    assert client.get("/v2/_catalog").status_code == 401


def test_a_failed_chunk_leaves_the_upload_resumable(client, dk):
    start = client.post("/v2/dk/app/blobs/uploads/", data=b"", content_type="a/b", **basic("alice"))
    location = start["Location"].split("testserver", 1)[1]
    client.patch(location, data=DATA[:100], content_type="a/b", HTTP_CONTENT_RANGE="0-99", **basic("alice"))
    short = client.patch(location, data=DATA[100:150], content_type="a/b", HTTP_CONTENT_RANGE="100-199",
                         **basic("alice"))
    assert short.status_code == 400 and errors(short) == ["SIZE_INVALID"]
    assert client.get(location, **basic("alice"))["Range"] == "0-99"
    client.patch(location, data=DATA[100:], content_type="a/b", **basic("alice"))
    done = client.put(f"{location}?digest={DIGEST}", data=b"", content_type="a/b", **basic("alice"))
    assert done.status_code == 201
