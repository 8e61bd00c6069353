"""twine-shaped uploads: what is stored, and every way an upload is refused."""
from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from artifacts.ingest import read_blob
from repositories.models import Asset, AuditEvent

from .helpers import basic, build_sdist, build_wheel

pytestmark = pytest.mark.django_db


def test_wheel_upload_stores_file_and_core_metadata(local, upload):
    dist = build_wheel("Demo_Pkg", "1.0", requires_python=">=3.8")
    response = upload("py-local", dist)
    assert response.status_code == 200, response.content
    asset = Asset.objects.get(repository=local, path=f"files/demo-pkg/{dist.filename}")
    assert (asset.package, asset.version, asset.uploaded_by) == ("demo-pkg", "1.0", "alice")
    assert asset.blob.sha256 == dist.sha256
    assert asset.meta["requires_python"] == ">=3.8"
    assert asset.meta["yanked"] is False
    assert asset.meta["md5"] == hashlib.md5(dist.content).hexdigest()
    assert asset.meta["blake2b_256"] == hashlib.blake2b(dist.content, digest_size=32).hexdigest()
    core = Asset.objects.get(repository=local, path=f"files/demo-pkg/{dist.filename}.metadata")
    assert core.meta == {"kind": "core-metadata"}
    assert read_blob(core.blob) == dist.metadata
    assert asset.meta["core_metadata_sha256"] == hashlib.sha256(dist.metadata).hexdigest()
    event = AuditEvent.objects.filter(action="pypi.upload").first()
    assert (event.actor, event.repository, event.outcome) == ("alice", "py-local", "ok")


def test_sdist_upload_without_trailing_slash(local, upload):
    dist = build_sdist("demo", "2.0b1")
    response = upload("py-local", dist, url="/repository/py-local", md5_digest=None, blake2_256_digest=None)
    assert response.status_code == 200, response.content
    assert Asset.objects.filter(repository=local, package="demo", version="2.0b1").count() == 1


def test_requires_python_from_form_wins(local, upload):
    dist = build_wheel("demo", "1.0", requires_python=">=3.8")
    assert upload("py-local", dist, requires_python=">=3.10").status_code == 200
    assert Asset.objects.get(path=f"files/demo/{dist.filename}").meta["requires_python"] == ">=3.10"


def test_identical_reupload_is_ok_and_different_content_conflicts(local, upload):
    first = build_wheel("demo", "1.0")
    assert upload("py-local", first).status_code == 200
    assert upload("py-local", first).status_code == 200
    other = build_wheel("demo", "1.0", payload=b"# changed\n")
    assert other.filename == first.filename
    response = upload("py-local", other)
    assert response.status_code == 400
    assert "File already exists" in response.content.decode()
    assert "File already exists" in response.reason_phrase
    assert Asset.objects.get(path=f"files/demo/{first.filename}").blob.sha256 == first.sha256


@pytest.mark.parametrize("overrides, message", [
    ({"sha256_digest": "0" * 64}, "sha256 digest mismatch"),
    ({"md5_digest": "0" * 32}, "md5 digest mismatch"),
    ({"blake2_256_digest": "0" * 64}, "blake2b_256 digest mismatch"),
    ({"name": "other"}, "does not belong to project"),
    ({"version": "1.1"}, "does not match version"),
    ({"version": "not a version"}, "invalid version"),
    ({"filetype": "sdist"}, "does not match filetype"),
    ({"filetype": "bdist_egg"}, "unsupported filetype"),
    ({"name": "../x"}, "invalid project name"),
    ({"name": "a/b"}, "invalid project name"),
    ({":action": "submit"}, "unsupported :action"),
    ({":action": None}, "missing :action"),
    ({"content": None}, "missing file part"),
])
def test_invalid_uploads_are_400(local, upload, overrides, message):
    response = upload("py-local", build_wheel("demo", "1.0"), **overrides)
    assert response.status_code == 400, response.content
    assert message in response.content.decode()
    assert message in response.reason_phrase
    assert not Asset.objects.filter(repository=local).exists()
    assert AuditEvent.objects.filter(action="pypi.upload", outcome="invalid").exists()


