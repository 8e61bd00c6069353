"""Stream bytes into the blob store: temp file -> hash while writing -> verify -> commit.

    staged = stage(stream, max_bytes=...)      # bytes on local disk, hashes known
    staged.verify(sha256=...)                  # raises DigestMismatch, nothing stored
    blob = staged.commit()                     # content-addressed, stored once, idempotent

A `Staged` file is a context manager: leaving the block without commit() removes the temp file,
so a failed or interrupted upload leaves nothing behind.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from typing import BinaryIO, Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .flush import FlushBehind
from .locks import named_lock
from .models import Blob
from .storage import get_storage, key_for

CHUNK = 1024 * 1024
DEFAULT_ALGORITHMS = ("sha256", "sha1", "md5", "blake2b_256")


class IngestError(Exception):
    """Bytes that cannot be accepted; `str(error)` is safe to show to the client."""


class DigestMismatch(IngestError):
    pass


class TooLarge(IngestError):
    pass


def _new_hash(name: str):
    if name == "blake2b_256":
        return hashlib.blake2b(digest_size=32)
    return hashlib.new(name)


class Staged:
    """A local temp file with its size and hex digests, waiting to be committed."""

    def __init__(self, path: str, size: int, hexdigests: dict[str, str]):
        self.path = path
        self.size = size
        self.hexdigests = hexdigests
        self.blob: Blob | None = None

    @property
    def sha256(self) -> str:
        return self.hexdigests["sha256"]

    def verify(self, **expected: str | None) -> None:
        """Compare each given digest (e.g. sha256=..., md5=...) with what was received."""
        for name, value in expected.items():
            if not value:
                continue
            actual = self.hexdigests.get(name)
            if actual is None:
                raise IngestError(f"unsupported digest {name}")
            if actual != value.strip().lower():
                raise DigestMismatch(f"{name} digest mismatch: expected {value}, received {actual}")

    def open(self) -> BinaryIO:
        return open(self.path, "rb")

    def commit(self) -> Blob:
        """Store the bytes under their sha256 (once, however often they arrive) and return the Blob."""
        if self.blob is not None:
            return self.blob
        storage = get_storage()
        key = key_for(self.sha256)
        now = timezone.now()
        # The lock keeps garbage collection of this digest (and other commits of it) from
        # interleaving. Bytes go in before the row, so a Blob row never names missing bytes
        # even when saving fails half-way.
        with named_lock(f"blob:{self.sha256}"):
            if not storage.exists(key):
                storage.save_file(key, self.path)
            with transaction.atomic():
                blob, created = Blob.objects.get_or_create(
                    sha256=self.sha256, defaults={"size": self.size, "created": now, "last_linked": now}
                )
                if not created:
                    Blob.objects.filter(pk=blob.pk).update(last_linked=now)
                    blob.last_linked = now
        self.discard()
        self.blob = blob
        return blob

    def discard(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.discard()


def temp_dir() -> str:
    path = settings.PACKYARD_HOME / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def stage_chunks(chunks: Iterable[bytes], max_bytes: int | None = None,
                 algorithms: Iterable[str] = DEFAULT_ALGORITHMS) -> Staged:
    """Write chunks to a temp file while hashing them; raise TooLarge past max_bytes."""
    limit = settings.PACKYARD_MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
    hashes = {name: _new_hash(name) for name in algorithms}
    hashes.setdefault("sha256", hashlib.sha256())
    fd, path = tempfile.mkstemp(prefix="ingest-", dir=temp_dir())
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            behind = FlushBehind(out.fileno())
            try:
                for chunk in chunks:
                    if not chunk:
                        continue
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(f"file exceeds the {limit}-byte upload limit")
                    for h in hashes.values():
                        h.update(chunk)
                    out.write(chunk)
                    behind.wrote(len(chunk))
            finally:
                behind.finish()  # before the file is closed, whatever happened
            # Durable before it can be renamed into the store and named by a database row.
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        os.unlink(path)
        raise
    return Staged(path, size, {name: h.hexdigest() for name, h in hashes.items()})


def iter_file(stream: BinaryIO, chunk_size: int = CHUNK):
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            return
        yield chunk


def stage(stream: BinaryIO, max_bytes: int | None = None, algorithms: Iterable[str] = DEFAULT_ALGORITHMS) -> Staged:
    return stage_chunks(iter_file(stream), max_bytes=max_bytes, algorithms=algorithms)


def stage_bytes(data: bytes) -> Staged:
    """For small generated documents (metadata): same path as any upload."""
    return stage_chunks([data], max_bytes=len(data) + 1)


def ingest(stream: BinaryIO, expected_sha256: str | None = None, max_bytes: int | None = None) -> Blob:
    with stage(stream, max_bytes=max_bytes) as staged:
        staged.verify(sha256=expected_sha256)
        return staged.commit()


def read_blob(blob: Blob) -> bytes:
    """Whole content of a small blob (metadata documents only, never packages)."""
    with get_storage().open(key_for(blob.sha256)) as fh:
        return fh.read()


def open_blob(blob: Blob) -> BinaryIO:
    return get_storage().open(key_for(blob.sha256))
