"""Blobs as files under a root folder; commits are a rename, so they are atomic."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from .base import BlobStorage


class FilesystemStorage(BlobStorage):
    def __init__(self, root: str):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"key escapes the storage root: {key!r}")
        return path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def save_file(self, key: str, local_path: str) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(local_path, dest)
        except OSError:
            # Different file systems: copy beside the destination, then rename into place. The
            # staging name is unique so concurrent commits of one digest never share a file.
            fd, staging = tempfile.mkstemp(prefix=dest.name + ".", suffix=".partial", dir=dest.parent)
            os.close(fd)
            try:
                shutil.copyfile(local_path, staging)
                os.replace(staging, dest)
            except BaseException:
                os.unlink(staging)
                raise
            os.unlink(local_path)
        os.chmod(dest, 0o644)

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass

    def keys(self, prefix: str = "") -> Iterator[str]:
        base = self.root / prefix if prefix else self.root
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.endswith(".partial"):
                    continue
                yield os.path.relpath(os.path.join(dirpath, name), self.root)

    def local_path(self, key: str) -> str | None:
        return str(self._path(key))
