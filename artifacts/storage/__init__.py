"""Blob storage backends behind one narrow interface; `get_storage()` returns the configured one.

Layout (both backends):

    <root>/sha256/
        ab/                 first two hex digits
            cd/             next two
                abcd12...   the blob, named by its full sha256
"""
from __future__ import annotations

import functools
from urllib.parse import urlparse

from django.conf import settings

from .base import BlobStorage


def key_for(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def storage_from_url(url: str, endpoint_url: str | None = None) -> BlobStorage:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        from .filesystem import FilesystemStorage

        return FilesystemStorage(parsed.path)
    if parsed.scheme == "s3":
        from .s3 import S3Storage

        return S3Storage(bucket=parsed.netloc, prefix=parsed.path.strip("/"), endpoint_url=endpoint_url)
    raise ValueError(f"unsupported PACKYARD_STORAGE_URL scheme: {parsed.scheme!r}")


@functools.cache
def get_storage() -> BlobStorage:
    return storage_from_url(settings.PACKYARD_STORAGE_URL, settings.PACKYARD_S3_ENDPOINT_URL)


__all__ = ["BlobStorage", "get_storage", "key_for", "storage_from_url"]
