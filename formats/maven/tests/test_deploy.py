"""Deploying into a local repository the way mvn does: files, checksums, metadata, policies, refusals."""
from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

import pytest

from repositories.models import Asset, AuditEvent

from .conftest import basic

pytestmark = pytest.mark.django_db

JAR = b"PK\x03\x04 a jar"
POM = b"<project><modelVersion>4.0.0</modelVersion></project>"
BASE = "org/example/app"


@pytest.fixture
def repo(make_repo, alice):
    return make_repo("mvn-local", grants={alice: "deploy"})


def texts(response, tag):
    root = ET.fromstring(response.content)
    return [e.text for e in root.iter(tag)]


def deploy_release(put, version="1.0", repo="mvn-local"):
    for name, body in ((f"app-{version}.pom", POM), (f"app-{version}.jar", JAR + version.encode())):
        path = f"{BASE}/{version}/{name}"
        assert put(repo, path, body).status_code == 201
        assert put(repo, path + ".sha1", hashlib.sha1(body).hexdigest().encode()).status_code == 201
        assert put(repo, path + ".md5", hashlib.md5(body).hexdigest().encode()).status_code == 201
    assert put(repo, f"{BASE}/maven-metadata.xml", b"<metadata><groupId>x</groupId></metadata>").status_code == 201


def test_deploy_and_read_back_with_server_side_checksums(put, get, repo):
    deploy_release(put)
    response = get("mvn-local", f"{BASE}/1.0/app-1.0.jar")
    body = b"".join(response.streaming_content)
    assert response.status_code == 200 and body == JAR + b"1.0"
    assert response["X-Checksum-Sha1"] == hashlib.sha1(body).hexdigest()
    for algorithm in ("md5", "sha1", "sha256", "sha512"):
        digest = get("mvn-local", f"{BASE}/1.0/app-1.0.jar.{algorithm}")
        assert digest.status_code == 200 and digest.content.decode() == hashlib.new(algorithm, body).hexdigest()
    # only the files are stored: checksums are computed, uploaded metadata is replaced by generated
    assert sorted(Asset.objects.filter(repository=repo).values_list("path", flat=True)) == [
        f"{BASE}/1.0/app-1.0.jar", f"{BASE}/1.0/app-1.0.pom"]


