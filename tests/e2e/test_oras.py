"""End to end: the ORAS Python SDK (oras-py, pinned in the test extra) against `packyard serve`.

The ORAS CLI is a Go program that cannot be installed on the test machines, so these tests drive
oras-py, the ORAS project's own Python client, as a real client over HTTP through the Docker
token flow. They cover: login and a file artifact with an `artifactType`, manifest annotations
and a custom config media type, pushed and pulled back byte for byte, its stored manifest and
digest checked over the raw registry API; artifacts pushed with a `subject` and found through
the referrers API; tag listing; read-only, anonymous and `anonymous_read` access; and pulls and
pushes through a virtual repository.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import oras.auth  # first: importing oras.decorator (via oras.oci) first is a circular import in 0.2.43
import oras.client
import oras.defaults
import oras.oci
import pytest
import requests

PASSWORDS = {"or-alice": "oras-alice-pw-1", "or-bob": "oras-bob-pw-1"}
REPO, PUBLIC, VIRTUAL = "or-e2e", "or-public", "or-virtual"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REPORT_TYPE = "application/vnd.packyard.test.report.v1"
REPORT_CONFIG = "application/vnd.packyard.test.report.config.v1+json"
SBOM_CONFIG = "application/vnd.packyard.test.sbom.v1+json"
SIGNATURE_TYPE = "application/vnd.packyard.test.signature.v1"
SIGNATURE_CONFIG = "application/vnd.packyard.test.signature.config.v1+json"


@pytest.fixture(scope="module")
def site(packyard):
    for user, password in PASSWORDS.items():
        packyard.ensure_user(user, password)
    packyard.create_repo(REPO, "docker")
    packyard.grant(REPO, "deploy", user="or-alice")
    packyard.grant(REPO, "read", user="or-bob")
    packyard.create_repo(PUBLIC, "docker", anonymous_read=True)
    packyard.grant(PUBLIC, "deploy", user="or-alice")
    packyard.create_repo(VIRTUAL, "docker", kind="virtual", members=[REPO], deploy_to=REPO)
    packyard.grant(VIRTUAL, "read", user="or-bob")
    packyard.grant(VIRTUAL, "deploy", user="or-alice")
    packyard.host = f"127.0.0.1:{packyard.port}"
    return packyard


@pytest.fixture(autouse=True)
def workdir(tmp_path, monkeypatch):
    """oras-py reads and writes ~/.docker/config.json, so HOME is a fresh folder; and its push()
    refuses files outside the current directory, so each test works in its own."""
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


class RescopingTokenAuth(oras.auth.TokenAuth):
    """oras-py 0.2.43's TokenAuth, fixed to ask for a new token when the one it holds lacks a scope.

    oras-py keeps its first token for the whole session: a 401 with error="insufficient_scope"
    (the Docker token spec's answer to a token without the needed action, sent by distribution
    and by Packyard, CONTRACT.md) is retried with that same token. Its first token comes from
    the pull challenge of the HEAD it sends before each blob upload, so without this every push
    to a token-flow registry fails. docker, skopeo and oras-go fetch a token for the challenge's
    scope instead, which is what this does, through oras-py's own refresh path.
    """

    def authenticate_request(self, original, headers, refresh=False):
        challenge = original.headers.get("Www-Authenticate", "")
        return super().authenticate_request(original, headers,
                                            refresh=refresh or 'error="insufficient_scope"' in challenge)


def oras_client(site) -> oras.client.OrasClient:
    """An oras-py client for plain HTTP; `client.traffic` keeps every response it received."""
    client = oras.client.OrasClient(hostname=site.host, insecure=True)
    auth = RescopingTokenAuth()
    auth.session, auth.prefix, auth._tls_verify = client.session, client.prefix, client._tls_verify
    client.auth = auth
    client.traffic = []
    client.session.hooks["response"].append(lambda response, *args, **kwargs: client.traffic.append(response))
    return client


def login(site, user: str) -> tuple[oras.client.OrasClient, str]:
    """A client logged in as `user`, and the Docker config file its login wrote (not in HOME, so
    other clients of the test stay anonymous unless they load it).

    oras-py's login() only records the credentials, as `oras login` does in that file; Packyard
    first judges them at /v2/token. Wrong passwords are left to test_docker.py: oras-py 0.2.43
    answers a refused token request by retrying with backoff for over two minutes.
    """
    client = oras_client(site)
    config = str(Path.home().parent / f"{user}-config.json")
    assert client.login(user, PASSWORDS[user], hostname=site.host, config_path=config) == {"Status": "Login Succeeded"}
    return client, config


def push_file(client, target: str, name: str, content: bytes, **options) -> requests.Response:
    """oras-py's push() of one file (what `oras push TARGET FILE` does); the manifest PUT's response."""
    Path(name).write_bytes(content)
    response = client.push(target, files=[name], quiet=True, **options)
    assert response.status_code == 201, response.text
    return response


def push_artifact(client, target: str, name: str, content: bytes, artifact_type: str, config_media_type: str,
                  annotations: dict, subject: oras.oci.Subject | None = None) -> requests.Response:
    """`oras push --artifact-type`: oras-py 0.2.43's push() cannot set artifactType, so this builds
    the manifest from oras-py's own pieces (NewLayer, ManifestConfig, upload_blob, upload_manifest)."""
    container = client.get_container(target)
    Path(name).write_bytes(content)
    layer = oras.oci.NewLayer(name, media_type="text/plain")
    layer["annotations"] = {oras.defaults.annotation_title: name}
    assert client.upload_blob(name, container, layer).status_code == 201
    Path(f"{name}.config.json").write_bytes(b'{"generator": "packyard-e2e"}')
    config, config_path = oras.oci.ManifestConfig(f"{name}.config.json", config_media_type)
    assert client.upload_blob(config_path, container, config).status_code == 201
    manifest = oras.oci.NewManifest()
    manifest.update(artifactType=artifact_type, config=config, layers=[layer], annotations=annotations)
    if subject is not None:
        manifest["subject"] = asdict(subject)
    response = client.upload_manifest(manifest, container)
    assert response.status_code == 201, response.text
    return response


