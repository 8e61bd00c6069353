"""Fetch-and-cache for remote repositories: one upstream fetch per key, TTLs, stale-if-error.

Metadata (index pages, packuments, maven-metadata) lives in CacheEntry rows pointing at blobs:
- fresh (younger than metadata_ttl) -> served from the cache, no upstream request;
- stale, and the remote allows stale-while-revalidate -> served at once, a Celery task refreshes;
- otherwise fetched inline under a named lock, so concurrent misses make one upstream request;
  the others wait for the lock and then find the fresh entry;
- the upstream answers 404/410 -> a negative entry, kept for negative_cache_ttl;
- the upstream is down or answers 5xx -> the stale copy is served (stale-if-error); with
  nothing cached the caller gets UpstreamUnavailable (the format turns it into 502/504).
Files (packages) are fetched once, verified against the upstream's digest, and kept as Assets.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urljoin, urlparse

import requests
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from artifacts.ingest import CHUNK, DEFAULT_ALGORITHMS, IngestError, stage_chunks
from artifacts.locks import named_lock
from artifacts.models import Blob

from .models import Asset, CacheEntry, Repository

log = logging.getLogger("packyard.upstream")


class UpstreamMissing(Exception):
    """The upstream says the thing does not exist (or a negative cache entry says so)."""


class UpstreamUnavailable(Exception):
    """The upstream could not be reached or failed, and nothing usable is cached."""


@dataclass
class Cached:
    blob: Blob
    content_type: str
    fetched_at: object
    stale: bool = False
    etag: str = ""


def upstream_url(repository: Repository, path: str) -> str:
    base = repository.upstream_url.rstrip("/") + "/"
    return urljoin(base, path.lstrip("/"))


def _session(repository: Repository, url: str) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "packyard"
    # Credentials go only to the upstream's own origin, never to a host a page links to.
    if repository.upstream_username and _same_origin(repository.upstream_url, url):
        session.auth = (repository.upstream_username, repository.upstream_password)
    return session


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlparse(a), urlparse(b)
    return (pa.scheme, pa.netloc) == (pb.scheme, pb.netloc)


def _timeout():
    return (10, settings.PACKYARD_UPSTREAM_TIMEOUT)


def _is_fresh(repository: Repository, entry: CacheEntry) -> bool:
    ttl = repository.negative_cache_ttl if entry.missing else repository.metadata_ttl
    return timezone.now() - entry.fetched_at < timedelta(seconds=ttl)


def _cached(entry: CacheEntry, stale: bool) -> Cached:
    return Cached(blob=entry.blob, content_type=entry.content_type, fetched_at=entry.fetched_at, stale=stale, etag=entry.etag)


def get_metadata(repository: Repository, key: str, url: str, headers: dict | None = None) -> Cached:
    entry = CacheEntry.objects.select_related("blob").filter(repository=repository, key=key).first()
    if entry is not None and _is_fresh(repository, entry):
        if entry.missing:
            raise UpstreamMissing(key)
        return _cached(entry, stale=False)
    if entry is not None and entry.blob_id and not entry.missing and repository.stale_while_revalidate:
        schedule_refresh(repository, key, url, headers)
        return _cached(entry, stale=True)
    return refresh_metadata(repository, key, url, headers)


def schedule_refresh(repository: Repository, key: str, url: str, headers: dict | None = None) -> None:
    marker = f"refresh:{repository.pk}:{key}"
    if not cache.add(marker, 1, timeout=max(30, min(repository.metadata_ttl, 300))):
        return  # a refresh is already queued
    try:
        from .tasks import refresh_metadata_task

        refresh_metadata_task.delay(repository.pk, key, url, headers or {})
    except Exception:  # the broker being down must not fail a read that has a cached answer
        log.warning("could not queue refresh of %s %s", repository.name, key, exc_info=True)
        cache.delete(marker)


def refresh_metadata(repository: Repository, key: str, url: str, headers: dict | None = None, force: bool = False) -> Cached:
    started = timezone.now()
    with named_lock(f"upstream:{repository.pk}:{key}"):
        entry = CacheEntry.objects.select_related("blob").filter(repository=repository, key=key).first()
        if entry is not None and entry.fetched_at >= started and not force:
            # Someone else fetched while we waited for the lock: single flight.
            if entry.missing:
                raise UpstreamMissing(key)
            return _cached(entry, stale=False)
        request_headers = dict(headers or {})
        if entry is not None and entry.etag and entry.blob_id and not entry.missing:
            request_headers["If-None-Match"] = entry.etag
        try:
            response = _session(repository, url).get(url, headers=request_headers, stream=True, timeout=_timeout())
        except requests.RequestException as exc:
            return _stale_or_fail(entry, f"upstream unreachable: {exc.__class__.__name__}")
        with response:
            if response.status_code == 304 and entry is not None:
                CacheEntry.objects.filter(pk=entry.pk).update(fetched_at=timezone.now())
                entry.refresh_from_db()
                return _cached(entry, stale=False)
            if response.status_code in (404, 410):
                CacheEntry.objects.update_or_create(
                    repository=repository, key=key,
                    defaults={"missing": True, "blob": None, "fetched_at": timezone.now(), "etag": ""},
                )
                raise UpstreamMissing(key)
            if response.status_code != 200:
                return _stale_or_fail(entry, f"upstream answered {response.status_code}")
            try:
                staged = stage_chunks(response.iter_content(CHUNK))
            except (requests.RequestException, IngestError) as exc:
                return _stale_or_fail(entry, f"upstream transfer failed: {exc}")
            with staged:
                blob = staged.commit()
            entry, _ = CacheEntry.objects.update_or_create(
                repository=repository, key=key,
                defaults={
                    "missing": False, "blob": blob, "fetched_at": timezone.now(),
                    "etag": response.headers.get("ETag", "")[:512],
                    "last_modified": response.headers.get("Last-Modified", "")[:128],
                    "content_type": response.headers.get("Content-Type", "")[:255],
                },
            )
            return _cached(entry, stale=False)


def _stale_or_fail(entry: CacheEntry | None, reason: str) -> Cached:
    if entry is not None and entry.blob_id and not entry.missing:
        log.warning("serving stale metadata (%s): %s", entry.key, reason)
        return _cached(entry, stale=True)
    raise UpstreamUnavailable(reason)


def fetch_file(repository: Repository, path: str, url: str, expected: dict | None = None, *,
               package: str = "", version: str = "", content_type: str = "application/octet-stream",
               meta: dict | None = None) -> Asset:
    """The remote's cached Asset at `path`, fetching it from `url` once if it is not kept yet."""
    asset = Asset.objects.select_related("blob").filter(repository=repository, path=path).first()
    if asset is not None:
        return asset
    negative_key = f"file:{path}"
    miss = CacheEntry.objects.filter(repository=repository, key=negative_key, missing=True).first()
    if miss is not None and _is_fresh(repository, miss):
        raise UpstreamMissing(path)
    with named_lock(f"upstream:{repository.pk}:{negative_key}"):
        asset = Asset.objects.select_related("blob").filter(repository=repository, path=path).first()
        if asset is not None:
            return asset
        try:
            response = _session(repository, url).get(url, stream=True, timeout=_timeout())
        except requests.RequestException as exc:
            raise UpstreamUnavailable(f"upstream unreachable: {exc.__class__.__name__}") from exc
        with response:
            if response.status_code in (404, 410):
                CacheEntry.objects.update_or_create(
                    repository=repository, key=negative_key,
                    defaults={"missing": True, "blob": None, "fetched_at": timezone.now()},
                )
                raise UpstreamMissing(path)
            if response.status_code != 200:
                raise UpstreamUnavailable(f"upstream answered {response.status_code}")
            # Hash with whatever the caller verifies against too (npm's integrity is sha512).
            algorithms = tuple(DEFAULT_ALGORITHMS) + tuple(k for k in (expected or {}) if k not in DEFAULT_ALGORITHMS)
            try:
                staged = stage_chunks(response.iter_content(CHUNK), algorithms=algorithms)
            except requests.RequestException as exc:
                raise UpstreamUnavailable(f"upstream transfer failed: {exc}") from exc
            with staged:
                staged.verify(**(expected or {}))  # DigestMismatch propagates: never keep bad bytes
                blob = staged.commit()
        CacheEntry.objects.filter(repository=repository, key=negative_key).delete()
        asset, _ = Asset.objects.get_or_create(
            repository=repository, path=path,
            defaults={"blob": blob, "package": package, "version": version, "content_type": content_type,
                      "meta": meta or {}},
        )
        return asset