def test_generated_artifact_metadata_and_its_checksum(put, get, repo):
    deploy_release(put, "1.0")
    deploy_release(put, "1.10")
    deploy_release(put, "1.9")
    put("mvn-local", f"{BASE}/2.0-SNAPSHOT/app-2.0-20240501.120000-1.jar", JAR)
    response = get("mvn-local", f"{BASE}/maven-metadata.xml")
    assert response.status_code == 200
    assert texts(response, "version") == ["1.0", "1.9", "1.10", "2.0-SNAPSHOT"]
    assert texts(response, "latest") == ["2.0-SNAPSHOT"] and texts(response, "release") == ["1.10"]
    assert texts(response, "groupId") == ["org.example"]
    sha1 = get("mvn-local", f"{BASE}/maven-metadata.xml.sha1").content.decode()
    assert sha1 == hashlib.sha1(response.content).hexdigest() == response["X-Checksum-Sha1"]
    again = get("mvn-local", f"{BASE}/maven-metadata.xml", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    deploy_release(put, "3.0")
    assert texts(get("mvn-local", f"{BASE}/maven-metadata.xml"), "release") == ["3.0"]


def test_timestamped_snapshots_get_snapshot_metadata(put, get, make_repo, alice):
    make_repo("mvn-snap", grants={alice: "deploy"}, maven={"version_policy": "snapshot"})
    folder = f"{BASE}/1.1-SNAPSHOT"
    for build, stamp in ((1, "20240501.120000"), (2, "20240502.130000")):
        for suffix in (".pom", ".jar", "-sources.jar"):
            assert put("mvn-snap", f"{folder}/app-1.1-{stamp}-{build}{suffix}", JAR + suffix.encode()).status_code == 201
        assert put("mvn-snap", f"{folder}/maven-metadata.xml", b"<metadata/>").status_code == 201
    put("mvn-snap", f"{folder}/app-1.1-20240502.130000-2.jar", JAR + b"rebuilt")  # snapshots stay overwritable
    response = get("mvn-snap", f"{folder}/maven-metadata.xml")
    assert response.status_code == 200
    assert texts(response, "timestamp") == ["20240502.130000"] and texts(response, "buildNumber") == ["2"]
    assert texts(response, "version") == ["1.1-SNAPSHOT"]
    entries = {(e.findtext("classifier") or "", e.findtext("extension")): e.findtext("value")
               for e in ET.fromstring(response.content).iter("snapshotVersion")}
    assert entries == {("", "pom"): "1.1-20240502.130000-2", ("", "jar"): "1.1-20240502.130000-2",
                       ("sources", "jar"): "1.1-20240502.130000-2"}
    assert get("mvn-snap", f"{folder}/maven-metadata.xml.md5").content.decode() == hashlib.md5(response.content).hexdigest()


def test_snapshot_cleanup_keeps_newest_builds(put, get, make_repo, alice):
    from formats.maven.tasks import cleanup_snapshots

    repo = make_repo("mvn-clean", grants={alice: "deploy"}, maven={"snapshot_keep": 2})
    folder = f"{BASE}/1.1-SNAPSHOT"
    for build in (1, 2, 3):
        put("mvn-clean", f"{folder}/app-1.1-20240501.12000{build}-{build}.jar", JAR)
        put("mvn-clean", f"{folder}/app-1.1-20240501.12000{build}-{build}.pom", POM)
    put("mvn-clean", f"{BASE}/1.0/app-1.0.jar", JAR)
    assert cleanup_snapshots() == 2
    left = sorted(Asset.objects.filter(repository=repo).values_list("path", flat=True))
    assert left == [f"{BASE}/1.0/app-1.0.jar"] + [f"{folder}/app-1.1-20240501.12000{b}-{b}.{e}" for b in (2, 3)
                                                  for e in ("jar", "pom")]
    assert texts(get("mvn-clean", f"{folder}/maven-metadata.xml"), "buildNumber") == ["3"]


def test_release_redeploy_refused_unless_allowed(put, get, repo, make_repo, alice):
    deploy_release(put)
    refused = put("mvn-local", f"{BASE}/1.0/app-1.0.jar", b"other bytes")
    assert refused.status_code == 409 and "cannot be redeployed" in refused.reason_phrase
    assert b"".join(get("mvn-local", f"{BASE}/1.0/app-1.0.jar").streaming_content) == JAR + b"1.0"
    make_repo("mvn-redeploy", grants={alice: "deploy"}, maven={"allow_redeploy": True})
    put("mvn-redeploy", f"{BASE}/1.0/app-1.0.jar", JAR)
    assert put("mvn-redeploy", f"{BASE}/1.0/app-1.0.jar", b"other").status_code == 201


@pytest.mark.parametrize("policy,path", [
    ("release", f"{BASE}/1.1-SNAPSHOT/app-1.1-20240501.120000-1.jar"),
    ("release", f"{BASE}/1.1-SNAPSHOT/maven-metadata.xml"),
    ("snapshot", f"{BASE}/1.0/app-1.0.jar"),
])
def test_version_policy(put, make_repo, alice, policy, path):
    make_repo("mvn-policy", grants={alice: "deploy"}, maven={"version_policy": policy})
    response = put("mvn-policy", path, b"<metadata/>")
    assert response.status_code == 400 and policy in response.reason_phrase.lower()
    assert not Asset.objects.filter(repository__name="mvn-policy").exists()


@pytest.mark.parametrize("path", [
    "org/example/app/1.0/other-1.0.jar", "org/example/../../etc/passwd/x-1.0.jar", "app-1.0.jar",
    "org/example/app/1.0/app-1.0", "org/example/app/1.0//app-1.0.jar",
])
def test_bad_paths_refused(put, repo, path):
    response = put("mvn-local", path, JAR)
    assert response.status_code == 400, response.content
    assert not Asset.objects.filter(repository=repo).exists()


def test_checksum_mismatch_and_bad_metadata_refused(put, repo):
    deploy_release(put)
    wrong = put("mvn-local", f"{BASE}/1.0/app-1.0.jar.sha1", b"0" * 40)
    assert wrong.status_code == 400 and "mismatch" in wrong.reason_phrase
    assert put("mvn-local", f"{BASE}/1.0/app-1.0.jar.sha256", b"not-hex").status_code == 400
    assert put("mvn-local", f"{BASE}/2.0/app-2.0.jar.sha1", b"0" * 40).status_code == 400
    for bad in (b"<metadata><unclosed>", b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><metadata/>'):
        assert put("mvn-local", f"{BASE}/maven-metadata.xml", bad).status_code == 400
    assert Asset.objects.filter(repository=repo).count() == 2
    assert AuditEvent.objects.filter(action="maven.deploy", outcome="invalid").count() >= 4


def test_auth_and_missing_files(client, put, get, repo, make_repo):
    anonymous = get("mvn-local", f"{BASE}/1.0/app-1.0.jar", user=None)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Basic realm=")
    assert put("mvn-local", f"{BASE}/1.0/app-1.0.jar", JAR, user=None).status_code == 401
    missing = get("mvn-local", f"{BASE}/9.9/app-9.9.jar")
    assert missing.status_code == 404 and missing["Content-Type"].startswith("text/plain")
    assert get("mvn-local", f"{BASE}/maven-metadata.xml").status_code == 404
    assert get("mvn-local", f"{BASE}/9.9/app-9.9.jar.sha1").status_code == 404
    remote = make_repo("mvn-proxy", kind="remote", upstream_url="http://127.0.0.1:9/", anonymous_read=True)
    assert put(remote.name, f"{BASE}/1.0/app-1.0.jar", JAR).status_code in (403, 405)
    options = client.options("/repository/mvn-local/", **basic("alice"))
    assert options.status_code == 200 and "DAV" not in options


def test_large_body_is_streamed_in_chunks(client, repo):
    # Chunked bodies under gunicorn are covered by tests/e2e/test_maven.py (the test client always sizes them).
    body = b"x" * (3 * 1024 * 1024 + 5)
    response = client.put(f"/repository/mvn-local/{BASE}/1.0/app-1.0.zip", data=body,
                          content_type="application/octet-stream", **basic("alice"))
    assert response.status_code == 201
    assert Asset.objects.get(repository=repo, path=f"{BASE}/1.0/app-1.0.zip").blob.size == len(body)


def test_upload_limit(put, repo, settings):
    settings.PACKYARD_MAX_UPLOAD_BYTES = 10
    assert put("mvn-local", f"{BASE}/1.0/app-1.0.jar", b"y" * 11).status_code == 413
    assert not Asset.objects.filter(repository=repo).exists()


def test_settings_packages_and_delete_via_api(client, put, repo, alice, django_user_model):
    deploy_release(put)
    put("mvn-local", f"{BASE}/1.1-SNAPSHOT/app-1.1-20240501.120000-1.jar", JAR)
    django_user_model.objects.create_superuser("root", password="pw-for-tests")
    listing = client.get("/api/v1/repositories/mvn-local/packages/", **basic("root")).json()
    entries = listing["results"] if isinstance(listing, dict) else listing
    assert [(p["name"], [v["version"] for v in p["versions"]]) for p in entries] == [
        ("org.example:app", ["1.0", "1.1-SNAPSHOT"])]
    deleted = client.delete("/api/v1/repositories/mvn-local/packages/org.example:app/1.0/", **basic("root"))
    assert deleted.status_code == 204
    assert not Asset.objects.filter(repository=repo, version="1.0").exists()
    bad = client.patch("/api/v1/repositories/mvn-local/", data={"maven": {"snapshot_keep": -1}},
                       content_type="application/json", **basic("root"))
    assert bad.status_code == 400
    good = client.patch("/api/v1/repositories/mvn-local/", data={"maven": {"snapshot_keep": 3}},
                        content_type="application/json", **basic("root"))
    assert good.status_code == 200 and good.json()["maven"] == {"version_policy": "mixed", "allow_redeploy": False,
                                                                  "snapshot_keep": 3}
