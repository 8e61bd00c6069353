"""End to end: skopeo and podman against `packyard serve` through the Docker token flow; the CNCF
registry (docker-registry) on 127.0.0.1 as the upstream of a pull-through cache.

Images are built by hand as OCI layouts (tests/ociimages.py): nothing comes from the network.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.ociimages import make_image, make_index, write_layout
from tests.servers import free_port, require_tool, stop_process, wait_for

PASSWORDS = {"dk-alice": "alice-pw-1", "dk-bob": "bob-pw-1"}


@pytest.fixture(autouse=True)
def _clients():
    require_tool("skopeo")


def skopeo(*args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": tempfile.mkdtemp(prefix="skopeo-home-")}
    env["REGISTRY_AUTH_FILE"] = os.path.join(env["HOME"], "auth.json")
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=timeout, env=env)


def creds(user: str) -> str:
    return f"{user}:{PASSWORDS[user]}"


class Podman:
    """podman with a private storage root, runroot, HOME and auth file (no daemon, no host state)."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="podman-"))
        for sub in ("root", "run", "home"):
            (self.dir / sub).mkdir()
        self.env = {**os.environ, "HOME": str(self.dir / "home"), "XDG_RUNTIME_DIR": str(self.dir / "run"),
                    "REGISTRY_AUTH_FILE": str(self.dir / "auth.json")}

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        cmd = ["podman", "--root", str(self.dir / "root"), "--runroot", str(self.dir / "run"), "--storage-driver",
               "vfs", "--cgroup-manager=cgroupfs", "--events-backend=file", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=self.env)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def site(packyard):
    for user, password in PASSWORDS.items():
        packyard.ensure_user(user, password)
    packyard.create_repo("dk-e2e", "docker")
    packyard.grant("dk-e2e", "delete", user="dk-alice")
    packyard.grant("dk-e2e", "read", user="dk-bob")
    packyard.host = f"127.0.0.1:{packyard.port}"
    return packyard


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    folder = tmp_path_factory.mktemp("oci") / "layout"
    index = make_index({"amd64": make_image(arch="amd64"), "arm64": make_image({"arm.txt": b"arm\n"}, arch="arm64")})
    return write_layout(folder, {"v1": make_image(layers=3), "v2": make_image({"two.txt": b"2\n"}), "multi": index})


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_skopeo_push_inspect_list_tags_copy_all_and_delete(site, layout, tmp_path):
    dest = f"docker://{site.host}/dk-e2e/tools/hello"
    ok(skopeo("copy", "--dest-creds", creds("dk-alice"), "--dest-tls-verify=false", f"oci:{layout}:v1", f"{dest}:v1"))
    ok(skopeo("copy", "--dest-creds", creds("dk-alice"), "--dest-tls-verify=false", f"oci:{layout}:v2", f"{dest}:v2"))
    ok(skopeo("copy", "--all", "--dest-creds", creds("dk-alice"), "--dest-tls-verify=false", f"oci:{layout}:multi",
              f"{dest}:multi"))
    info = json.loads(ok(skopeo("inspect", "--creds", creds("dk-bob"), "--tls-verify=false", f"{dest}:v1")).stdout)
    assert info["Architecture"] == "amd64" and len(info["Layers"]) == 3
    assert sorted(info["RepoTags"]) == ["multi", "v1", "v2"]
    raw = json.loads(ok(skopeo("inspect", "--raw", "--creds", creds("dk-bob"), "--tls-verify=false",
                               f"{dest}:multi")).stdout)
    assert [m["platform"]["architecture"] for m in raw["manifests"]] == ["amd64", "arm64"]
    tags = json.loads(ok(skopeo("list-tags", "--creds", creds("dk-bob"), "--tls-verify=false", dest)).stdout)
    assert tags["Tags"] == ["multi", "v1", "v2"]
    # pull everything back, every architecture, and compare the digests
    ok(skopeo("copy", "--all", "--src-creds", creds("dk-bob"), "--src-tls-verify=false", f"{dest}:multi",
              f"oci:{tmp_path}/back:multi"))
    back = json.loads((tmp_path / "back" / "index.json").read_text())["manifests"][0]["digest"]
    original = json.loads((layout / "index.json").read_text())["manifests"][2]["digest"]
    assert back == original
    packages = site.api("GET", "repositories/dk-e2e/packages/").json()
    entries = packages["results"] if isinstance(packages, dict) else packages
    hello = next(p for p in entries if p["name"] == "tools/hello")
    v1 = next(v for v in hello["versions"] if "v1" in v["tags"])
    assert v1["layers"] == 3 and v1["pushed_by"] == "dk-alice" and v1["platforms"][0]["architecture"] == "amd64"
    # bob only reads: skopeo delete is refused; alice deletes
    assert skopeo("delete", "--creds", creds("dk-bob"), "--tls-verify=false", f"{dest}:v2").returncode != 0
    ok(skopeo("delete", "--creds", creds("dk-alice"), "--tls-verify=false", f"{dest}:v2"))
    gone = skopeo("inspect", "--creds", creds("dk-bob"), "--tls-verify=false", f"{dest}:v2")
    assert gone.returncode != 0 and "manifest unknown" in gone.stderr


