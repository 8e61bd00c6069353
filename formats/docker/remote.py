"""Pull-through cache of an upstream registry (a remote repository's upstream_url, no /v2).

- `HOST:PORT/REPO/x/y:tag` is asked upstream as `x/y:tag` (Docker Hub: `library/` is added to
  one-component names); the upstream's own Bearer token flow runs with the repository's
  upstream credentials, tokens cached until they expire.
- manifests by tag: the local tag is served while younger than metadata_ttl; then the upstream
  is asked again; unreachable or 5xx upstream -> the stale local tag (stale-if-error);
- manifests by digest and blobs: fetched once, verified against the digest, kept forever; a
  blob GET miss streams the upstream bytes to the client while storing them (stream_blob);
- one upstream fetch per key however many clients miss at once (named locks: in-process file
  locks embedded, Redis locks otherwise); the waiters then find the stored copy.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from datetime import timedelta
from urllib.parse import urlencode, urlparse

import requests
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from artifacts.ingest import CHUNK, temp_dir
from artifacts.locks import named_lock
from formats.base import DigestMismatch, Staged, UpstreamMissing, UpstreamUnavailable, stage_chunks

from . import store
from .errors import DockerError
from .models import Tag
from .parse import MANIFEST_TYPES, MAX_MANIFEST_BYTES, parse

ACCEPT = ", ".join(MANIFEST_TYPES)
_PARAM = re.compile(r'(\w+)="([^"]*)"')
log = logging.getLogger("packyard.docker")
DOCKER_HUB = ("registry-1.docker.io", "docker.io", "index.docker.io")


def upstream_image(repository, image: str) -> str:
    host = urlparse(repository.upstream_url).hostname or ""
    if host in DOCKER_HUB and "/" not in image:
        return f"library/{image}"
    return image


def _timeout():
    return (10, settings.PACKYARD_UPSTREAM_TIMEOUT)


def _auth(repository):
    return (repository.upstream_username, repository.upstream_password) if repository.upstream_username else None


def _token(repository, header: str) -> str | None:
    params = dict(_PARAM.findall(header))
    realm = params.pop("realm", "")
    if not realm:
        return None
    key = "docker-upstream-token:" + hashlib.sha256(f"{repository.pk}\0{header}".encode()).hexdigest()
    cached = cache.get(key)
    if cached:
        return cached
    params.pop("error", None)
    response = requests.get(f"{realm}?{urlencode(params)}", auth=_auth(repository), timeout=_timeout(),
                            headers={"User-Agent": "packyard"})
    if response.status_code != 200:
        raise UpstreamUnavailable(f"upstream token endpoint answered {response.status_code}")
    try:
        body = response.json()
    except RecursionError:  # nested too deeply to parse: as unusable as invalid JSON (ValueError)
        raise UpstreamUnavailable("upstream token endpoint sent unusable JSON") from None
    if not isinstance(body, dict):  # a list or number has no .get: that was a 500
        raise UpstreamUnavailable("upstream token endpoint sent unusable JSON")
    token = body.get("token") or body.get("access_token")
    if token:
        try:
            ttl = int(body.get("expires_in") or 60)
        except (TypeError, ValueError, OverflowError):  # a list, "soon", 1e999: use the default
            ttl = 60
        cache.set(key, token, max(10, ttl - 15))
    return token


def get(repository, path: str, headers: dict | None = None, method: str = "GET") -> requests.Response:
    """A request to the upstream registry, answering its Basic or Bearer challenge once."""
    url = repository.upstream_url.rstrip("/") + path
    headers = {"User-Agent": "packyard", **(headers or {})}
    try:
        response = requests.request(method, url, headers=headers, stream=True, timeout=_timeout())
        if response.status_code == 401:
            challenge = response.headers.get("WWW-Authenticate", "")
            response.close()
            if challenge.lower().startswith("bearer"):
                token = _token(repository, challenge)
                response = requests.request(method, url, headers={**headers, "Authorization": f"Bearer {token}"},
                                            stream=True, timeout=_timeout())
            elif _auth(repository):
                response = requests.request(method, url, headers=headers, auth=_auth(repository), stream=True,
                                            timeout=_timeout())
    except (requests.RequestException, ValueError) as exc:
        raise UpstreamUnavailable(f"upstream unreachable: {exc.__class__.__name__}") from exc
    if response.status_code in (404, 410):
        response.close()
        raise UpstreamMissing(path)
    if response.status_code != 200:
        response.close()
        raise UpstreamUnavailable(f"upstream answered {response.status_code}")
    return response


def _fetch_manifest(repository, image: str, reference: str):
    with get(repository, f"/v2/{upstream_image(repository, image)}/manifests/{reference}", {"Accept": ACCEPT}) as response:
        data = b""
        try:
            for chunk in response.iter_content(65536):
                data += chunk
                if len(data) > MAX_MANIFEST_BYTES:
                    raise UpstreamUnavailable("upstream manifest exceeds 4 MiB")
        except requests.RequestException as exc:
            raise UpstreamUnavailable(f"upstream transfer failed: {exc}") from exc
        content_type = response.headers.get("Content-Type", "")
    try:
        parsed = parse(data, content_type)
    except DockerError as exc:
        raise UpstreamUnavailable(f"upstream sent an unusable manifest: {exc.message}") from None
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return data, parsed, digest


def manifest(repository, image: str, reference: str):
    """The cached Manifest for a tag or digest, fetched from upstream when needed."""
    if ":" in reference:
        found = store.find_manifest(repository, image, reference)
        if found is not None:
            return found
        with named_lock(f"docker-up:{repository.pk}:{image}@{reference}"):
            found = store.find_manifest(repository, image, reference)
            if found is not None:
                return found
            data, parsed, digest = _fetch_manifest(repository, image, reference)
            if digest != reference:
                raise UpstreamUnavailable(f"upstream manifest digest {digest} does not match {reference}")
            return store.save_manifest(repository, image, digest, data, parsed)
    ttl = timedelta(seconds=repository.metadata_ttl)
    tag = Tag.objects.select_related("manifest__blob").filter(repository=repository, image=image, name=reference).first()
    if tag is not None and tag.fetched_at and timezone.now() - tag.fetched_at < ttl:
        return tag.manifest
    started = timezone.now()
    with named_lock(f"docker-up:{repository.pk}:{image}:{reference}"):
        tag = Tag.objects.select_related("manifest__blob").filter(repository=repository, image=image, name=reference).first()
        if tag is not None and tag.fetched_at and tag.fetched_at >= started:
            return tag.manifest  # fetched by someone else while we waited: single flight
        try:
            data, parsed, digest = _fetch_manifest(repository, image, reference)
        except UpstreamUnavailable:
            if tag is not None:
                return tag.manifest  # stale-if-error
            raise
        found = store.save_manifest(repository, image, digest, data, parsed)
        store.set_tag(repository, image, reference, found, fetched=True)
        return found


def blob(repository, image: str, digest: str):
    """The cached blob Asset, fetched once from upstream and verified against its digest."""
    asset = store.find_blob(repository, image, digest)
    if asset is not None:
        return asset
    with named_lock(f"docker-blob:{repository.pk}:{digest}", timeout=900, ttl=3600):
        asset = store.find_blob(repository, image, digest)
        if asset is not None:
            return asset
        with get(repository, f"/v2/{upstream_image(repository, image)}/blobs/{digest}") as response:
            try:
                staged = stage_chunks(response.iter_content(CHUNK), algorithms=("sha256",))
            except requests.RequestException as exc:
                raise UpstreamUnavailable(f"upstream transfer failed: {exc}") from exc
        with staged:
            try:
                staged.verify(sha256=digest.split(":", 1)[1])
            except DigestMismatch as exc:
                raise UpstreamUnavailable(f"upstream blob failed verification: {exc}") from None
            stored = staged.commit()
        return store.link_blob(repository, image, stored)


def tags(repository, image: str) -> list[str] | None:
    """The upstream's tag list (None when the upstream cannot say: the caller uses local tags)."""
    try:
        with get(repository, f"/v2/{upstream_image(repository, image)}/tags/list?n=10000") as response:
            doc = response.json() or {}
    # RecursionError: JSON nested too deeply to parse, as unusable as invalid JSON (ValueError).
    except (UpstreamUnavailable, UpstreamMissing, ValueError, RecursionError, requests.RequestException):
        return None
    names = (doc.get("tags") or []) if isinstance(doc, dict) else None
    if not isinstance(names, list):  # a list or number (no .get: that was a 500), or "tags" not a list
        return None
    return [t for t in names if isinstance(t, str)]


