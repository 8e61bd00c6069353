"""The storage interface: a backend knows keys and bytes, nothing about packages or repositories."""
from __future__ import annotations

from typing import BinaryIO, Iterator


class BlobStorage:
    """What the blob store needs from a place to keep bytes. Keys are relative paths."""

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def size(self, key: str) -> int:
        raise NotImplementedError

    def open(self, key: str) -> BinaryIO:
        """A readable binary file (seekable on local backends); the caller closes it."""
        raise NotImplementedError

    def save_file(self, key: str, local_path: str) -> None:
        """Commit a finished local file under `key` atomically: readers see all of it or nothing.

        The local file may be moved (not copied) into place.
        """
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""
        raise NotImplementedError

    def keys(self, prefix: str = "") -> Iterator[str]:
        raise NotImplementedError

    def local_path(self, key: str) -> str | None:
        """A path on this machine for zero-copy serving, or None when the bytes live elsewhere."""
        return None

    def url_for(self, key: str, filename: str | None = None, expires: int = 300) -> str | None:
        """A time-limited URL the client can fetch directly (S3 presigned), or None."""
        return None