def test_permissions_through_the_token_flow(site, layout):
    dest = f"docker://{site.host}/dk-e2e/perm"
    ok(skopeo("copy", "--dest-creds", creds("dk-alice"), "--dest-tls-verify=false", f"oci:{layout}:v2", f"{dest}:v1"))
    anonymous = skopeo("inspect", "--tls-verify=false", f"{dest}:v1")
    assert anonymous.returncode != 0 and ("unauthorized" in anonymous.stderr or "denied" in anonymous.stderr)
    readonly = skopeo("copy", "--dest-creds", creds("dk-bob"), "--dest-tls-verify=false", f"oci:{layout}:v2",
                      f"{dest}:bob")
    assert readonly.returncode != 0 and ("denied" in readonly.stderr or "unauthorized" in readonly.stderr)
    wrong = skopeo("inspect", "--creds", "dk-bob:wrong", "--tls-verify=false", f"{dest}:v1")
    assert wrong.returncode != 0
    # the raw challenge a docker client sees first
    r = requests.get(f"{site.url}/v2/")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == (
        f'Bearer realm="{site.url}/v2/token",service="packyard"')


def test_podman_login_pull_and_push(site, layout):
    require_tool("podman")
    ok(skopeo("copy", "--dest-creds", creds("dk-alice"), "--dest-tls-verify=false", f"oci:{layout}:v1",
              f"docker://{site.host}/dk-e2e/pod:v1"))
    podman = Podman()
    try:
        failed = podman("login", "--tls-verify=false", "-u", "dk-alice", "-p", "not-it", site.host)
        assert failed.returncode != 0
        ok(podman("login", "--tls-verify=false", "-u", "dk-alice", "-p", PASSWORDS["dk-alice"], site.host))
        ok(podman("pull", "--tls-verify=false", f"{site.host}/dk-e2e/pod:v1"))
        ok(podman("tag", f"{site.host}/dk-e2e/pod:v1", f"{site.host}/dk-e2e/pod-copy:pushed"))
        ok(podman("push", "--tls-verify=false", f"{site.host}/dk-e2e/pod-copy:pushed"))
        assert "PATCH /v2/dk-e2e/pod-copy/blobs/uploads/" in site.log()  # podman streams its layers in PATCHes
        info = json.loads(ok(skopeo("inspect", "--creds", creds("dk-bob"), "--tls-verify=false",
                                    f"docker://{site.host}/dk-e2e/pod-copy:pushed")).stdout)
        assert info["Architecture"] == "amd64" and len(info["Layers"]) == 3
        ok(podman("logout", site.host))
        denied = podman("push", "--tls-verify=false", f"{site.host}/dk-e2e/pod-copy:pushed")
        assert denied.returncode != 0
    finally:
        podman.close()


