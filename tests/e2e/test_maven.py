"""End to end: the real mvn against `packyard serve`, every plugin and dependency through a virtual.

The virtual `m2-all` = [m2-releases (release policy), m2-snapshots (snapshot policy), m2-central
(a remote whose upstream is a static server over a copy of ~/.m2/repository)]. mvn runs with an
empty local repository each time, so everything it needs comes through Packyard.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile

import pytest
import requests

from tests.servers import StaticServer, require_tool

from .maven_projects import GROUP, consumer, copy_m2, library, mvn, settings_xml

USER, PASSWORD = "maven-alice", "maven-alice-pw"
GREETER = f"{GROUP.replace('.', '/')}/greeter"


@pytest.fixture(scope="module")
def site(packyard, tmp_path_factory):
    require_tool("mvn")
    upstream = StaticServer(copy_m2(tmp_path_factory.mktemp("upstream") / "repository"))
    packyard.ensure_user(USER, PASSWORD)
    packyard.create_repo("m2-central", "maven", kind="remote", upstream_url=upstream.url + "/")
    packyard.create_repo("m2-releases", "maven", maven={"version_policy": "release"})
    packyard.create_repo("m2-snapshots", "maven", maven={"version_policy": "snapshot"})
    packyard.create_repo("m2-all", "maven", kind="virtual", members=["m2-releases", "m2-snapshots", "m2-central"])
    for repo in ("m2-releases", "m2-snapshots"):
        packyard.grant(repo, "deploy", user=USER)
    packyard.grant("m2-all", "read", user=USER)
    work = tmp_path_factory.mktemp("maven-work")
    url = f"{packyard.url}/repository/"
    settings = settings_xml(work / "settings.xml", url + "m2-all/", {
        sid: (USER, PASSWORD) for sid in ("packyard", "releases", "snapshots")})
    yield {"server": packyard, "upstream": upstream, "work": work, "settings": settings,
           "releases": url + "m2-releases/", "snapshots": url + "m2-snapshots/"}
    upstream.stop()


def deploy(site, version: str, greeting: str = "hello", *extra: str):
    project = library(site["work"] / greeting, version, site["releases"], site["snapshots"], greeting)
    return mvn(project, site["settings"], "deploy", *extra)


def fetch(site, path: str) -> requests.Response:
    return requests.get(f"{site['server'].url}/repository/{path}", auth=(USER, PASSWORD), timeout=30)


def test_deploy_release_and_build_a_consumer(site):
    done = deploy(site, "1.0.0")
    assert done.returncode == 0, done.stdout + done.stderr
    meta = ET.fromstring(fetch(site, f"m2-releases/{GREETER}/maven-metadata.xml").content)
    assert meta.findtext("versioning/release") == "1.0.0"
    jar = fetch(site, f"m2-all/{GREETER}/1.0.0/greeter-1.0.0.jar")
    assert jar.status_code == 200 and jar.headers["X-Checksum-Sha1"]

    built = mvn(consumer(site["work"], "1.0.0"), site["settings"], "package")
    assert built.returncode == 0, built.stdout + built.stderr
    assert site["upstream"].hits, "plugins should have come from the upstream through Packyard"


def test_release_redeploy_and_wrong_policy_fail(site):
    again = deploy(site, "1.0.0", "hi")
    assert again.returncode != 0
    assert "409" in again.stdout + again.stderr, again.stdout + again.stderr

    to_snapshots = deploy(site, "1.2.0", "hey", f"-DaltDeploymentRepository=snapshots::{site['snapshots']}")
    assert to_snapshots.returncode != 0 and "400" in to_snapshots.stdout + to_snapshots.stderr, to_snapshots.stdout
    to_releases = deploy(site, "1.3.0-SNAPSHOT", "hoi", f"-DaltDeploymentRepository=releases::{site['releases']}")
    assert to_releases.returncode != 0 and "400" in to_releases.stdout + to_releases.stderr, to_releases.stdout
    listed = site["server"].api("GET", "repositories/m2-snapshots/packages/").json()
    entries = listed["results"] if isinstance(listed, dict) else listed
    assert all(v["version"] != "1.2.0" for p in entries for v in p["versions"])


def test_snapshot_deployed_twice_and_consumed(site):
    for greeting in ("snap-one", "snap-two"):
        done = deploy(site, "1.1.0-SNAPSHOT", greeting)
        assert done.returncode == 0, done.stdout + done.stderr
    meta = ET.fromstring(fetch(site, f"m2-all/{GREETER}/1.1.0-SNAPSHOT/maven-metadata.xml").content)
    assert meta.findtext("versioning/snapshot/buildNumber") == "2"
    value = {e.findtext("extension"): e.findtext("value") for e in meta.iter("snapshotVersion")}["jar"]
    assert value.endswith("-2")

    project = consumer(site["work"], "1.1.0-SNAPSHOT")
    local_repo = site["work"] / "snapshot-local"
    built = mvn(project, site["settings"], "package", local_repo=local_repo)
    assert built.returncode == 0, built.stdout + built.stderr
    jar = next((local_repo / GREETER / "1.1.0-SNAPSHOT").glob("greeter-1.1.0-*.jar"))
    with zipfile.ZipFile(jar) as zf:
        assert b"snap-two" in zf.read("org/example/e2e/Greeter.class")

    artifact = ET.fromstring(fetch(site, f"m2-all/{GREETER}/maven-metadata.xml").content)
    assert [v.text for v in artifact.iter("version")] == ["1.0.0", "1.1.0-SNAPSHOT"]
    assert artifact.findtext("versioning/release") == "1.0.0"


def test_build_works_with_the_upstream_stopped(site):
    site["upstream"].stop()
    built = mvn(consumer(site["work"] / "offline", "1.0.0"), site["settings"], "package")
    assert built.returncode == 0, built.stdout + built.stderr


def test_chunked_put_with_expect_continue(site):
    """What Maven's Apache transport sends: Expect: 100-continue, and a chunked body under gunicorn."""
    body = [b"PK\x03\x04", b"x" * 300_000, b"end"]
    url = f"{site['releases']}{GROUP.replace('.', '/')}/chunky/1.0/chunky-1.0.jar"
    response = requests.put(url, data=iter(body), auth=(USER, PASSWORD), timeout=30,
                            headers={"Expect": "100-continue", "Content-Type": "application/java-archive"})
    assert response.status_code == 201, response.text
    stored = fetch(site, f"m2-releases/{GROUP.replace('.', '/')}/chunky/1.0/chunky-1.0.jar")
    assert stored.content == b"".join(body)
    bad = requests.put(url.replace("chunky-1.0.jar", "../../etc/x-1.0.jar"), data=b"x", auth=(USER, PASSWORD), timeout=30)
    assert bad.status_code in (400, 404)
