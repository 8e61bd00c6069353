"""Reading what npm sends: bounded JSON bodies (gzip allowed), the publish attachment and its checks.

Bodies are read from the request stream with a byte limit (never through `request.body`, whose
DATA_UPLOAD_MAX_MEMORY_SIZE would refuse a big tarball before we can answer 413). The .tgz
attachment is decoded, staged with sha1/sha512 (npm's shasum and integrity), verified against
the document, and its `package/package.json` must name the same package and version.
"""
from __future__ import annotations

import base64
import binascii
import gzip
import io
import json
import tarfile
import zlib

from django.conf import settings

from formats.base import DigestMismatch, HttpError, TooLarge, stage_chunks

ALGORITHMS = ("sha256", "sha1", "sha512")
# Room for the document around the base64 tarball (a README can be long).
DOC_ALLOWANCE = 16 * 1024 * 1024
MANIFEST_LIMIT = 4 * 1024 * 1024


def publish_limit() -> int:
    return settings.PACKYARD_MAX_UPLOAD_BYTES * 4 // 3 + 4 + DOC_ALLOWANCE


def read_bytes(request, limit: int) -> bytes:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HttpError(400, "invalid Content-Length") from None
    if length > limit:
        raise HttpError(413, f"request body exceeds the {limit}-byte limit")
    data = bytearray()
    while True:
        chunk = request.read(1024 * 1024)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise HttpError(413, f"request body exceeds the {limit}-byte limit")
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(bytes(data))) as fh:
                data = fh.read(limit + 1)
        except (OSError, EOFError, zlib.error):
            raise HttpError(400, "malformed gzip body") from None
        if len(data) > limit:
            raise HttpError(413, f"request body exceeds the {limit}-byte limit")
    return bytes(data)


def read_json(request, limit: int):
    data = read_bytes(request, limit)
    try:
        return json.loads(data) if data.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise HttpError(400, "request body is not valid JSON") from None


def tgz_attachment(doc: dict) -> tuple[str, dict] | None:
    """The .tgz attachment (a --provenance publish also carries a .sigstore one), or None."""
    attachments = doc.get("_attachments")
    if not isinstance(attachments, dict):
        return None
    for key, value in attachments.items():
        if isinstance(key, str) and key.endswith(".tgz") and isinstance(value, dict):
            return key, value
    return None


def stage_attachment(attachment: dict):
    data = attachment.get("data")
    if not isinstance(data, str):
        raise HttpError(400, "the tarball attachment has no base64 data")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise HttpError(400, "the tarball attachment is not valid base64") from None
    length = attachment.get("length")
    if isinstance(length, int) and length != len(raw):
        raise HttpError(400, f"attachment length {length} does not match the {len(raw)} bytes sent")
    try:
        return stage_chunks([raw], max_bytes=settings.PACKYARD_MAX_UPLOAD_BYTES, algorithms=ALGORITHMS)
    except TooLarge as exc:
        raise HttpError(413, str(exc)) from None


def verify(staged, dist: dict) -> None:
    """dist.shasum (hex sha1) and every sha1/sha256/sha512 part of dist.integrity must match the bytes."""
    shasum, integrity = dist.get("shasum"), dist.get("integrity")
    if not shasum and not integrity:
        raise HttpError(400, "dist.shasum or dist.integrity is required")
    try:
        if shasum:
            staged.verify(sha1=str(shasum))
        for part in str(integrity or "").split():
            algo, _, value = part.partition("-")
            if algo not in ALGORITHMS:
                continue
            try:
                expected = base64.b64decode(value.split("?")[0], validate=True).hex()
            except (binascii.Error, ValueError):
                raise DigestMismatch(f"malformed integrity {part[:80]!r}") from None
            staged.verify(**{algo: expected})
    except DigestMismatch as exc:
        raise HttpError(400, f"tarball integrity check failed: {exc}") from None


def tarball_manifest(path: str) -> dict:
    """package.json from the tarball's top folder (npm packs into `package/`)."""
    try:
        with tarfile.open(path, mode="r:*") as tar:
            for member in tar:
                parts = member.name.lstrip("./").split("/")
                if len(parts) == 2 and parts[1] == "package.json" and member.isfile():
                    if member.size > MANIFEST_LIMIT:
                        raise HttpError(400, "package.json in the tarball is too large")
                    fh = tar.extractfile(member)
                    manifest = json.loads(fh.read()) if fh else None
                    if isinstance(manifest, dict):
                        return manifest
                    break
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError, UnicodeDecodeError):
        raise HttpError(400, "the attachment is not a readable .tgz with a package.json") from None
    raise HttpError(400, "the tarball has no package/package.json")
