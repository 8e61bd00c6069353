"""Ingest: hash while writing, verify, commit once; failures leave nothing behind."""
from __future__ import annotations

import hashlib
import io
import os
import threading

import pytest
from django.conf import settings
from django.db import connection

from artifacts.ingest import DigestMismatch, IngestError, TooLarge, ingest, read_blob, stage, stage_bytes, stage_chunks
from artifacts.models import Blob
from artifacts.storage import get_storage, key_for


@pytest.fixture(autouse=True)
def _own_blob_root(blob_root):
    """Every test here counts or collects stored files: its own folder (root conftest)."""


def temp_files() -> list[str]:
    return sorted(name for name in os.listdir(settings.PACKYARD_HOME / "tmp") if name.startswith("ingest-"))


def stored_files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_digests_are_computed_while_writing():
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one chunk
    with stage(io.BytesIO(data)) as staged:
        assert staged.size == len(data)
        assert staged.hexdigests == {
            "sha256": hashlib.sha256(data).hexdigest(),
            "sha1": hashlib.sha1(data).hexdigest(),
            "md5": hashlib.md5(data).hexdigest(),
            "blake2b_256": hashlib.blake2b(data, digest_size=32).hexdigest(),
        }
        with staged.open() as fh:
            assert fh.read() == data
        staged.verify(sha256=hashlib.sha256(data).hexdigest().upper(), md5=hashlib.md5(data).hexdigest(), sha1=None)


def test_chunks_and_algorithm_choice():
    staged = stage_chunks([b"ab", b"", b"c"], algorithms=("md5",))
    with staged:
        assert set(staged.hexdigests) == {"md5", "sha256"}  # sha256 always: it names the blob
        assert staged.sha256 == hashlib.sha256(b"abc").hexdigest()
        with pytest.raises(IngestError):
            staged.verify(sha1="0" * 40)


@pytest.mark.django_db
def test_digest_mismatch_leaves_nothing(blob_root):
    before = temp_files()
    with pytest.raises(DigestMismatch):
        with stage(io.BytesIO(b"tampered")) as staged:
            staged.verify(sha256="0" * 64)
            staged.commit()
    assert temp_files() == before
    assert Blob.objects.count() == 0
    assert stored_files(blob_root) == []
    with pytest.raises(DigestMismatch):
        ingest(io.BytesIO(b"tampered"), expected_sha256="1" * 64)
    assert temp_files() == before and Blob.objects.count() == 0


@pytest.mark.django_db
def test_too_large_leaves_nothing(blob_root):
    before = temp_files()
    with pytest.raises(TooLarge):
        stage(io.BytesIO(b"x" * 101), max_bytes=100)
    assert temp_files() == before
    with stage(io.BytesIO(b"x" * 100), max_bytes=100) as staged:  # exactly the limit is fine
        assert staged.size == 100


@pytest.mark.django_db
def test_max_bytes_defaults_to_setting(settings):
    settings.PACKYARD_MAX_UPLOAD_BYTES = 10
    with pytest.raises(TooLarge):
        stage(io.BytesIO(b"x" * 11))


@pytest.mark.django_db
def test_identical_content_is_stored_once(blob_root):
    before = temp_files()
    first = ingest(io.BytesIO(b"same bytes"))
    again = ingest(io.BytesIO(b"same bytes"))
    assert first.pk == again.pk == hashlib.sha256(b"same bytes").hexdigest()
    assert again.last_linked >= first.last_linked
    assert Blob.objects.count() == 1
    assert stored_files(blob_root) == [key_for(first.sha256)]
    assert read_blob(first) == b"same bytes"
    assert temp_files() == before


@pytest.mark.django_db
def test_commit_is_idempotent_and_restores_lost_bytes(blob_root):
    with stage_bytes(b"doc") as staged:
        blob = staged.commit()
        assert staged.commit() is blob
    get_storage().delete(key_for(blob.sha256))
    with stage_bytes(b"doc") as staged:
        staged.commit()
    assert read_blob(blob) == b"doc"


@pytest.mark.django_db(transaction=True)
def test_concurrent_commits_of_the_same_content(blob_root):
    data = os.urandom(200_000)
    before = temp_files()
    staged = [stage_bytes(data) for _ in range(8)]
    barrier = threading.Barrier(len(staged))
    results, errors = [], []

    def commit(item):
        try:
            barrier.wait()
            results.append(item.commit().pk)
        except Exception as exc:  # reported below with the thread's own error
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=commit, args=(item,)) for item in staged]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert results == [hashlib.sha256(data).hexdigest()] * len(staged)
    assert Blob.objects.count() == 1
    assert stored_files(blob_root) == [key_for(results[0])]
    assert (blob_root / key_for(results[0])).read_bytes() == data
    assert temp_files() == before


def test_flush_behind_starts_one_background_flush_per_threshold(tmp_path):
    from artifacts.flush import FlushBehind

    with open(tmp_path / "upload", "wb") as out:
        behind = FlushBehind(out.fileno(), every=10)
        out.write(b"x" * 5)
        behind.wrote(5)
        assert behind.running is None  # below the threshold: nothing to flush yet
        out.write(b"x" * 6)
        behind.wrote(6)
        first = behind.running
        assert first is not None and behind.pending == 0
        first.result(timeout=10)
        out.write(b"x" * 10)
        behind.wrote(10)
        assert behind.running is not first
        behind.finish()
        assert behind.running is None
