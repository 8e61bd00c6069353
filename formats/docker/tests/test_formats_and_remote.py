"""Docker schema 2 manifests and lists, pull-through cache TTLs, virtual reads by digest, and GC
of a layer another repository mounted. In-process (Django test client).

The remote-repository tests run against `FakeRegistry` (tests/fakeregistry.py), a small
threaded HTTP registry on 127.0.0.1 that counts every request per path, so a test can prove how
often Packyard asked its upstream.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import time
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from artifacts import gc
from artifacts.models import Blob
from tests.fakeregistry import DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LIST, DOCKER_MANIFEST, FakeRegistry
from tests.ociimages import OCI_INDEX, OCI_MANIFEST, Image, descriptor, digest, layer

from .conftest import basic



# ---------------------------------------------------------------------------------------------
# Docker schema 2 images, built by hand like tests/ociimages.py builds OCI ones


def docker_image(files: dict[str, bytes] | None = None, arch: str = "amd64", variant: str = "",
                 layers: int = 1) -> Image:
    """A Docker schema 2 image: docker config and rootfs layer media types.

    The manifest is serialised with an unusual indent on purpose: a registry that re-serialised
    the JSON would return other bytes (and another digest), which the tests would notice.
    """
    files = files or {"hello.txt": b"hello from a docker image\n"}
    blobs = [layer({k: v + str(i).encode() for k, v in files.items()}) for i in range(layers)]
    diff_ids = ["sha256:" + hashlib.sha256(gzip.decompress(b)).hexdigest() for b in blobs]
    platform = {"architecture": arch, "os": "linux", **({"variant": variant} if variant else {})}
    config = json.dumps({**platform, "created": "2024-05-06T07:08:09Z", "config": {"Cmd": ["/hello.txt"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}, sort_keys=True).encode()
    doc = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": descriptor(DOCKER_CONFIG, config),
           "layers": [descriptor(DOCKER_LAYER, b) for b in blobs]}
    return Image(json.dumps(doc, indent=3).encode(), {digest(config): config, **{digest(b): b for b in blobs}},
                 media_type=DOCKER_MANIFEST)


def docker_list(images: list[tuple[dict, Image]]) -> Image:
    """A Docker manifest list over (platform, image) pairs; the images travel in .children."""
    doc = {"schemaVersion": 2, "mediaType": DOCKER_LIST,
           "manifests": [descriptor(DOCKER_MANIFEST, img.manifest, platform=platform) for platform, img in images]}
    result = Image(json.dumps(doc, indent=3).encode(), media_type=DOCKER_LIST)
    result.children = [img for _, img in images]  # type: ignore[attr-defined]
    return result


def body_of(response) -> bytes:
    """The body of a plain or streaming response. Blobs are streamed: reading a proxied one to
    the end stores it, and the test client then runs close(), which releases its fetch lock."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def errors(response) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]


# ---------------------------------------------------------------------------------------------
# A counting upstream registry


@pytest.fixture
def upstream():
    registry = FakeRegistry()
    yield registry
    registry.stop()


# ---------------------------------------------------------------------------------------------
# 1. Docker schema 2 manifests and manifest lists


