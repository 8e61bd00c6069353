"""Rendered metadata documents (index pages, packuments, metadata XML) served like blobs: from disk, by sendfile.

A format computes a cheap ETag from its rows, then calls `respond(request, etag, content_type,
build)`:
1. If-None-Match equal to the ETag -> 304, nothing read;
2. a file for that ETag in PACKYARD_HOME/documents -> a FileResponse, which gunicorn sends with
   sendfile(): a 2 MB packument costs the same as a 2 KB one and never passes through Python;
3. otherwise `build()` renders the bytes once; they are written to a temp file and renamed into
   place (readers see all of it or nothing), then served the same way.
Any change to the rows changes the ETag, so a stale document is never served; old files are
only clutter, removed by `collect` (run with garbage collection) after a day unused.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpResponse

from .serve import etag_matches

MAX_AGE_SECONDS = 24 * 3600


def _folder() -> Path:
    return settings.PACKYARD_HOME / "documents"


def _path(etag: str) -> Path:
    name = hashlib.sha256(etag.encode()).hexdigest()
    return _folder() / name[:2] / name


def _store(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".doc-", dir=path.parent)
    with os.fdopen(fd, "wb") as out:
        out.write(body)
    os.replace(tmp, path)


def respond(request, etag: str, content_type: str, build, headers: dict | None = None) -> HttpResponse:
    """The document for `etag`, rendered by `build()` (-> bytes) only when no file holds it yet."""
    quoted = f'"{etag}"'
    if etag_matches(request, quoted):
        response = HttpResponse(status=304)
    else:
        path = _path(etag)
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            _store(path, build())
            fh = open(path, "rb")
        size = os.fstat(fh.fileno()).st_size
        if request.method == "HEAD":
            fh.close()
            response = HttpResponse(content_type=content_type)
        else:
            response = FileResponse(fh, content_type=content_type)
            response.packyard_document = True  # lets in-process test clients read it as plain content
        response["Content-Length"] = str(size)
    response["ETag"] = quoted
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def collect(max_age_seconds: int = MAX_AGE_SECONDS) -> tuple[int, int]:
    """Remove documents not read or written for `max_age_seconds`; returns (count, bytes)."""
    cutoff = time.time() - max_age_seconds
    count = freed = 0
    folder = _folder()
    if not folder.exists():
        return 0, 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                stat = os.stat(path)
                if max(stat.st_atime, stat.st_mtime) < cutoff:
                    os.unlink(path)
                    count += 1
                    freed += stat.st_size
            except FileNotFoundError:
                pass
    return count, freed
