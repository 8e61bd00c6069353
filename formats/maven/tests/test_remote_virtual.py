"""Remote (proxy) and virtual repositories over a real static upstream: fetch once, verify, merge, outages."""
from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

import pytest

from repositories.models import Asset

pytestmark = pytest.mark.django_db

BASE = "org/example/lib"
JAR = b"PK\x03\x04 upstream jar"


def upstream_metadata(versions, last="20200101000000") -> bytes:
    listed = "".join(f"<version>{v}</version>" for v in versions)
    return (f"<metadata><groupId>org.example</groupId><artifactId>lib</artifactId><versioning>"
            f"<latest>{versions[-1]}</latest><release>{versions[-1]}</release><versions>{listed}</versions>"
            f"<lastUpdated>{last}</lastUpdated></versioning></metadata>").encode()


@pytest.fixture
def remote(make_repo, alice, upstream):
    return make_repo("mvn-remote", kind="remote", upstream_url=upstream.url, metadata_ttl=3600,
                     stale_while_revalidate=False, grants={alice: "read"})


@pytest.fixture
def group(make_repo, alice, remote):
    local = make_repo("mvn-hosted", grants={alice: "deploy"})
    return make_repo("mvn-group", kind="virtual", members=[local, remote], deploy_to=local, grants={alice: "deploy"})


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_remote_fetches_once_and_verifies_sha1(get, remote, upstream):
    upstream.write(f"{BASE}/1.0/lib-1.0.jar", JAR)
    upstream.write(f"{BASE}/1.0/lib-1.0.jar.sha1", hashlib.sha1(JAR).hexdigest().encode() + b"  lib-1.0.jar\n")
    for _ in range(3):
        response = get("mvn-remote", f"{BASE}/1.0/lib-1.0.jar")
        assert response.status_code == 200 and body(response) == JAR
    assert upstream.hits("lib-1.0.jar") == 1
    assert get("mvn-remote", f"{BASE}/1.0/lib-1.0.jar.sha256").content.decode() == hashlib.sha256(JAR).hexdigest()
    upstream.write(f"{BASE}/2.0/lib-2.0.jar", JAR)
    upstream.write(f"{BASE}/2.0/lib-2.0.jar.sha1", b"0" * 40)
    assert get("mvn-remote", f"{BASE}/2.0/lib-2.0.jar").status_code == 502
    assert not Asset.objects.filter(path=f"{BASE}/2.0/lib-2.0.jar").exists()


def test_remote_misses_are_cached_and_outages_are_5xx(get, remote, upstream):
    for _ in range(3):
        assert get("mvn-remote", f"{BASE}/3.0/lib-3.0.pom").status_code == 404
    assert upstream.hits("lib-3.0.pom") == 1
    upstream.write(f"{BASE}/1.0/lib-1.0.pom", b"<project/>")
    upstream.write(f"{BASE}/maven-metadata.xml", upstream_metadata(["1.0"]))
    assert get("mvn-remote", f"{BASE}/1.0/lib-1.0.pom").status_code == 200
    assert get("mvn-remote", f"{BASE}/maven-metadata.xml").content == upstream_metadata(["1.0"])
    upstream.stop()
    assert get("mvn-remote", f"{BASE}/1.0/lib-1.0.pom").status_code == 200
    assert get("mvn-remote", f"{BASE}/maven-metadata.xml").status_code == 200
    assert get("mvn-remote", f"{BASE}/4.0/lib-4.0.pom").status_code == 502
    assert get("mvn-remote", "org/other/x/maven-metadata.xml").status_code == 502


def test_virtual_merges_metadata_and_first_member_wins(get, put, group, upstream):
    upstream.write(f"{BASE}/maven-metadata.xml", upstream_metadata(["0.9", "1.0"]))
    upstream.write(f"{BASE}/1.0/lib-1.0.jar", b"upstream bytes")
    assert put("mvn-group", f"{BASE}/1.0/lib-1.0.jar", JAR).status_code == 201
    assert put("mvn-group", f"{BASE}/2.0-SNAPSHOT/lib-2.0-20240101.000000-1.jar", JAR).status_code == 201
    assert body(get("mvn-group", f"{BASE}/1.0/lib-1.0.jar")) == JAR
    assert upstream.hits("lib-1.0.jar") == 0
    merged = get("mvn-group", f"{BASE}/maven-metadata.xml")
    assert merged.status_code == 200
    root = ET.fromstring(merged.content)
    assert [v.text for v in root.iter("version")] == ["0.9", "1.0", "2.0-SNAPSHOT"]
    assert root.findtext("versioning/latest") == "2.0-SNAPSHOT" and root.findtext("versioning/release") == "1.0"
    assert get("mvn-group", f"{BASE}/maven-metadata.xml.sha1").content.decode() == hashlib.sha1(merged.content).hexdigest()
    # A new deploy changes the merged document (and its ETag) at once.
    put("mvn-group", f"{BASE}/3.0/lib-3.0.jar", JAR)
    again = get("mvn-group", f"{BASE}/maven-metadata.xml", HTTP_IF_NONE_MATCH=merged["ETag"])
    assert again.status_code == 200 and b"<release>3.0</release>" in again.content


def test_virtual_reads_need_the_virtuals_grant(get, make_repo, remote):
    make_repo("mvn-closed", kind="virtual", members=[remote])
    assert get("mvn-closed", f"{BASE}/1.0/lib-1.0.jar").status_code == 403
    nobody = make_repo("mvn-nodeploy", kind="virtual", members=[remote], anonymous_read=True)
    assert nobody.deploy_to is None