def test_version_equality_is_pep440(local, upload):
    dist = build_wheel("demo", "1.0")
    assert upload("py-local", dist, version="1.0.0").status_code == 200


def test_file_name_with_path_segments_stays_inside_the_project(local, upload):
    dist = build_wheel("demo", "1.0")
    evil = SimpleUploadedFile("../../etc/" + dist.filename, dist.content)
    response = upload("py-local", dist, content=evil)
    # Django's multipart parser keeps only the last path segment; the file lands where it belongs.
    assert response.status_code in (200, 400)
    assert all(a.path.startswith("files/demo/") and ".." not in a.path for a in Asset.objects.all())


def test_bad_file_names_are_refused(local, upload):
    dist = build_wheel("demo", "1.0")
    for name in ("demo-1.0-py3-none-any .whl", "demo.whl", "-demo-1.0.tar.gz"):
        response = upload("py-local", dist, content=SimpleUploadedFile(name, dist.content))
        assert response.status_code == 400, name


def test_wheel_without_metadata_is_refused(local, upload):
    dist = build_wheel("demo", "1.0")
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("demo/__init__.py", b"")
    dist.content = buf.getvalue()
    response = upload("py-local", dist, md5_digest=None, blake2_256_digest=None)
    assert response.status_code == 400
    assert "METADATA" in response.content.decode()


def test_too_large_is_413(local, upload, settings):
    settings.PACKYARD_MAX_UPLOAD_BYTES = 100
    response = upload("py-local", build_wheel("demo", "1.0", payload=b"x" * 1000))
    assert response.status_code == 413
    assert not Asset.objects.exists()


def test_content_length_over_limit_is_413_before_reading(local, client, settings):
    from formats.pypi.upload import FORM_ALLOWANCE

    settings.PACKYARD_MAX_UPLOAD_BYTES = 100
    body = b"x" * (FORM_ALLOWANCE + 200)
    response = client.generic("POST", "/repository/py-local/", body,
                              content_type="multipart/form-data; boundary=zzz", **basic("alice"))
    assert response.status_code == 413


def test_malformed_multipart_is_400(local, client):
    response = client.generic("POST", "/repository/py-local/", b"--zzz\r\ngarbage",
                              content_type="multipart/form-data; boundary=", **basic("alice"))
    assert response.status_code == 400


def test_not_multipart_is_400(local, client):
    response = client.generic("POST", "/repository/py-local/", b"{}", content_type="application/json", **basic("alice"))
    assert response.status_code == 400


def test_anonymous_upload_is_401_with_challenge(make_repo, upload):
    make_repo("py-open", anonymous_read=True)
    response = upload("py-open", build_wheel("demo", "1.0"), auth={})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="packyard"'
    assert AuditEvent.objects.filter(action="pypi.upload", outcome="denied").exists()


def test_read_role_cannot_upload(make_repo, make_user, upload):
    bob = make_user("bob")
    make_repo("py-ro", grants={bob: "read"})
    response = upload("py-ro", build_wheel("demo", "1.0"), auth=basic("bob"))
    assert response.status_code == 403


def test_wrong_password_is_401(local, upload):
    response = upload("py-local", build_wheel("demo", "1.0"), auth=basic("alice", "nope"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")


def test_upload_to_remote_is_refused(make_repo, alice, upload):
    make_repo("py-remote", kind="remote", upstream_url="http://127.0.0.1:9/simple/", grants={alice: "deploy"})
    response = upload("py-remote", build_wheel("demo", "1.0"))
    assert response.status_code == 405
    assert "remote" in response.content.decode()


def test_get_on_upload_url_is_405(local, client):
    assert client.get("/repository/py-local/", **basic("alice")).status_code == 405
