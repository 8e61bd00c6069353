"""DELETE on client URLs: a file, a version folder, an artifact folder; metadata follows; roles, refusals, audit."""
from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

import pytest

from artifacts.gc import collect
from repositories.models import Asset, AuditEvent, Blob

from .conftest import basic

pytestmark = pytest.mark.django_db

BASE = "org/example/app"
POM = b"<project><modelVersion>4.0.0</modelVersion></project>"


@pytest.fixture
def repo(make_repo, alice):
    return make_repo("mvn-del", grants={alice: "delete"})


@pytest.fixture
def delete(client):
    def send(repo: str, path: str, user: str | None = "alice"):
        return client.delete(f"/repository/{repo}/{path}", **(basic(user) if user else {}))

    return send


def jar(label: str) -> bytes:
    return b"PK\x03\x04 delete test " + label.encode()


def deploy(put, repo="mvn-del"):
    for version in ("1.0", "1.1"):
        assert put(repo, f"{BASE}/{version}/app-{version}.pom", POM + version.encode()).status_code == 201
        assert put(repo, f"{BASE}/{version}/app-{version}.jar", jar(version)).status_code == 201
    folder = f"{BASE}/2.0-SNAPSHOT"
    for build in (1, 2):
        stamp = f"20240501.12000{build}"
        for suffix in (".pom", ".jar"):
            body = jar(f"2.0-{build}{suffix}")
            assert put(repo, f"{folder}/app-2.0-{stamp}-{build}{suffix}", body).status_code == 201


def texts(response, tag):
    return [e.text for e in ET.fromstring(response.content).iter(tag)]


def paths(repo):
    return sorted(Asset.objects.filter(repository=repo).values_list("path", flat=True))


def test_delete_file_then_version_then_artifact(put, get, delete, repo):
    deploy(put)
    listing = get("mvn-del", f"{BASE}/maven-metadata.xml")
    assert texts(listing, "version") == ["1.0", "1.1", "2.0-SNAPSHOT"]

    # One file: gone with its computed checksums; the rest of the version stays.
    assert delete("mvn-del", f"{BASE}/1.0/app-1.0.jar").status_code == 204
    assert get("mvn-del", f"{BASE}/1.0/app-1.0.jar").status_code == 404
    assert get("mvn-del", f"{BASE}/1.0/app-1.0.jar.sha1").status_code == 404
    assert get("mvn-del", f"{BASE}/1.0/app-1.0.pom").status_code == 200
    assert delete("mvn-del", f"{BASE}/1.0/app-1.0.jar").status_code == 404
    event = AuditEvent.objects.filter(action="maven.delete", outcome="ok").get()
    assert (event.actor, event.repository, event.path) == ("alice", "mvn-del", f"{BASE}/1.0/app-1.0.jar")
    assert event.detail["files"] == 1 and event.detail["paths"] == [f"{BASE}/1.0/app-1.0.jar"]
    # The blob stays until garbage collection, which may then free it.
    digest = hashlib.sha256(jar("1.0")).hexdigest()
    assert Blob.objects.filter(pk=digest).exists()
    assert digest in collect(dry_run=True, grace_seconds=0).digests

    # A version folder: every file of it, and the artifact-level metadata drops the version
    # (the client's cached ETag no longer matches).
    assert delete("mvn-del", f"{BASE}/1.0/").status_code == 204
    assert not any(p.startswith(f"{BASE}/1.0/") for p in paths(repo))
    after = get("mvn-del", f"{BASE}/maven-metadata.xml", HTTP_IF_NONE_MATCH=listing["ETag"])
    assert after.status_code == 200 and texts(after, "version") == ["1.1", "2.0-SNAPSHOT"]
    assert get("mvn-del", f"{BASE}/maven-metadata.xml.sha1").content.decode() == hashlib.sha1(after.content).hexdigest()
    assert delete("mvn-del", f"{BASE}/1.0/").status_code == 404

    # One timestamped build: the SNAPSHOT-level metadata falls back to the previous build.
    snap = f"{BASE}/2.0-SNAPSHOT/maven-metadata.xml"
    assert texts(get("mvn-del", snap), "buildNumber") == ["2"]
    for suffix in (".pom", ".jar"):
        assert delete("mvn-del", f"{BASE}/2.0-SNAPSHOT/app-2.0-20240501.120002-2{suffix}").status_code == 204
    assert texts(get("mvn-del", snap), "buildNumber") == ["1"]
    assert set(texts(get("mvn-del", snap), "value")) == {"2.0-20240501.120001-1"}

    # A SNAPSHOT version folder named without the trailing slash.
    assert delete("mvn-del", f"{BASE}/2.0-SNAPSHOT").status_code == 204
    assert get("mvn-del", snap).status_code == 404
    left = get("mvn-del", f"{BASE}/maven-metadata.xml")
    assert texts(left, "version") == ["1.1"] and texts(left, "latest") == ["1.1"]

    # The whole artifact.
    assert delete("mvn-del", f"{BASE}/").status_code == 204
    assert paths(repo) == []
    assert get("mvn-del", f"{BASE}/maven-metadata.xml").status_code == 404
    assert delete("mvn-del", f"{BASE}/").status_code == 404
    whole = AuditEvent.objects.filter(action="maven.delete", outcome="ok", path=f"{BASE}/").get()
    assert whole.detail["files"] == 2 and whole.detail["paths"] == [f"{BASE}/1.1/app-1.1.jar", f"{BASE}/1.1/app-1.1.pom"]


