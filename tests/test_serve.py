"""serve_blob: ETag/304, HEAD, single byte ranges (206/416), and sendfile under real gunicorn.

No format serves blobs yet and production URLs stay untouched, so headers are checked with
RequestFactory and the sendfile path with gunicorn running this module's own tiny WSGI app
(`application` below, a URL that serves any blob in the folder named by PACKYARD_STORAGE_URL).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
import requests

from packyard.cli import _gunicorn_version

from .servers import ROOT, free_port, wait_for

DATA = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable


def _blob_view(request, sha256):
    from artifacts.models import Blob
    from artifacts.serve import serve_blob

    size = int(request.GET["size"])
    if "peer" in request.GET:
        # Stands in for a client on another host: every test client here is on loopback.
        request.META["REMOTE_ADDR"] = request.GET["peer"]
    return serve_blob(request, Blob(sha256=sha256, size=size), filename=request.GET.get("name"))


def _sendfile_bytes_view(request):
    from django.http import JsonResponse

    return JsonResponse({"bytes": sum(_SENDFILE_COUNTS)})


urlpatterns = []
_wsgi = None
_SENDFILE_COUNTS: list[int] = []


def _count_sendfile():
    """Wrap os.sendfile (which socket.sendfile uses) to prove the zero-copy path is taken."""
    real = os.sendfile

    def counting(out_fd, in_fd, offset, count, *args, **kwargs):
        sent = real(out_fd, in_fd, offset, count, *args, **kwargs)
        _SENDFILE_COUNTS.append(sent)
        return sent

    os.sendfile = counting


def application(environ, start_response):
    """gunicorn entry point: Django with this module as the URL conf."""
    global _wsgi, urlpatterns
    if _wsgi is None:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "packyard.settings")
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application
        from django.urls import path

        _count_sendfile()
        _wsgi = get_wsgi_application()
        settings.ROOT_URLCONF = __name__
        urlpatterns = [path("blob/<str:sha256>", _blob_view), path("sendfile-bytes", _sendfile_bytes_view)]
    return _wsgi(environ, start_response)


@pytest.fixture
def blob(settings, tmp_path):
    from artifacts.ingest import stage_bytes
    from artifacts.storage import get_storage

    settings.PACKYARD_STORAGE_URL = f"file://{tmp_path}/blobs"
    get_storage.cache_clear()
    with stage_bytes(DATA) as staged:
        yield staged.commit()
    get_storage.cache_clear()


def get(blob, method="get", **headers):
    from django.test import RequestFactory

    from artifacts.serve import serve_blob

    request = getattr(RequestFactory(), method)("/blob", headers=headers)
    return serve_blob(request, blob, content_type="application/x-test")


def body(response) -> bytes:
    try:
        return b"".join(response.streaming_content) if response.streaming else response.content
    finally:
        response.close()


@pytest.mark.django_db
def test_whole_file(blob):
    response = get(blob)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(DATA))
    assert response["ETag"] == f'"{hashlib.sha256(DATA).hexdigest()}"'
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "application/x-test"
    assert "Content-Disposition" not in response  # the blob's path on disk is not the client's business
    assert body(response) == DATA


@pytest.mark.django_db
def test_head_has_length_and_no_body(blob):
    response = get(blob, method="head")
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(DATA))
    assert body(response) == b""


@pytest.mark.django_db
@pytest.mark.parametrize("header", ['"{sha}"', 'W/"{sha}"', '"other", "{sha}"', "*"])
def test_if_none_match(blob, header):
    response = get(blob, If_None_Match=header.format(sha=blob.sha256))
    assert response.status_code == 304
    assert response["ETag"] == f'"{blob.sha256}"'
    assert body(response) == b""


@pytest.mark.django_db
def test_if_none_match_other_etag(blob):
    assert get(blob, If_None_Match='"nope"').status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("header, start, end", [
    ("bytes=0-9", 0, 9),
    ("bytes=-5", len(DATA) - 5, len(DATA) - 1),
    ("bytes=10-", 10, len(DATA) - 1),
    ("bytes=100-99999", 100, len(DATA) - 1),
    ("bytes=-99999", 0, len(DATA) - 1),
])
def test_range(blob, header, start, end):
    response = get(blob, Range=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response["Content-Length"] == str(end - start + 1)
    assert body(response) == DATA[start:end + 1]


@pytest.mark.django_db
def test_range_head(blob):
    response = get(blob, method="head", Range="bytes=0-9")
    assert response.status_code == 206
    assert response["Content-Length"] == "10"
    assert body(response) == b""


@pytest.mark.django_db
@pytest.mark.parametrize("header", [f"bytes={len(DATA)}-", "bytes=99999-100000", "bytes=-0"])
def test_unsatisfiable_range(blob, header):
    response = get(blob, Range=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-1", "bytes=abc", "bytes=-", "bytes=9-3"])
def test_malformed_or_multi_range_is_ignored(blob, header):
    response = get(blob, Range=header)
    assert response.status_code == 200
    assert body(response) == DATA


@pytest.mark.django_db
def test_empty_blob(settings, tmp_path):
    from artifacts.ingest import stage_bytes
    from artifacts.storage import get_storage

    settings.PACKYARD_STORAGE_URL = f"file://{tmp_path}/blobs"
    get_storage.cache_clear()
    with stage_bytes(b"") as staged:
        empty = staged.commit()
    response = get(empty)
    assert response.status_code == 200 and response["Content-Length"] == "0" and body(response) == b""
    assert get(empty, Range="bytes=-5").status_code == 416
    assert get(empty, Range="bytes=0-").status_code == 416
    get_storage.cache_clear()


@pytest.fixture
def gunicorn(blob, tmp_path):
    """This module's WSGI app under gunicorn (sendfile on, as in `packyard serve`)."""
    port = free_port()
    env = {**os.environ, "PACKYARD_STORAGE_URL": f"file://{tmp_path}/blobs"}
    log = tmp_path / "gunicorn.log"
    cmd = [sys.executable, "-m", "gunicorn", f"{__name__}:application", "--bind", f"127.0.0.1:{port}",
           "--worker-class", "gthread", "--threads", "2", "--workers", "1"]
    if _gunicorn_version() >= (27,):
        cmd.append("--no-control-socket")  # the default path is shared by every gunicorn of this user
    process = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for(base + "/sendfile-bytes", timeout=30)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{log.read_text()[-3000:]}") from None
        yield base
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.django_db
def test_sendfile_under_gunicorn(gunicorn, blob):
    def sendfile_bytes() -> int:
        return requests.get(gunicorn + "/sendfile-bytes", timeout=10).json()["bytes"]

    url = f"{gunicorn}/blob/{blob.sha256}?size={blob.size}&peer=203.0.113.7"
    whole = requests.get(url + "&name=pkg-1.0.tar.gz", timeout=10)
    assert whole.status_code == 200 and whole.content == DATA
    assert whole.headers["Content-Disposition"] == 'attachment; filename="pkg-1.0.tar.gz"'
    for header, start, end in [("bytes=0-9", 0, 9), ("bytes=-5", len(DATA) - 5, len(DATA) - 1),
                               ("bytes=10-", 10, len(DATA) - 1), ("bytes=300-555", 300, 555)]:
        sent_before = sendfile_bytes()
        part = requests.get(url, headers={"Range": header}, timeout=10)
        assert part.status_code == 206, header
        assert part.headers["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
        assert part.content == DATA[start:end + 1], header
        # One worker process, so the counter saw exactly this response go out zero-copy.
        assert sendfile_bytes() - sent_before == end - start + 1, header
    head = requests.head(url, timeout=10)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(DATA))
    assert requests.get(url, headers={"If-None-Match": whole.headers["ETag"]}, timeout=10).status_code == 304
    assert requests.get(url, headers={"Range": "bytes=99999-"}, timeout=10).status_code == 416


