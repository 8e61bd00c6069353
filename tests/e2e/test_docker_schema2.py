"""End to end against `packyard serve` (2 web workers): Docker schema 2 images pushed by skopeo
(`--format v2s2`), and one upstream fetch however many clients pull the same thing at once
through a pull-through cache.

Images are built as OCI layouts (tests/ociimages.py) and converted by skopeo; the upstream is
tests/fakeregistry.py's FakeRegistry, which counts its requests.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time

import pytest
import requests

from tests.fakeregistry import DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LIST, DOCKER_MANIFEST, FakeRegistry
from tests.ociimages import OCI_INDEX, OCI_MANIFEST, Image, descriptor, digest, make_image, make_index, write_layout
from tests.servers import require_tool

from .test_docker import ok, skopeo

USER, PASSWORD = "s2-alice", "s2-alice-pw-1"
ACCEPT_ALL = ", ".join([DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX])


@pytest.fixture(scope="module")
def site(packyard):
    packyard.ensure_user(USER, PASSWORD)
    packyard.create_repo("dk-s2", "docker")
    packyard.grant("dk-s2", "delete", user=USER)
    packyard.host = f"127.0.0.1:{packyard.port}"
    return packyard


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    folder = tmp_path_factory.mktemp("oci-s2") / "layout"
    index = make_index({"amd64": make_image({"s2.txt": b"amd\n"}, arch="amd64"),
                        "arm64": make_image({"s2.txt": b"arm\n"}, arch="arm64")})
    return write_layout(folder, {"v1": make_image({"s2.txt": b"one\n"}, layers=2), "multi": index})


def layers_of(folder, tag_index: int = 0) -> list[str]:
    """The layer digests of the tag_index-th image of an OCI layout."""
    entry = json.loads((folder / "index.json").read_text())["manifests"][tag_index]
    manifest = json.loads((folder / "blobs" / "sha256" / entry["digest"].split(":", 1)[1]).read_bytes())
    return [layer["digest"] for layer in manifest["layers"]]


def test_skopeo_v2s2_push_then_inspect_and_pull_back(site, layout, tmp_path):
    require_tool("skopeo")
    dest = f"docker://{site.host}/dk-s2/app"
    auth = ("--creds", f"{USER}:{PASSWORD}", "--tls-verify=false")
    ok(skopeo("copy", "--format", "v2s2", "--dest-creds", f"{USER}:{PASSWORD}", "--dest-tls-verify=false",
              f"oci:{layout}:v1", f"{dest}:v1"))
    ok(skopeo("copy", "--all", "--format", "v2s2", "--dest-creds", f"{USER}:{PASSWORD}", "--dest-tls-verify=false",
              f"oci:{layout}:multi", f"{dest}:multi"))

    raw = json.loads(ok(skopeo("inspect", "--raw", *auth, f"{dest}:v1")).stdout)
    assert raw["mediaType"] == DOCKER_MANIFEST and raw["config"]["mediaType"] == DOCKER_CONFIG
    assert [layer["mediaType"] for layer in raw["layers"]] == [DOCKER_LAYER] * 2
    # the layers are the OCI layout's gzip bytes, only relabelled
    assert [layer["digest"] for layer in raw["layers"]] == layers_of(layout, 0)
    raw_list = json.loads(ok(skopeo("inspect", "--raw", *auth, f"{dest}:multi")).stdout)
    assert raw_list["mediaType"] == DOCKER_LIST
    assert [m["mediaType"] for m in raw_list["manifests"]] == [DOCKER_MANIFEST] * 2
    assert [m["platform"]["architecture"] for m in raw_list["manifests"]] == ["amd64", "arm64"]

    # the HTTP view of the same manifest: stored type and the digest of the exact bytes
    got = requests.get(f"{site.url}/v2/dk-s2/app/manifests/v1", headers={"Accept": ACCEPT_ALL},
                       auth=(USER, PASSWORD), timeout=30)
    assert got.status_code == 200 and got.headers["Content-Type"] == DOCKER_MANIFEST
    assert got.headers["Docker-Content-Digest"] == digest(got.content) and json.loads(got.content) == raw

    # pull back: to an OCI layout (skopeo converts) and to dir: (which keeps the manifest verbatim)
    ok(skopeo("copy", "--src-creds", f"{USER}:{PASSWORD}", "--src-tls-verify=false", f"{dest}:v1",
              f"oci:{tmp_path}/back:v1"))
    assert layers_of(tmp_path / "back") == layers_of(layout, 0)
    ok(skopeo("copy", "--src-creds", f"{USER}:{PASSWORD}", "--src-tls-verify=false", f"{dest}:v1",
              f"dir:{tmp_path}/dir"))
    assert digest((tmp_path / "dir" / "manifest.json").read_bytes()) == got.headers["Docker-Content-Digest"]
    for layer_digest in layers_of(layout, 0):
        assert (tmp_path / "dir" / layer_digest.split(":", 1)[1]).exists()
    ok(skopeo("copy", "--all", "--src-creds", f"{USER}:{PASSWORD}", "--src-tls-verify=false", f"{dest}:multi",
              f"oci:{tmp_path}/multi:multi"))
    entry = json.loads((tmp_path / "multi" / "index.json").read_text())["manifests"][0]
    back_list = json.loads((tmp_path / "multi" / "blobs" / "sha256" / entry["digest"].split(":", 1)[1]).read_bytes())
    assert [m["platform"]["architecture"] for m in back_list["manifests"]] == ["amd64", "arm64"]
    for child in back_list["manifests"]:  # every architecture's manifest came back with it
        assert (tmp_path / "multi" / "blobs" / "sha256" / child["digest"].split(":", 1)[1]).exists()

    packages = site.api("GET", "repositories/dk-s2/packages/").json()
    entries = packages["results"] if isinstance(packages, dict) else packages
    versions = next(p for p in entries if p["name"] == "app")["versions"]
    multi = next(v for v in versions if "multi" in v["tags"])
    assert multi["media_type"] == DOCKER_LIST
    assert [p["architecture"] for p in multi["platforms"]] == ["amd64", "arm64"]
    v1 = next(v for v in versions if "v1" in v["tags"])
    assert v1["media_type"] == DOCKER_MANIFEST and v1["layers"] == 2
    assert v1["size"] == len(got.content) + raw["config"]["size"] + sum(layer["size"] for layer in raw["layers"])


def big_image() -> Image:
    """A docker image whose one layer is 5 MiB (its bytes need not be a real tarball here)."""
    big = os.urandom(5 * 1024 * 1024)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    doc = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": descriptor(DOCKER_CONFIG, config),
           "layers": [descriptor(DOCKER_LAYER, big)]}
    return Image(json.dumps(doc).encode(), {digest(config): config, digest(big): big}, media_type=DOCKER_MANIFEST)


def all_at_once(n: int, fetch) -> list:
    """Run fetch() in n threads released together; [(start, end, result)] in thread order."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        barrier.wait()
        start = time.monotonic()
        try:
            value = fetch()
        except Exception as exc:  # reported by the assertion below, not lost in a thread
            value = exc
        results[i] = (start, time.monotonic(), value)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def test_concurrent_pullers_cause_one_upstream_fetch(site):
    # 5 MiB in 64 KiB pieces, 10 ms apart (~0.8 s), and manifests after 0.5 s: every puller
    # arrives while the first one's upstream request is still running.
    upstream = FakeRegistry(piece=64 * 1024, piece_delay=0.01, manifest_delay=0.5)
    try:
        image = big_image()
        layer_digest = list(image.blobs)[1]
        upstream.add("team/big", image, "v1")
        site.create_repo("dk-s2-proxy", "docker", kind="remote", upstream_url=upstream.url, metadata_ttl=600)
        # one registry token for every puller: Basic would run the password hasher on each request
        scope = {"service": "packyard", "scope": "repository:dk-s2-proxy/team/big:pull"}
        token = requests.get(f"{site.url}/v2/token", params=scope, auth=site.admin, timeout=30).json()["token"]
        headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT_ALL}
        base = f"{site.url}/v2/dk-s2-proxy/team/big"
        n = 6

        def pull(path):
            with requests.get(f"{base}/{path}", headers=headers, timeout=120) as response:
                return response.status_code, response.headers.get("Docker-Content-Digest"), response.content

        manifests = all_at_once(n, lambda: pull("manifests/v1"))
        for _, _, result in manifests:
            assert not isinstance(result, Exception), result
            status, content_digest, body = result
            assert status == 200 and content_digest == image.digest and body == image.manifest
        assert max(s for s, _, _ in manifests) < min(e for _, e, _ in manifests), "the pulls did not overlap"
        assert upstream.count("/v2/team/big/manifests/v1") == 1
        # a later pull within the TTL does not ask upstream either
        assert pull("manifests/v1")[1] == image.digest and upstream.count("/v2/team/big/manifests/v1") == 1

        blobs = all_at_once(n, lambda: pull(f"blobs/{layer_digest}"))
        for _, _, result in blobs:
            assert not isinstance(result, Exception), result
            status, content_digest, body = result
            assert status == 200 and content_digest == layer_digest
            assert len(body) == 5 * 1024 * 1024 and "sha256:" + hashlib.sha256(body).hexdigest() == layer_digest
        assert max(s for s, _, _ in blobs) < min(e for _, e, _ in blobs), "the pulls did not overlap"
        assert upstream.count(f"/v2/team/big/blobs/{layer_digest}") == 1
        assert upstream.count(f"/v2/team/big/blobs/{layer_digest}", "HEAD") == 0
    finally:
        upstream.stop()
