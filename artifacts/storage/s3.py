"""Blobs in an S3 bucket through django-storages (boto3); served by presigned redirects.

django-storages gives us the client setup and endpoint/credential handling (settings, then the
standard AWS_* environment). Everything that moves bytes goes straight to boto3 so nothing is
held whole in memory: uploads use the managed transfer (multipart for large files), and reads
wrap the streaming GET body instead of django-storages' File, which spools the object locally.
"""
from __future__ import annotations

import os
from typing import BinaryIO, Iterator

from botocore.exceptions import ClientError
from storages.backends.s3 import S3Storage as _DjangoS3Storage

from .base import BlobStorage

CHUNK = 1024 * 1024


def _is_missing(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


class S3Storage(BlobStorage):
    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None):
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self._s3 = _DjangoS3Storage(
            bucket_name=bucket,
            location=self.prefix,
            endpoint_url=endpoint_url,
            file_overwrite=True,
            default_acl=None,
            querystring_auth=True,
        )

    @property
    def _client(self):
        return self._s3.connection.meta.client

    def _full(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"invalid key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket_name, Key=self._full(key))
        except ClientError as error:
            if _is_missing(error):
                return False
            raise
        return True

    def size(self, key: str) -> int:
        try:
            return self._client.head_object(Bucket=self.bucket_name, Key=self._full(key))["ContentLength"]
        except ClientError as error:
            if _is_missing(error):
                raise FileNotFoundError(key) from error
            raise

    def open(self, key: str) -> BinaryIO:
        try:
            body = self._client.get_object(Bucket=self.bucket_name, Key=self._full(key))["Body"]
        except ClientError as error:
            if _is_missing(error):
                raise FileNotFoundError(key) from error
            raise
        return _StreamingReader(body)

    def save_file(self, key: str, local_path: str) -> None:
        # An S3 PUT (or a completed multipart upload) is atomic per object: readers see the old
        # state or the whole new object, never part of it.
        self._client.upload_file(local_path, self.bucket_name, self._full(key))
        os.unlink(local_path)

    def delete(self, key: str) -> None:
        # DeleteObject of a missing key succeeds, which is the interface's contract already.
        self._client.delete_object(Bucket=self.bucket_name, Key=self._full(key))

    def keys(self, prefix: str = "") -> Iterator[str]:
        root = f"{self.prefix}/" if self.prefix else ""
        start = root + prefix if prefix else root
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket_name, Prefix=start):
            for obj in page.get("Contents", []):
                yield obj["Key"][len(root):]

    def url_for(self, key: str, filename: str | None = None, expires: int = 300) -> str | None:
        params = {"Bucket": self.bucket_name, "Key": self._full(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{os.path.basename(filename)}"'
        return self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)


class _StreamingReader:
    """A read-only, non-seekable file over a boto3 streaming body; iterates in 1 MiB chunks."""

    def __init__(self, body):
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return self._body.read(None if size is None or size < 0 else size)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def __iter__(self):
        return self._body.iter_chunks(CHUNK)

    def close(self) -> None:
        self._body.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
