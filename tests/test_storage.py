"""One conformance suite for every blob storage backend, plus ingest and serving end to end on S3.

S3 is a real moto server on 127.0.0.1 (no in-process mocking), so presigned URLs are fetched
over HTTP exactly as a client would.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import boto3
import pytest
import requests
from django.test import RequestFactory

from artifacts.ingest import stage_bytes
from artifacts.models import Blob
from artifacts.serve import serve_blob
from artifacts.storage import get_storage, key_for, storage_from_url
from artifacts.storage.filesystem import FilesystemStorage
from artifacts.storage.s3 import S3Storage

from .servers import free_port

KEY = "sha256/ab/cd/abcd" + "0" * 60


@pytest.fixture(scope="session")
def moto():
    """A moto S3 server for the session; yields its endpoint URL."""
    binary = shutil.which("moto_server") or os.path.join(os.path.dirname(sys.executable), "moto_server")
    port = free_port()
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {name: os.environ.get(name) for name in creds}
    os.environ.update(creds)
    process = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(endpoint + "/moto-api/", timeout=1)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)
    yield endpoint
    process.terminate()
    process.wait(timeout=10)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def new_bucket(endpoint: str) -> str:
    name = f"packyard-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["filesystem", "s3"])
def storage(request, tmp_path):
    if request.param == "filesystem":
        return FilesystemStorage(str(tmp_path / "blobs"))
    endpoint = request.getfixturevalue("moto")
    return S3Storage(bucket=new_bucket(endpoint), prefix="some/prefix", endpoint_url=endpoint)


def put(storage, key: str, data: bytes, tmp_path) -> str:
    local = tmp_path / f"upload-{uuid.uuid4().hex}"
    local.write_bytes(data)
    storage.save_file(key, str(local))
    return str(local)


def test_save_file_moves_the_file_in(storage, tmp_path):
    local = put(storage, KEY, b"hello blob", tmp_path)
    assert not os.path.exists(local), "save_file moves the temp file, it does not copy it"
    assert storage.exists(KEY)
    assert storage.size(KEY) == 10
    with storage.open(KEY) as fh:
        assert fh.read() == b"hello blob"


def test_save_file_replaces_whole(storage, tmp_path):
    put(storage, KEY, b"first version, longer", tmp_path)
    put(storage, KEY, b"second", tmp_path)
    with storage.open(KEY) as fh:
        assert fh.read() == b"second"


def test_open_reads_in_chunks(storage, tmp_path):
    data = os.urandom(300_000)
    put(storage, KEY, data, tmp_path)
    with storage.open(KEY) as fh:
        parts = []
        while chunk := fh.read(65536):
            assert len(chunk) <= 65536
            parts.append(chunk)
    assert b"".join(parts) == data


def test_missing_key(storage):
    assert not storage.exists(KEY)
    with pytest.raises(FileNotFoundError):
        storage.size(KEY)
    with pytest.raises(FileNotFoundError):
        storage.open(KEY)
    storage.delete(KEY)  # a missing key is not an error


def test_delete(storage, tmp_path):
    put(storage, KEY, b"x", tmp_path)
    storage.delete(KEY)
    assert not storage.exists(KEY)
    assert list(storage.keys()) == []


def test_keys_lists_relative_keys(storage, tmp_path):
    other = "sha256/ef/01/ef01" + "1" * 60
    put(storage, KEY, b"a", tmp_path)
    put(storage, other, b"b", tmp_path)
    assert sorted(storage.keys()) == sorted([KEY, other])
    assert list(storage.keys("sha256/ef")) == [other]


def test_keys_cannot_escape(storage):
    with pytest.raises(ValueError):
        storage.exists("../outside")


def test_local_path_and_url(storage, tmp_path):
    put(storage, KEY, b"direct bytes", tmp_path)
    local = storage.local_path(KEY)
    if isinstance(storage, FilesystemStorage):
        assert open(local, "rb").read() == b"direct bytes"
        assert storage.url_for(KEY) is None
    else:
        assert local is None
        response = requests.get(storage.url_for(KEY, filename="pkg-1.0.tar.gz"), timeout=10)
        assert response.status_code == 200
        assert response.content == b"direct bytes"
        assert "pkg-1.0.tar.gz" in response.headers["Content-Disposition"]
        ranged = requests.get(storage.url_for(KEY), headers={"Range": "bytes=0-5"}, timeout=10)
        assert ranged.status_code == 206 and ranged.content == b"direct"


def test_storage_from_url(tmp_path, moto):
    assert isinstance(storage_from_url(f"file://{tmp_path}/b"), FilesystemStorage)
    s3 = storage_from_url("s3://bucket/a/b/", endpoint_url=moto)
    assert isinstance(s3, S3Storage) and s3.bucket_name == "bucket" and s3.prefix == "a/b"
    with pytest.raises(ValueError):
        storage_from_url("ftp://nowhere")


@pytest.fixture
def s3_settings(settings, moto):
    """Point the configured storage at a fresh bucket; get_storage() is cached, so reset it."""
    bucket = new_bucket(moto)
    settings.PACKYARD_STORAGE_URL = f"s3://{bucket}/blobs"
    settings.PACKYARD_S3_ENDPOINT_URL = moto
    get_storage.cache_clear()
    yield bucket
    get_storage.cache_clear()


@pytest.mark.django_db
def test_ingest_and_serve_on_s3(s3_settings, moto):
    data = b"wheel bytes " * 1000
    storage = get_storage()
    assert isinstance(storage, S3Storage)
    with stage_bytes(data) as staged:
        blob = staged.commit()
    with stage_bytes(data) as staged:
        assert staged.commit().pk == blob.pk
    assert Blob.objects.count() == 1
    objects = boto3.client("s3", endpoint_url=moto).list_objects_v2(Bucket=s3_settings)["Contents"]
    assert [o["Key"] for o in objects] == [f"blobs/{key_for(blob.sha256)}"]
    assert objects[0]["Size"] == len(data)

    response = serve_blob(RequestFactory().get("/x"), blob, filename="demo-1.0.whl")
    assert response.status_code == 302
    assert response["ETag"] == f'"{blob.sha256}"'
    fetched = requests.get(response["Location"], timeout=10)
    assert fetched.status_code == 200 and fetched.content == data
    assert "demo-1.0.whl" in fetched.headers["Content-Disposition"]


@pytest.mark.django_db
def test_head_on_s3_answers_itself_and_get_still_redirects(s3_settings):
    """HEAD of a blob on S3 is answered from the Blob row, never with a redirect: a presigned URL
    is signed for GET and real S3 answers a HEAD on it with 403 (moto does not check the method,
    so the test asserts on Packyard's answer), and docker/podman HEAD every blob before a push."""
    data = b"layer bytes " * 1000
    with stage_bytes(data) as staged:
        blob = staged.commit()
    factory = RequestFactory()

    head = serve_blob(factory.head("/x"), blob, extra_headers={"Docker-Content-Digest": f"sha256:{blob.sha256}"})
    assert head.status_code == 200 and not head.has_header("Location")
    assert head["Content-Length"] == str(len(data)) and head.content == b""
    assert head["ETag"] == f'"{blob.sha256}"' and head["Accept-Ranges"] == "bytes"
    assert head["Content-Type"] == "application/octet-stream"
    assert head["Docker-Content-Digest"] == f"sha256:{blob.sha256}"
    # The same Range handling as a local HEAD: 206 with Content-Range, 416 past the end.
    part = serve_blob(factory.head("/x", HTTP_RANGE="bytes=10-19"), blob)
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert part["Content-Length"] == "10"
    beyond = serve_blob(factory.head("/x", HTTP_RANGE=f"bytes={len(data)}-"), blob)
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(data)}"

    get = serve_blob(factory.get("/x"), blob)
    assert get.status_code == 302
    fetched = requests.get(get["Location"], timeout=10)
    assert fetched.status_code == 200 and fetched.content == data