def test_docker_schema2_manifest_and_list_push_pull_head(client, dk, push):
    amd = docker_image(arch="amd64", layers=2)
    arm = docker_image({"arm.txt": b"arm\n"}, arch="arm64", variant="v8")
    platforms = [{"architecture": "amd64", "os": "linux"}, {"architecture": "arm64", "os": "linux", "variant": "v8"}]
    listed = docker_list(list(zip(platforms, [amd, arm])))
    # the push fixture pushes the list's children by digest first, then the list under the tag
    r = push("dk/app", listed, "multi")
    assert r.status_code == 201, r.content
    assert r["Docker-Content-Digest"] == "sha256:" + hashlib.sha256(listed.manifest).hexdigest()
    assert r["Location"].endswith(f"/v2/dk/app/manifests/{listed.digest}")
    r = push("dk/app", amd, "single")
    assert r.status_code == 201 and r["Docker-Content-Digest"] == digest(amd.manifest)

    for image, refs in ((listed, ("multi", listed.digest)), (amd, ("single", amd.digest)), (arm, (arm.digest,))):
        for ref in refs:
            got = client.get(f"/v2/dk/app/manifests/{ref}", **basic("bob"))
            assert got.status_code == 200, (ref, got.content)
            assert got.content == image.manifest  # the exact bytes pushed, not re-serialised JSON
            assert got["Content-Type"] == image.media_type
            assert got["Docker-Content-Digest"] == image.digest
            assert got["Content-Length"] == str(len(image.manifest))
            head = client.head(f"/v2/dk/app/manifests/{ref}", **basic("bob"))
            assert head.status_code == 200 and head.content == b""
            assert head["Content-Type"] == image.media_type and head["Docker-Content-Digest"] == image.digest
            assert head["Content-Length"] == str(len(image.manifest))

    # Packyard never converts (manifests.py: "whatever the Accept header says"), like distribution
    # for schema 2: a client accepting only OCI types still gets the docker-typed bytes.
    oci_only = f"{OCI_MANIFEST}, {OCI_INDEX}"
    for image, ref in ((amd, "single"), (listed, "multi")):
        got = client.get(f"/v2/dk/app/manifests/{ref}", HTTP_ACCEPT=oci_only, **basic("bob"))
        assert got.status_code == 200 and got.content == image.manifest
        assert got["Content-Type"] == image.media_type and got["Docker-Content-Digest"] == image.digest

    # a docker manifest declared with another Content-Type is refused, not stored under the wrong type
    other = docker_image({"x.txt": b"x"})
    for data in other.blobs.values():
        client.post(f"/v2/dk/app/blobs/uploads/?digest={digest(data)}", data=data,
                    content_type="application/octet-stream", **basic("alice"))
    wrong = client.put("/v2/dk/app/manifests/wrong", data=other.manifest, content_type=OCI_MANIFEST, **basic("alice"))
    assert wrong.status_code == 400 and errors(wrong) == ["MANIFEST_INVALID"]


def test_packages_listing_of_docker_schema2_images(admin_client, dk, push):
    amd = docker_image(arch="amd64", layers=2)
    arm = docker_image({"arm.txt": b"arm\n"}, arch="arm64", variant="v8")
    platforms = [{"architecture": "amd64", "os": "linux"}, {"architecture": "arm64", "os": "linux", "variant": "v8"}]
    listed = docker_list(list(zip(platforms, [amd, arm])))
    before = timezone.now()
    assert push("dk/app", listed, "multi").status_code == 201
    body = admin_client.get("/api/v1/repositories/dk/packages/").json()
    entries = body["results"] if isinstance(body, dict) else body
    versions = {v["digest"]: v for v in next(e for e in entries if e["name"] == "app")["versions"]}
    assert set(versions) == {listed.digest, amd.digest, arm.digest}

    top = versions[listed.digest]
    assert top["media_type"] == DOCKER_LIST and top["tags"] == ["multi"] and top["pushed_by"] == "alice"
    assert top["platforms"] == platforms
    # plugin.packages: size = manifest bytes + content_size; for a list content_size is the sum of
    # its entries' descriptor sizes (the child manifests), not the layers below them.
    assert top["size"] == len(listed.manifest) + len(amd.manifest) + len(arm.manifest)
    for image, platform in ((amd, platforms[0]), (arm, platforms[1])):
        version = versions[image.digest]
        assert version["media_type"] == DOCKER_MANIFEST and version["tags"] == []
        # an image manifest's size: its own bytes + the config + every layer
        assert version["size"] == len(image.manifest) + sum(len(b) for b in image.blobs.values())
        assert version["layers"] == len(image.blobs) - 1
        # the platform comes from the docker config blob (application/vnd.docker.container.image.v1+json)
        assert version["platforms"] == [platform]
        assert version["created"] == "2024-05-06T07:08:09Z"
    for version in versions.values():
        pushed = datetime.fromisoformat(version["pushed"].replace("Z", "+00:00"))
        assert pushed.tzinfo is not None and before - timedelta(seconds=1) <= pushed <= timezone.now()


# ---------------------------------------------------------------------------------------------
# 3. Manifests by tag of a remote repository: metadata_ttl, tag moves, upstream down


