"""Uploads in several PATCHes are hashed while they stream: the PUT reads the file again only when
a PATCH reached a process that had not seen the bytes before it (formats.docker.blobs._running)."""
from __future__ import annotations

import hashlib

import pytest

from artifacts import ingest
from artifacts.models import UploadSession
from formats.docker import blobs

from .conftest import basic

DATA = bytes(range(256)) * 300  # 76,800 bytes
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()
PIECES = [(0, 20000), (20000, 50000), (50000, len(DATA))]


@pytest.fixture
def reads(monkeypatch):
    """Counts how often the PUT re-reads an upload's file to hash it."""
    seen = []
    real = blobs.iter_file

    def counting(fh, *args, **kwargs):
        seen.append(fh.name)
        return real(fh, *args, **kwargs)

    monkeypatch.setattr(blobs, "iter_file", counting)
    assert real is ingest.iter_file
    return seen


def _upload(client, between=lambda: None):
    start = client.post("/v2/dk/app/blobs/uploads/", data=b"", content_type="application/octet-stream",
                        **basic("alice"))
    location = start["Location"].split("testserver", 1)[1]
    for first, end in PIECES:
        between()
        r = client.patch(location, data=DATA[first:end], content_type="application/octet-stream",
                         HTTP_CONTENT_RANGE=f"{first}-{end - 1}", **basic("alice"))
        assert r.status_code == 202 and r["Range"] == f"0-{end - 1}"
    session = UploadSession.objects.get(id=start["Docker-Upload-UUID"])
    return location, session


def test_every_patch_continues_the_hash(client, dk, reads):
    location, session = _upload(client)
    assert session.state["hashed"] == len(DATA)
    assert session.state["sha256"] == DIGEST.removeprefix("sha256:")
    done = client.put(f"{location}?digest={DIGEST}", data=b"", content_type="application/octet-stream",
                      **basic("alice"))
    assert done.status_code == 201 and done["Docker-Content-Digest"] == DIGEST
    assert reads == []  # the digest came from the streamed hash
    assert session.id not in blobs._RUNNING


def test_a_patch_on_another_worker_makes_the_put_read_the_file(client, dk, reads):
    # Emptying the table between PATCHes is what a PATCH arriving at another process sees.
    location, session = _upload(client, between=blobs._RUNNING.clear)
    assert session.state["hashed"] == PIECES[0][1]  # only the first PATCH hashed its bytes
    done = client.put(f"{location}?digest={DIGEST}", data=b"", content_type="application/octet-stream",
                      **basic("alice"))
    assert done.status_code == 201 and done["Docker-Content-Digest"] == DIGEST
    assert len(reads) == 1


def test_a_wrong_digest_is_caught_either_way(client, dk, reads):
    location, _ = _upload(client)
    wrong = client.put(f"{location}?digest=sha256:{'1' * 64}", data=b"", content_type="application/octet-stream",
                       **basic("alice"))
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["code"] == "DIGEST_INVALID"


def test_a_failed_patch_drops_the_running_hash(client, dk, reads, monkeypatch):
    start = client.post("/v2/dk/app/blobs/uploads/", data=b"", content_type="application/octet-stream",
                        **basic("alice"))
    location = start["Location"].split("testserver", 1)[1]
    client.patch(location, data=DATA[:20000], content_type="application/octet-stream",
                 HTTP_CONTENT_RANGE="0-19999", **basic("alice"))
    real = blobs.body_chunks

    def dropped(request):
        # The connection breaks after 10,000 bytes: the running hash has taken them, the file is
        # cut back, and that hash must not survive into the next PATCH.
        yield next(real(request))[:10000]
        raise blobs.DockerError(400, "BLOB_UPLOAD_INVALID", "connection lost")

    monkeypatch.setattr(blobs, "body_chunks", dropped)
    broken = client.patch(location, data=DATA[20000:50000], content_type="application/octet-stream",
                          HTTP_CONTENT_RANGE="20000-49999", **basic("alice"))
    assert broken.status_code == 400
    monkeypatch.setattr(blobs, "body_chunks", real)
    status = client.get(location, **basic("alice"))
    assert status["Range"] == "0-19999"
    r = client.patch(location, data=DATA[20000:], content_type="application/octet-stream",
                     HTTP_CONTENT_RANGE=f"20000-{len(DATA) - 1}", **basic("alice"))
    assert r.status_code == 202
    done = client.put(f"{location}?digest={DIGEST}", data=b"", content_type="application/octet-stream",
                      **basic("alice"))
    assert done.status_code == 201 and done["Docker-Content-Digest"] == DIGEST
    assert len(reads) == 1  # hashed again from the file, as the streamed hash was dropped
