"""Send a blob to the client: sendfile on local storage, a presigned redirect on S3.

Steps, in order:
1. ETag is the blob's sha256; If-None-Match that matches answers 304 with no body.
2. On S3 (no local path) answer 302 to a short-lived presigned URL; S3 handles Range itself.
3. A valid single `Range: bytes=...` answers 206 with Content-Range, an unsatisfiable one 416
   with `Content-Range: bytes */size`; a malformed or multi-range header is ignored (200), as
   RFC 9110 allows.
4. The body is a FileResponse over a real file (or a window onto one) that has a fileno(), so
   gunicorn hands it to os.sendfile(): zero copy, from the file's current offset, limited to
   Content-Length bytes. Servers without sendfile iterate the window, which stops at its end.
"""
from __future__ import annotations

import os
import re

from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header

from .models import Blob
from .storage import get_storage, key_for

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
INVALID = "invalid"


class _Window:
    """A file limited to [start, start+length): read() stops at the end, fileno() allows sendfile.

    It has no `name`, so FileResponse cannot guess headers from the blob's path on disk.
    """

    def __init__(self, fh, start: int, length: int):
        self._fh = fh
        self._remaining = length
        fh.seek(start)

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        if size is None or size < 0 or size > self._remaining:
            size = self._remaining
        data = self._fh.read(size)
        self._remaining -= len(data)
        return data

    def fileno(self):
        return self._fh.fileno()

    def seek(self, *args):
        return self._fh.seek(*args)

    def tell(self):
        return self._fh.tell()

    def close(self):
        self._fh.close()


def parse_range(header: str | None, size: int):
    """(start, end) inclusive for one satisfiable range; None to ignore the header; INVALID for 416."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # multi-range or malformed
    first, last = match.groups()
    if first == "":
        length = int(last)
        if length == 0 or size == 0:
            return INVALID
        return max(0, size - length), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # an invalid range-spec, not an unsatisfiable one: ignore it
    if start >= size:
        return INVALID
    end = min(int(last), size - 1) if last else size - 1
    return start, end


def etag_matches(request, etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or etag in candidates


def _with_headers(response: HttpResponse, headers: dict) -> HttpResponse:
    for name, value in headers.items():
        response[name] = value
    return response


def serve_blob(request, blob: Blob, content_type: str = "application/octet-stream",
               filename: str | None = None, extra_headers: dict | None = None) -> HttpResponse:
    etag = f'"{blob.sha256}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes", **(extra_headers or {})}
    if etag_matches(request, etag):
        return _with_headers(HttpResponse(status=304), headers)
    storage = get_storage()
    key = key_for(blob.sha256)
    local = storage.local_path(key)
    if local is None:
        return _with_headers(HttpResponseRedirect(storage.url_for(key, filename=filename)), headers)
    if filename:
        headers["Content-Disposition"] = content_disposition_header(True, os.path.basename(filename))
    size = blob.size
    wanted = parse_range(request.headers.get("Range"), size)
    if wanted == INVALID:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return _with_headers(response, headers)
    start, end = wanted if wanted else (0, size - 1)
    length = end - start + 1
    status = 206 if wanted else 200
    if request.method == "HEAD":
        response = HttpResponse(status=status, content_type=content_type)
    else:
        response = FileResponse(_Window(open(local, "rb"), start, length), content_type=content_type, status=status)
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    return _with_headers(response, headers)
