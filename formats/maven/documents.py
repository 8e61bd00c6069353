"""GET/HEAD of maven-metadata.xml (and its checksums) for local, remote and virtual repositories.

Serving steps:
1. `read` on the repository asked;
2. each member contributes a document: a local member generates one from its rows
   (local.py), a remote member's upstream copy comes through the metadata cache;
3. the ETag hashes what the members contributed (row aggregates, upstream blob digests), so an
   upload or a refreshed upstream copy changes it; If-None-Match -> 304;
4. the bytes come from the cache under that ETag; on a miss: one member -> its document as is
   (a remote's bytes untouched), several -> merged (versions unioned, latest/release
   recomputed) and rendered;
5. checksum paths hash exactly those cached bytes, so the .sha1 always matches the document.
Nobody has it -> 404; a remote member failed with nothing cached and nobody else has it -> 502.
"""
from __future__ import annotations

import hashlib
import json

from django.core.cache import cache
from django.http import HttpResponse

from formats.base import HttpError, UpstreamMissing, UpstreamUnavailable, etag_matches, members, read_blob

from . import local, metadata as md, remote
from .files import text_response
from .layout import MavenPath

CACHE_SECONDS = 3600


def _contributions(repository, mp: MavenPath) -> tuple[list, list]:
    sources, unavailable = [], []
    for member in members(repository):
        if member.kind == "remote":
            try:
                blob = remote.metadata_blob(member, mp.target)
            except UpstreamMissing:
                continue
            except UpstreamUnavailable:
                unavailable.append(member.name)
                continue
            sources.append(("remote", member, blob.sha256, blob))
        else:
            parts = local.state(member, mp)
            if parts is not None:
                sources.append(("local", member, parts, None))
    return sources, unavailable


def _build(mp: MavenPath, sources: list) -> bytes:
    if len(sources) == 1 and sources[0][0] == "remote":
        return read_blob(sources[0][3])
    docs = []
    for kind, member, _, blob in sources:
        if kind == "local":
            docs.append(local.document(member, mp))
        else:
            try:
                docs.append(md.parse(read_blob(blob)))
            except md.BadMetadata:
                continue  # an unreadable upstream document is skipped, as group repositories do
    if not docs:
        raise HttpError(502, "no member's maven-metadata.xml could be read")
    return md.render(docs[0] if len(docs) == 1 else md.merge(docs))


def document(repository, mp: MavenPath) -> tuple[bytes, str]:
    """(bytes, etag) of the metadata at mp.target as `repository` serves it."""
    sources, unavailable = _contributions(repository, mp)
    if not sources:
        if unavailable:
            raise HttpError(502, f"upstream of {', '.join(unavailable)} unavailable and {mp.target} not cached")
        raise HttpError(404, f"{mp.target} not found in repository {repository.name}")
    raw = json.dumps([repository.pk, mp.target, [[s[0], s[1].pk, s[2]] for s in sources]], default=str)
    etag = hashlib.sha256(raw.encode()).hexdigest()[:40]
    key = f"maven:md:{etag}"
    body = cache.get(key)
    if body is None:
        body = _build(mp, sources)
        cache.set(key, body, CACHE_SECONDS)
    return body, etag


def serve(request, repository, mp: MavenPath) -> HttpResponse:
    body, etag = document(repository, mp)
    if mp.checksum:
        return text_response(request, hashlib.new(mp.checksum, body).hexdigest())
    quoted = f'"{etag}"'
    if etag_matches(request, quoted):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(b"" if request.method == "HEAD" else body, content_type="text/xml")
        response["Content-Length"] = str(len(body))
        response["X-Checksum-Sha1"] = hashlib.sha1(body).hexdigest()
        response["X-Checksum-MD5"] = hashlib.md5(body).hexdigest()
        response["X-Checksum-SHA256"] = hashlib.sha256(body).hexdigest()
    response["ETag"] = quoted
    response["Cache-Control"] = "max-age=0, must-revalidate"
    return response