class Registry:
    """The CNCF distribution registry on 127.0.0.1, storing in a temp folder."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="registry-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = self.dir / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {self.dir / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n")
        self.log = open(self.dir / "log", "wb")
        self.process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=self.log,
                                        stderr=subprocess.STDOUT)
        wait_for(self.url + "/v2/")

    def stop(self):
        stop_process(self.process, timeout=30)
        self.log.close()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def test_pull_through_cache_of_a_registry_and_virtual(site, layout, tmp_path):
    require_tool("docker-registry")
    upstream = Registry()
    try:
        up = f"docker://127.0.0.1:{upstream.port}/team/app"
        ok(skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"{up}:v1"))
        ok(skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{layout}:multi", f"{up}:multi"))
        site.create_repo("dk-hub", "docker", kind="remote", upstream_url=upstream.url, metadata_ttl=1)
        site.grant("dk-hub", "read", user="dk-bob")
        site.create_repo("dk-all", "docker", kind="virtual", members=["dk-e2e", "dk-hub"], deploy_to="dk-e2e")
        site.grant("dk-all", "deploy", user="dk-bob")
        cached = f"docker://{site.host}/dk-hub/team/app"
        ok(skopeo("copy", "--src-creds", creds("dk-bob"), "--src-tls-verify=false", f"{cached}:v1",
                  f"oci:{tmp_path}/one:v1"))
        ok(skopeo("copy", "--all", "--src-creds", creds("dk-bob"), "--src-tls-verify=false", f"{cached}:multi",
                  f"oci:{tmp_path}/multi:multi"))
        tags = json.loads(ok(skopeo("list-tags", "--creds", creds("dk-bob"), "--tls-verify=false", cached)).stdout)
        assert tags["Tags"] == ["multi", "v1"]
        # pushes to a proxy are refused
        push = skopeo("copy", "--dest-creds", creds("dk-alice"), "--dest-tls-verify=false", f"oci:{layout}:v2",
                      f"{cached}:mine")
        assert push.returncode != 0
        # through the virtual: reads from the cache, pushes land in dk-e2e
        ok(skopeo("inspect", "--creds", creds("dk-bob"), "--tls-verify=false", f"docker://{site.host}/dk-all/team/app:v1"))
        ok(skopeo("copy", "--dest-creds", creds("dk-bob"), "--dest-tls-verify=false", f"oci:{layout}:v2",
                  f"docker://{site.host}/dk-all/via/virtual:v2"))
        ok(skopeo("inspect", "--creds", creds("dk-alice"), "--tls-verify=false",
                  f"docker://{site.host}/dk-e2e/via/virtual:v2"))
        # the upstream goes away: the tag is past its TTL, yet cached content is still served
        upstream.stop()
        time.sleep(1.5)
        ok(skopeo("copy", "--src-creds", creds("dk-bob"), "--src-tls-verify=false", f"{cached}:v1",
                  f"oci:{tmp_path}/after:v1"))
        ok(skopeo("inspect", "--creds", creds("dk-bob"), "--tls-verify=false", f"{cached}:multi"))
        never = skopeo("inspect", "--creds", creds("dk-bob"), "--tls-verify=false", f"{cached}:never-fetched")
        assert never.returncode != 0
    finally:
        upstream.close()


def test_remote_answers_an_upstream_token_challenge_with_its_credentials(site, layout, tmp_path):
    """Packyard proxying Packyard: the upstream asks for a Bearer token, which the remote obtains
    with its upstream credentials (dk-bob may read dk-e2e, anonymous may not)."""
    ok(skopeo("copy", "--dest-creds", creds("dk-alice"), "--dest-tls-verify=false", f"oci:{layout}:v2",
              f"docker://{site.host}/dk-e2e/chain/app:v2"))
    site.create_repo("dk-chain", "docker", kind="remote", upstream_url=site.url, upstream_username="dk-bob",
                     upstream_password=PASSWORDS["dk-bob"])
    site.grant("dk-chain", "read", user="dk-alice")
    ok(skopeo("copy", "--src-creds", creds("dk-alice"), "--src-tls-verify=false",
              f"docker://{site.host}/dk-chain/dk-e2e/chain/app:v2", f"oci:{tmp_path}/chain:v2"))
    site.create_repo("dk-chain-anon", "docker", kind="remote", upstream_url=site.url)
    site.grant("dk-chain-anon", "read", user="dk-alice")
    refused = skopeo("inspect", "--creds", creds("dk-alice"), "--tls-verify=false",
                     f"docker://{site.host}/dk-chain-anon/dk-e2e/chain/app:v2")
    assert refused.returncode != 0