def pulled(client, target: str, folder: Path, **options) -> dict[str, bytes]:
    files = client.pull(target, outdir=str(folder), **options)
    return {Path(f).name: Path(f).read_bytes() for f in files}


def bearer(site, user: str, name: str) -> dict:
    """The Authorization header of a pull token from /v2/token, as a docker client obtains it."""
    r = requests.get(f"{site.url}/v2/token", params={"service": "packyard", "scope": f"repository:{name}:pull"},
                     auth=(user, PASSWORDS[user]), timeout=30)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def error_code(response: requests.Response) -> str:
    return response.json()["errors"][0]["code"]


def test_login_push_an_artifact_then_pull_it_and_read_its_manifest(site, tmp_path):
    alice, config = login(site, "or-alice")
    target = f"{site.host}/{REPO}/reports/build:1.0"
    report = b"tests: 42 passed\n"
    annotations = {"org.opencontainers.image.created": "2024-05-01T12:00:00Z", "com.example.build": "1234"}
    pushed = push_artifact(alice, target, "report.txt", report, REPORT_TYPE, REPORT_CONFIG, annotations)
    digest = pushed.headers["Docker-Content-Digest"]
    # the digest of the exact bytes oras-py sent: Packyard must not re-serialise a manifest
    assert digest == "sha256:" + hashlib.sha256(pushed.request.body).hexdigest()
    # the Docker token flow, not Basic on every request: a token for push, then Bearer requests
    tokens = [r for r in alice.traffic if r.request.path_url.startswith("/v2/token?")]
    assert any(r.status_code == 200 and "pull%2Cpush" in r.request.path_url for r in tokens)
    assert all(r.request.headers["Authorization"].startswith("Basic ") for r in tokens)
    registry = [r for r in alice.traffic if r.request.path_url.startswith(f"/v2/{REPO}/") and r.status_code < 300]
    assert registry and all(r.request.headers["Authorization"].startswith("Bearer ") for r in registry)

    # another client, as another `oras pull` process: its credentials come from login's file
    reader = oras_client(site)
    files = pulled(reader, target, tmp_path / "pulled", config_path=config)
    assert files == {"report.txt": report}

    r = requests.get(f"{site.url}/v2/{REPO}/reports/build/manifests/1.0",
                     headers={"Accept": OCI_MANIFEST, **bearer(site, "or-bob", f"{REPO}/reports/build")}, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"] == OCI_MANIFEST
    assert r.headers["Docker-Content-Digest"] == digest == "sha256:" + hashlib.sha256(r.content).hexdigest()
    manifest = r.json()
    assert manifest["artifactType"] == REPORT_TYPE and manifest["annotations"] == annotations
    assert manifest["config"]["mediaType"] == REPORT_CONFIG
    assert [layer["annotations"] for layer in manifest["layers"]] == [{"org.opencontainers.image.title": "report.txt"}]
    config_blob = requests.get(f"{site.url}/v2/{REPO}/reports/build/blobs/{manifest['config']['digest']}",
                               headers=bearer(site, "or-bob", f"{REPO}/reports/build"), timeout=30)
    assert config_blob.status_code == 200 and config_blob.content == b'{"generator": "packyard-e2e"}'


def test_referrers_of_artifacts_pushed_with_a_subject(site):
    alice, _ = login(site, "or-alice")
    image = f"{REPO}/signed/app"
    app = push_file(alice, f"{site.host}/{image}:1.0", "app.txt", b"the application\n")
    # oras-py's way to name a subject re-serialises the manifest it pulled: that only gives the
    # pushed digest if the registry serves the bytes it stored
    subject = oras.oci.Subject.from_manifest(alice.get_manifest(f"{site.host}/{image}:1.0"))
    assert subject.digest == app.headers["Docker-Content-Digest"]

    # no artifactType: the referrers API reports the config media type instead (OCI 1.1)
    Path("sbom-config.json").write_bytes(b"{}")
    sbom = push_file(alice, f"{site.host}/{image}:1.0-sbom", "sbom.json", b'{"packages": []}',
                     manifest_config=f"sbom-config.json:{SBOM_CONFIG}",
                     manifest_annotations={"com.example.kind": "sbom"}, subject=subject)
    # an artifactType of its own: reported rather than its config media type
    signature = push_artifact(alice, f"{site.host}/{image}:1.0-sig", "app.sig", b"signed\n", SIGNATURE_TYPE,
                              SIGNATURE_CONFIG, {"com.example.kind": "signature"}, subject=subject)
    for response in (sbom, signature):
        assert response.headers["OCI-Subject"] == subject.digest  # so clients skip the fallback tag

    def referrers(**params):
        r = requests.get(f"{site.url}/v2/{image}/referrers/{subject.digest}", params=params,
                         headers=bearer(site, "or-bob", image), timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/vnd.oci.image.index.v1+json"
        return r

    expected = {
        SBOM_CONFIG: {"mediaType": OCI_MANIFEST, "digest": sbom.headers["Docker-Content-Digest"],
                      "size": len(sbom.request.body), "artifactType": SBOM_CONFIG,
                      "annotations": {"com.example.kind": "sbom"}},
        SIGNATURE_TYPE: {"mediaType": OCI_MANIFEST, "digest": signature.headers["Docker-Content-Digest"],
                         "size": len(signature.request.body), "artifactType": SIGNATURE_TYPE,
                         "annotations": {"com.example.kind": "signature"}},
    }
    by_digest = sorted(referrers().json()["manifests"], key=lambda entry: entry["digest"])
    assert by_digest == sorted(expected.values(), key=lambda entry: entry["digest"])
    for artifact_type, entry in expected.items():
        filtered = referrers(artifactType=artifact_type)
        assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
        assert filtered.json()["manifests"] == [entry]
    # the referrer itself is an ordinary artifact oras-py pulls back
    assert json.loads(pulled(alice, f"{site.host}/{image}:1.0-sbom", Path("out"))["sbom.json"]) == {"packages": []}


def test_tags_listed_through_oras(site):
    alice, _ = login(site, "or-alice")
    bob, _ = login(site, "or-bob")
    image = f"{site.host}/{REPO}/tagged/tool"
    push_file(alice, f"{image}:v2", "tool.txt", b"two\n")
    push_file(alice, f"{image}:v10", "tool.txt", b"ten\n")
    push_file(alice, f"{site.host}/{REPO}/tagged/other:v1", "other.txt", b"other image\n")
    # lexical order, not push order; only this image's tags
    assert bob.get_tags(image) == ["v10", "v2"]
    assert bob.get_tags(image, N=1) == ["v10"]
    assert pulled(bob, f"{image}:v10", Path("ten")) == {"tool.txt": b"ten\n"}


def test_read_only_user_pulls_but_cannot_push(site):
    alice, _ = login(site, "or-alice")
    bob, _ = login(site, "or-bob")
    image = f"{site.host}/{REPO}/perm/app"
    push_file(alice, f"{image}:1.0", "app.txt", b"from alice\n")
    assert pulled(bob, f"{image}:1.0", Path("bob")) == {"app.txt": b"from alice\n"}

    with pytest.raises(ValueError) as refused:
        push_file(bob, f"{image}:bob", "app.txt", b"from bob\n")
    # denied for want of the role, after bob's credentials were accepted for a token
    assert "'code': 'DENIED'" in str(refused.value)
    token = [r for r in bob.traffic if r.request.path_url.startswith("/v2/token?") and "push" in r.request.path_url]
    assert token and token[-1].status_code == 200
    denied = bob.traffic[-1]
    assert denied.request.method == "POST" and denied.status_code == 401 and error_code(denied) == "DENIED"
    assert alice.get_tags(image) == ["1.0"]


def test_anonymous_pulls_only_where_anonymous_read_is_on(site):
    alice, _ = login(site, "or-alice")
    push_file(alice, f"{site.host}/{REPO}/anon/app:1.0", "app.txt", b"private\n")
    push_file(alice, f"{site.host}/{PUBLIC}/anon/app:1.0", "app.txt", b"public\n")

    anonymous = oras_client(site)
    with pytest.raises(ValueError, match="Unauthorized"):
        anonymous.pull(f"{site.host}/{REPO}/anon/app:1.0", outdir="private")
    last = anonymous.traffic[-1]
    assert "/manifests/1.0" in last.request.path_url and last.status_code == 401
    assert error_code(last) == "UNAUTHORIZED"
    assert not Path("private").exists()

    public = oras_client(site)
    assert pulled(public, f"{site.host}/{PUBLIC}/anon/app:1.0", Path("public")) == {"app.txt": b"public\n"}
    assert not any(r.request.path_url.startswith("/v2/token") for r in public.traffic)  # no login needed
    with pytest.raises(ValueError) as refused:
        push_file(public, f"{site.host}/{PUBLIC}/anon/app:anon", "app.txt", b"anonymous\n")
    assert "'code': 'UNAUTHORIZED'" in str(refused.value)
    assert alice.get_tags(f"{site.host}/{PUBLIC}/anon/app") == ["1.0"]


def test_pull_and_push_through_a_virtual_repository(site):
    alice, _ = login(site, "or-alice")
    bob, _ = login(site, "or-bob")
    local, through = f"{site.host}/{REPO}/virt/app", f"{site.host}/{VIRTUAL}/virt/app"
    push_file(alice, f"{local}:1.0", "app.txt", b"in the local member\n")

    assert pulled(bob, f"{through}:1.0", Path("virtual")) == {"app.txt": b"in the local member\n"}
    assert bob.get_manifest(f"{through}:1.0") == bob.get_manifest(f"{local}:1.0")
    assert bob.get_tags(through) == ["1.0"]

    # a push through the virtual lands in its deploy_to member
    push_file(alice, f"{through}:2.0", "app.txt", b"pushed through the virtual\n")
    assert bob.get_tags(local) == ["1.0", "2.0"]
    assert pulled(bob, f"{local}:2.0", Path("local")) == {"app.txt": b"pushed through the virtual\n"}