def test_remote_tag_ttl_tag_move_and_digest_with_upstream_stopped(client, make_repo, alice, upstream):
    first, second = docker_image({"v": b"first"}), docker_image({"v": b"second"})
    upstream.add("team/app", first, "v1")
    ttl = 1
    make_repo("dk-proxy", kind="remote", upstream_url=upstream.url, metadata_ttl=ttl, grants={alice: "read"})
    path = "/v2/team/app/manifests/v1"
    url = "/v2/dk-proxy/team/app/manifests/v1"

    # `sent` is no later than the tag's fetched_at, `answered` no earlier: the window check uses
    # the first, the wait past the TTL the second, so neither can pass by a clock accident
    sent = time.monotonic()
    got = client.get(url, **basic("alice"))
    answered = time.monotonic()
    assert got.status_code == 200 and got.content == first.manifest
    assert got["Docker-Content-Digest"] == first.digest and got["Content-Type"] == DOCKER_MANIFEST
    assert upstream.count(path) == 1
    # Packyard asks upstream for the docker types too, or a distribution upstream could refuse
    assert DOCKER_MANIFEST in upstream.accept[path] and DOCKER_LIST in upstream.accept[path]

    # the tag moves upstream; within the TTL the cached tag is served without asking upstream
    upstream.move("team/app", "v1", second)
    again = client.get(url, **basic("alice"))
    head = client.head(url, **basic("alice"))
    assert time.monotonic() - sent < ttl, "too slow to observe the TTL window"
    assert again["Docker-Content-Digest"] == first.digest and head["Docker-Content-Digest"] == first.digest
    assert upstream.count(path) == 1 and upstream.count(path, "HEAD") == 0

    # past the TTL: the upstream is asked again and the moved tag's new digest is served
    time.sleep(max(0.0, ttl + 0.2 - (time.monotonic() - answered)))
    moved = client.get(url, **basic("alice"))
    assert moved.status_code == 200 and moved.content == second.manifest
    assert moved["Docker-Content-Digest"] == second.digest
    assert upstream.count(path) == 2
    layer_digest = list(first.blobs)[1]
    blob = client.get(f"/v2/dk-proxy/team/app/blobs/{layer_digest}", **basic("alice"))
    assert blob.status_code == 200 and body_of(blob) == first.blobs[layer_digest]

    # the upstream goes away: anything fetched before is still served by digest, the blob too
    upstream.stop()
    for image in (first, second):
        by_digest = client.get(f"/v2/dk-proxy/team/app/manifests/{image.digest}", **basic("alice"))
        assert by_digest.status_code == 200 and by_digest.content == image.manifest
        assert by_digest["Docker-Content-Digest"] == image.digest
    blob = client.get(f"/v2/dk-proxy/team/app/blobs/{layer_digest}", **basic("alice"))
    assert blob.status_code == 200 and body_of(blob) == first.blobs[layer_digest]
    # by tag past the TTL with the upstream down: stale-if-error, the last digest fetched
    time.sleep(ttl + 0.2)
    stale = client.get(url, **basic("alice"))
    assert stale.status_code == 200 and stale["Docker-Content-Digest"] == second.digest
    # never fetched and the upstream down: 502, not a 404 that would claim it does not exist
    never = client.get(f"/v2/dk-proxy/team/app/manifests/sha256:{'e' * 64}", **basic("alice"))
    assert never.status_code == 502 and errors(never) == ["UNAVAILABLE"]


# ---------------------------------------------------------------------------------------------
# 4. Virtual repositories by digest


def test_virtual_by_digest_finds_the_member_that_holds_it(client, dk, make_repo, alice, push):
    second = make_repo("dk-b", grants={alice: "deploy"})
    in_first = docker_image({"a": b"first member"})
    in_second = docker_image({"b": b"second member"})
    only_second = docker_image({"c": b"only the second member"})
    assert push("dk/app", in_first, "both").status_code == 201
    assert push("dk-b/app", in_second, "both").status_code == 201
    assert push("dk-b/app", only_second, only_second.digest).status_code == 201  # untagged
    make_repo("dk-v", kind="virtual", members=[dk, second], grants={alice: "read"})

    for method in (client.get, client.head):
        r = method(f"/v2/dk-v/app/manifests/{only_second.digest}", **basic("alice"))
        assert r.status_code == 200 and r["Docker-Content-Digest"] == only_second.digest
        assert r["Content-Type"] == DOCKER_MANIFEST
    assert client.get(f"/v2/dk-v/app/manifests/{only_second.digest}", **basic("alice")).content == only_second.manifest
    # the second member's copy of a tag both hold is shadowed by the first member's
    both = client.get("/v2/dk-v/app/manifests/both", **basic("alice"))
    assert both.status_code == 200 and both["Docker-Content-Digest"] == in_first.digest
    assert both.content == in_first.manifest
    # ...but its digest still resolves, as do the blobs only the second member holds
    assert client.get(f"/v2/dk-v/app/manifests/{in_second.digest}", **basic("alice")).status_code == 200
    config = next(iter(only_second.blobs))
    blob = client.get(f"/v2/dk-v/app/blobs/{config}", **basic("alice"))
    assert blob.status_code == 200 and blob["Docker-Content-Digest"] == config
    assert body_of(blob) == only_second.blobs[config]
    missing = client.get(f"/v2/dk-v/app/manifests/sha256:{'0' * 64}", **basic("alice"))
    assert missing.status_code == 404 and errors(missing) == ["MANIFEST_UNKNOWN"]


