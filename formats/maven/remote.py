"""A remote (proxy) member: files fetched once and kept, metadata through the upstream cache.

- A file is fetched on first request (`fetch_file`: single flight, negative cache for misses)
  and checked against the upstream's `<file>.sha1` when the upstream has one; the .sha1 itself
  goes through the metadata cache, so its miss is remembered like any other.
- maven-metadata.xml goes through `get_metadata`: metadata TTL, stale-while-revalidate,
  stale-if-error and a negative cache.
- Every kept file gets md5/sha1/sha256/sha512 in its Asset.meta, computed once from the bytes,
  so checksum requests and X-Checksum-* headers never re-read the blob.
"""
from __future__ import annotations

import hashlib
import re

from formats.base import (
    Asset, DigestMismatch, HttpError, UpstreamMissing, UpstreamUnavailable, fetch_file, get_metadata, open_blob,
    read_blob, upstream_url,
)

from . import layout

ALGORITHMS = ("md5", "sha1", "sha256", "sha512")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")


def upstream_sha1(member, path: str) -> str:
    """The upstream's published sha1 of `path`, or "" when it publishes none (or cannot say)."""
    try:
        cached = get_metadata(member, f"{path}.sha1", upstream_url(member, f"{path}.sha1"))
    except (UpstreamMissing, UpstreamUnavailable):
        return ""
    text = read_blob(cached.blob)[:1024].decode("ascii", errors="replace").strip().lower()
    first = text.split()[0] if text else ""
    return first if _SHA1.match(first) else ""


def fetch(member, path: str) -> Asset:
    """The member's kept Asset for `path`; raises UpstreamMissing / UpstreamUnavailable / HttpError(502)."""
    try:
        mp = layout.parse(path)
    except layout.BadPath:
        mp = None
    meta = {"kind": "file", "remote": True}
    package = version = ""
    if mp is not None and mp.kind == "file":
        package, version = mp.package, mp.version
        meta.update(classifier=mp.classifier, extension=mp.extension, timestamp=mp.timestamp, build=mp.build,
                    value=layout.snapshot_value(mp))
    sha1 = upstream_sha1(member, path)
    try:
        asset = fetch_file(member, path, upstream_url(member, path), expected={"sha1": sha1} if sha1 else None,
                           package=package, version=version, content_type=layout.content_type(path), meta=meta)
    except DigestMismatch as exc:
        raise HttpError(502, f"upstream file failed checksum verification: {exc}") from None
    return ensure_digests(asset)


def ensure_digests(asset: Asset) -> Asset:
    meta = asset.meta or {}
    if all(meta.get(name) for name in ALGORITHMS):
        return asset
    hashes = {name: hashlib.new(name) for name in ALGORITHMS}
    with open_blob(asset.blob) as fh:
        while chunk := fh.read(1024 * 1024):
            for h in hashes.values():
                h.update(chunk)
    meta = {**meta, **{name: h.hexdigest() for name, h in hashes.items()}}
    Asset.objects.filter(pk=asset.pk).update(meta=meta)
    asset.meta = meta
    return asset


def metadata_blob(member, path: str):
    """The upstream's maven-metadata.xml (cached); raises UpstreamMissing / UpstreamUnavailable."""
    return get_metadata(member, path, upstream_url(member, path)).blob
