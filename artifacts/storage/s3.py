"""Blobs in an S3 bucket through django-storages (boto3); served by presigned redirects.

django-storages gives us the client setup, endpoint/credential handling and presigning; uploads
go through boto3's managed transfer so large blobs stream in parts and never sit in memory.
"""
from __future__ import annotations

from typing import BinaryIO, Iterator

from storages.backends.s3 import S3Storage as _DjangoS3Storage

from .base import BlobStorage


class S3Storage(BlobStorage):
    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None):
        self.prefix = prefix
        self._s3 = _DjangoS3Storage(
            bucket_name=bucket,
            location=prefix,
            endpoint_url=endpoint_url,
            file_overwrite=True,
            default_acl=None,
            querystring_auth=True,
            querystring_expire=300,
        )
        self.bucket_name = bucket

    @property
    def _bucket(self):
        return self._s3.bucket

    def _full(self, key: str) -> str:
        if ".." in key.split("/"):
            raise ValueError(f"invalid key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def exists(self, key: str) -> bool:
        return self._s3.exists(key)

    def size(self, key: str) -> int:
        return self._s3.size(key)

    def open(self, key: str) -> BinaryIO:
        body = self._s3.connection.meta.client.get_object(Bucket=self.bucket_name, Key=self._full(key))["Body"]
        return _StreamingReader(body)

    def save_file(self, key: str, local_path: str) -> None:
        # S3 PUTs are atomic per object: readers see the old state or the whole new object.
        self._bucket.upload_file(local_path, self._full(key))
        import os

        os.unlink(local_path)

    def delete(self, key: str) -> None:
        self._s3.delete(key)

    def keys(self, prefix: str = "") -> Iterator[str]:
        start = self._full(prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        for obj in self._bucket.objects.filter(Prefix=start):
            yield obj.key[len(self.prefix) + 1:] if self.prefix else obj.key

    def url_for(self, key: str, filename: str | None = None, expires: int = 300) -> str | None:
        params = {"Bucket": self.bucket_name, "Key": self._full(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self._s3.connection.meta.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)


class _StreamingReader:
    """A file-like view of a boto3 streaming body (read/close, and iteration in chunks)."""

    def __init__(self, body):
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return self._body.read(None if size is None or size < 0 else size)

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self._body.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