def test_virtual_by_digest_over_a_remote_member(client, dk, make_repo, alice, push, upstream):
    local = docker_image({"l": b"local"})
    remote_only = docker_image({"r": b"remote only"})
    assert push("dk/app", local, "v1").status_code == 201
    upstream.add("app", remote_only, "r1")
    proxy = make_repo("dk-up", kind="remote", upstream_url=upstream.url, grants={alice: "read"})
    make_repo("dk-v", kind="virtual", members=[dk, proxy], grants={alice: "read"})
    by_digest = f"/v2/app/manifests/{remote_only.digest}"

    r = client.get(f"/v2/dk-v/app/manifests/{remote_only.digest}", **basic("alice"))
    assert r.status_code == 200 and r.content == remote_only.manifest
    assert r["Docker-Content-Digest"] == remote_only.digest and upstream.count(by_digest) == 1
    # the local member answers first: its digest never reaches the upstream
    r = client.get(f"/v2/dk-v/app/manifests/{local.digest}", **basic("alice"))
    assert r.status_code == 200 and r["Docker-Content-Digest"] == local.digest
    assert upstream.count(f"/v2/app/manifests/{local.digest}") == 0
    # once fetched, a digest is kept: asking again does not reach the upstream
    assert client.get(f"/v2/dk-v/app/manifests/{remote_only.digest}", **basic("alice")).status_code == 200
    assert upstream.count(by_digest) == 1


def test_a_blob_a_later_member_holds_asks_the_remote_member_once(client, dk, make_repo, alice, push, upstream):
    local = docker_image({"l": b"only the local member has this layer"})
    assert push("dk/app", local, "v1").status_code == 201
    layer = list(local.blobs)[1]
    proxy = make_repo("dk-up1", kind="remote", upstream_url=upstream.url, grants={alice: "read"})
    make_repo("dk-rv", kind="virtual", members=[proxy, dk], grants={alice: "read"})
    r = client.get(f"/v2/dk-rv/app/blobs/{layer}", **basic("alice"))
    assert r.status_code == 200 and body_of(r) == local.blobs[layer]
    # The remote member comes first, so its upstream is asked, once: its 404 is remembered
    # between the streaming attempt and the lookup that finds the local member's copy.
    assert upstream.count(f"/v2/app/blobs/{layer}") == 1


# ---------------------------------------------------------------------------------------------
# 5. GC across repositories


def test_gc_keeps_a_layer_mounted_into_another_repository(client, dk, push, make_repo, alice):
    make_repo("dk2", grants={alice: "delete"})
    image = docker_image({"gc.txt": b"a layer two repositories share"})
    config, layer_digest = list(image.blobs)
    assert push("dk/app", image, "v1").status_code == 201
    mounted = client.post(f"/v2/dk2/copy/blobs/uploads/?mount={layer_digest}&from=dk/app", data=b"",
                          content_type="application/octet-stream", **basic("alice"))
    assert mounted.status_code == 201 and mounted["Docker-Content-Digest"] == layer_digest
    assert client.delete(f"/v2/dk/app/manifests/{image.digest}", **basic("alice")).status_code == 202
    assert client.head(f"/v2/dk/app/blobs/{layer_digest}", **basic("alice")).status_code == 404

    # past the grace period, as test_manage does, then a real collection
    Blob.objects.update(last_linked=timezone.now() - timedelta(hours=2))
    report = gc.collect()
    gone = {f"sha256:{d}" for d in report.digests}
    assert config in gone and image.digest in gone  # GC did run: what only dk/app used is freed
    assert layer_digest not in gone
    pulled = client.get(f"/v2/dk2/copy/blobs/{layer_digest}", **basic("alice"))
    assert pulled.status_code == 200 and body_of(pulled) == image.blobs[layer_digest]
    assert pulled["Docker-Content-Digest"] == layer_digest