def test_delete_needs_the_delete_role(put, delete, make_repo, alice, make_user):
    make_repo("mvn-del", grants={alice: "delete", make_user("bob"): "deploy"})
    assert put("mvn-del", f"{BASE}/1.0/app-1.0.jar", jar("1.0")).status_code == 201
    anonymous = delete("mvn-del", f"{BASE}/1.0/app-1.0.jar", user=None)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Basic")
    assert delete("mvn-del", f"{BASE}/1.0/app-1.0.jar", user="bob").status_code == 403
    assert delete("mvn-del", f"{BASE}/1.0/", user="bob").status_code == 403
    assert Asset.objects.filter(path=f"{BASE}/1.0/app-1.0.jar").exists()
    assert AuditEvent.objects.filter(action="maven.delete", outcome="denied").count() == 3
    assert not AuditEvent.objects.filter(action="maven.delete", outcome="ok").exists()


@pytest.mark.parametrize("path,status", [
    ("", 400),
    ("org/example/../../etc/passwd", 400),
    ("org/example/app/1.0//app-1.0.jar", 400),
    ("org/example/app/1.0/app 1.0.jar", 400),
    (f"{BASE}/1.0/app-1.0.jar.sha1", 405),  # computed from the jar: delete the jar
    (f"{BASE}/maven-metadata.xml", 405),  # generated from the files
    (f"{BASE}/maven-metadata.xml.md5", 405),
    (f"{BASE}/9.9/app-9.9.jar", 404),
    (f"{BASE}/9.9/app-9.9.jar.sha1", 404),
    ("org/other/lib/maven-metadata.xml", 404),
    ("org/other/", 404),
])
def test_delete_refusals(put, delete, repo, path, status):
    assert put("mvn-del", f"{BASE}/1.0/app-1.0.jar", jar("1.0")).status_code == 201
    response = delete("mvn-del", path)
    assert response.status_code == status, response.content
    if status == 405:
        assert "DELETE" not in response["Allow"] and "delete" in response.reason_phrase
    assert paths(repo) == [f"{BASE}/1.0/app-1.0.jar"]
    assert AuditEvent.objects.get(action="maven.delete", outcome="invalid").detail["status"] == status


def test_delete_on_remote_is_405_and_through_virtual_goes_to_deploy_to(put, get, delete, make_repo, alice, client):
    local = make_repo("mvn-del", grants={alice: "delete"})
    remote = make_repo("mvn-del-remote", kind="remote", upstream_url="http://127.0.0.1:9/", grants={alice: "delete"})
    make_repo("mvn-del-group", kind="virtual", members=[local, remote], deploy_to=local, grants={alice: "delete"})
    make_repo("mvn-del-readonly", kind="virtual", members=[local], grants={alice: "delete"})
    assert put("mvn-del", f"{BASE}/1.0/app-1.0.jar", jar("1.0")).status_code == 201
    assert put("mvn-del", f"{BASE}/1.1/app-1.1.jar", jar("1.1")).status_code == 201

    refused = delete("mvn-del-remote", f"{BASE}/1.0/app-1.0.jar")
    assert refused.status_code == 405 and "DELETE" not in refused["Allow"]
    assert delete("mvn-del-readonly", f"{BASE}/1.0/app-1.0.jar").status_code == 400  # no deploy_to
    assert Asset.objects.filter(repository=local).count() == 2

    assert delete("mvn-del-group", f"{BASE}/1.0/").status_code == 204
    assert list(Asset.objects.filter(repository=local).values_list("path", flat=True)) == [f"{BASE}/1.1/app-1.1.jar"]
    assert texts(get("mvn-del-group", f"{BASE}/maven-metadata.xml"), "version") == ["1.1"]
    event = AuditEvent.objects.filter(action="maven.delete", outcome="ok").get()
    assert (event.repository, event.detail["via"]) == ("mvn-del", "mvn-del-group")
    options = client.options("/repository/mvn-del/", **basic("alice"))
    assert "DELETE" in options["Allow"]


def test_deleting_a_plugin_drops_its_prefix(put, get, delete, repo):
    group_md = "org/example/plugins/maven-metadata.xml"
    plugins = (b"<metadata><plugins>"
               b"<plugin><name>Foo</name><prefix>foo</prefix><artifactId>foo-maven-plugin</artifactId></plugin>"
               b"<plugin><name>Bar</name><prefix>bar</prefix><artifactId>bar-maven-plugin</artifactId></plugin>"
               b"</plugins></metadata>")
    assert put("mvn-del", group_md, plugins).status_code == 201
    for artifact in ("foo-maven-plugin", "bar-maven-plugin"):
        path = f"org/example/plugins/{artifact}/1.0/{artifact}-1.0.jar"
        assert put("mvn-del", path, jar(artifact)).status_code == 201
    assert texts(get("mvn-del", group_md), "prefix") == ["bar", "foo"]
    assert delete("mvn-del", "org/example/plugins/foo-maven-plugin/1.0/foo-maven-plugin-1.0.jar").status_code == 204
    assert texts(get("mvn-del", group_md), "prefix") == ["bar"]
    assert delete("mvn-del", "org/example/plugins/bar-maven-plugin/").status_code == 204
    assert get("mvn-del", group_md).status_code == 404