@pytest.mark.django_db
def test_a_client_on_this_host_gets_a_copy_not_sendfile(gunicorn, blob):
    """Loopback peers are written to from a buffer (artifacts.serve.peer_is_local says why)."""
    def sendfile_bytes() -> int:
        return requests.get(gunicorn + "/sendfile-bytes", timeout=10).json()["bytes"]

    url = f"{gunicorn}/blob/{blob.sha256}?size={blob.size}"
    sent_before = sendfile_bytes()
    whole = requests.get(url, timeout=10)
    assert whole.status_code == 200 and whole.content == DATA
    assert whole.headers["Content-Length"] == str(len(DATA))
    part = requests.get(url, headers={"Range": "bytes=300-555"}, timeout=10)
    assert part.status_code == 206 and part.content == DATA[300:556]
    assert sendfile_bytes() == sent_before


@pytest.mark.parametrize("address, local", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("", True),  # gunicorn on a Unix socket: the peer is on this host
    ("10.0.0.5", False), ("203.0.113.7", False), ("2001:db8::1", False), ("::ffff:10.0.0.5", False),
    ("fe80::1%eth0", False),
])
def test_peer_is_local(rf, address, local):
    from artifacts.serve import peer_is_local

    assert peer_is_local(rf.get("/", REMOTE_ADDR=address)) is local
