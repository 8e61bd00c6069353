"""A remote (proxy) member: files fetched once and kept, metadata through the upstream cache.

- A release or timestamped SNAPSHOT file is fetched on first request (`fetch_file`: single
  flight, negative cache for misses) and kept for good: those names never change meaning.
- A non-unique SNAPSHOT file (`app-1.0-SNAPSHOT.jar`, layout.mutable) can be republished
  upstream under the same name, so it goes through `get_metadata` like maven-metadata.xml:
  served from the kept copy while younger than metadata_ttl, then rechecked (If-None-Match
  when the upstream sent an ETag; stale-while-revalidate when the remote allows it); an
  unreachable upstream keeps serving the kept copy (stale-if-error), an upstream that answers
  404 drops it (`revalidate`). The Asset follows the cache entry's blob, so checksums,
  X-Checksum-* headers and the packages listing describe the bytes being served.
- Every file is checked against the upstream's `<file>.sha1` when the upstream has one; the
  .sha1 itself goes through the metadata cache, so its miss is remembered like any other.
  A refreshed SNAPSHOT that fails the check is not served: the previous copy is, until both
  agree (mvn uploads the file before its .sha1, so a mismatch can be a moment's race).
- maven-metadata.xml goes through `get_metadata`: metadata TTL, stale-while-revalidate,
  stale-if-error and a negative cache.
- Every kept file gets md5/sha1/sha256/sha512 in its Asset.meta, computed once from the bytes,
  so checksum requests and X-Checksum-* headers never re-read the blob.
"""
from __future__ import annotations

import hashlib
import logging
import re

from django.core.cache import cache

from formats.base import (
    Asset, DigestMismatch, HttpError, UpstreamMissing, UpstreamUnavailable, fetch_file, get_metadata, open_blob,
    read_blob, upstream_url,
)

from . import layout

log = logging.getLogger("packyard.maven")

ALGORITHMS = ("md5", "sha1", "sha256", "sha512")
DIGEST_CACHE_SECONDS = 86400
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


def _parse(path: str):
    try:
        return layout.parse(path)
    except layout.BadPath:
        return None


def _file_fields(mp) -> dict:
    meta = {"kind": "file", "remote": True}
    package = version = ""
    if mp is not None and mp.kind == "file":
        package, version = mp.package, mp.version
        meta.update(classifier=mp.classifier, extension=mp.extension, timestamp=mp.timestamp, build=mp.build,
                    value=layout.snapshot_value(mp))
    return {"package": package, "version": version, "meta": meta}


def fetch(member, path: str) -> Asset:
    """The member's kept Asset for `path`; raises UpstreamMissing / UpstreamUnavailable / HttpError(502)."""
    mp = _parse(path)
    if layout.mutable(mp):
        return _current(member, path, mp, kept=None)
    fields = _file_fields(mp)
    sha1 = upstream_sha1(member, path)
    try:
        asset = fetch_file(member, path, upstream_url(member, path), expected={"sha1": sha1} if sha1 else None,
                           content_type=layout.content_type(path), **fields)
    except DigestMismatch as exc:
        raise HttpError(502, f"upstream file failed checksum verification: {exc}") from None
    return ensure_digests(asset)


def revalidate(member, path: str, kept: Asset) -> Asset | None:
    """`kept`, or what replaced it upstream, for a non-unique SNAPSHOT file the member already holds.

    No upstream request while the copy is younger than metadata_ttl. None when the upstream no
    longer has the file (the kept copy is dropped, so later members or a 404 answer); an
    unreachable upstream never costs the kept copy.
    """
    try:
        return _current(member, path, _parse(path), kept)
    except UpstreamMissing:
        return None


def _current(member, path: str, mp, kept: Asset | None) -> Asset:
    try:
        cached = get_metadata(member, path, upstream_url(member, path))
    except UpstreamMissing:
        if kept is not None:
            # The upstream removed it: mirror that, as for metadata. The blob waits for gc.
            Asset.objects.filter(pk=kept.pk).delete()
        raise
    except UpstreamUnavailable:
        if kept is not None:
            # Copies kept before they went through the metadata cache have no entry to fall back on.
            return kept
        raise
    if kept is not None and kept.blob_id == cached.blob.pk:
        return kept
    digests = _digests(cached.blob)
    sha1 = upstream_sha1(member, path)
    if sha1 and digests["sha1"] != sha1:
        if kept is not None:
            log.warning("%s: upstream %s does not match its .sha1 yet; serving the previous copy", member.name, path)
            return kept
        raise HttpError(502, f"upstream file failed checksum verification: sha1 is {digests['sha1']}, "
                             f"the upstream's {path}.sha1 says {sha1}")
    fields = _file_fields(mp)
    fields["meta"].update(digests)
    asset, _ = Asset.objects.update_or_create(
        repository=member, path=path,
        defaults={"blob": cached.blob, "content_type": layout.content_type(path), **fields})
    return asset


def _digests(blob) -> dict:
    # Blobs are named by content, so their digests never change; remembering them spares a
    # refreshed SNAPSHOT that fails its .sha1 a re-read of the whole file on every request.
    key = f"maven:digests:{blob.pk}"
    known = cache.get(key)
    if known:
        return known
    hashes = {name: hashlib.new(name) for name in ALGORITHMS}
    with open_blob(blob) as fh:
        while chunk := fh.read(1024 * 1024):
            for h in hashes.values():
                h.update(chunk)
    digests = {name: h.hexdigest() for name, h in hashes.items()}
    cache.set(key, digests, DIGEST_CACHE_SECONDS)
    return digests


def ensure_digests(asset: Asset) -> Asset:
    meta = asset.meta or {}
    if all(meta.get(name) for name in ALGORITHMS):
        return asset
    meta = {**meta, **_digests(asset.blob)}
    Asset.objects.filter(pk=asset.pk).update(meta=meta)
    asset.meta = meta
    return asset


def metadata_blob(member, path: str):
    """The upstream's maven-metadata.xml (cached); raises UpstreamMissing / UpstreamUnavailable."""
    return get_metadata(member, path, upstream_url(member, path)).blob