class _Tee:
    """Upstream bytes to the client and into a temp file at once; stored (if the digest matches)
    when the stream ends. close() always runs (Django closes the response), releasing the lock."""

    def __init__(self, repository, image: str, digest: str, response, lock):
        self.repository, self.image, self.digest = repository, image, digest
        self.response, self.lock = response, lock
        fd, self.path = tempfile.mkstemp(prefix="docker-proxy-", dir=temp_dir())
        self.out = os.fdopen(fd, "wb")
        self.closed = False

    def __iter__(self):
        hasher, size = hashlib.sha256(), 0
        for chunk in self.response.iter_content(CHUNK):
            self.out.write(chunk)
            hasher.update(chunk)
            size += len(chunk)
            yield chunk
        self.out.flush()
        os.fsync(self.out.fileno())
        self.out.close()
        if f"sha256:{hasher.hexdigest()}" == self.digest:
            with Staged(self.path, size, {"sha256": hasher.hexdigest()}) as staged:
                store.link_blob(self.repository, self.image, staged.commit())
        else:
            log.warning("upstream blob %s of %s failed verification", self.digest, self.repository.name)

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.response.close()
        if not self.out.closed:
            self.out.close()
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.lock.__exit__(None, None, None)


def stream_blob(repository, image: str, digest: str):
    """(_Tee, size or None) to stream a blob not cached yet, holding its fetch lock; None when cached."""
    lock = named_lock(f"docker-blob:{repository.pk}:{digest}", timeout=900, ttl=3600)
    lock.__enter__()
    try:
        if store.find_blob(repository, image, digest) is not None:
            lock.__exit__(None, None, None)
            return None
        response = get(repository, f"/v2/{upstream_image(repository, image)}/blobs/{digest}")
    except BaseException:
        lock.__exit__(None, None, None)
        raise
    length = response.headers.get("Content-Length", "")
    return _Tee(repository, image, digest, response, lock), (int(length) if length.isdigit() else None)
