"""Send a blob to the client: sendfile on local storage, a presigned redirect on S3.

Steps, in order:
1. ETag is the blob's sha256; If-None-Match that matches answers 304 with no body.
2. On S3 (no local path) answer 302 to a short-lived presigned URL; S3 handles Range itself.
3. Open the file; a valid `Range: bytes=a-b` answers 206 with Content-Range, an unsatisfiable
   one 416; otherwise 200 with the whole file.
4. The response is a FileResponse over a file object with a fileno(), so gunicorn hands it to
   os.sendfile() (zero copy), limited to Content-Length bytes from the current offset.
"""
from __future__ import annotations

import os
import re

from django.http import FileResponse, HttpResponse, HttpResponseRedirect

from .models import Blob
from .storage import get_storage, key_for

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _Window:
    """A file limited to [start, start+length): read() stops at the end, fileno() allows sendfile."""

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
    """(start, end) inclusive for a single satisfiable range; None for no/ignored range; 'invalid' for 416."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # multi-range or malformed: RFC 9110 lets us ignore it and send 200
    first, last = match.groups()
    if first == "":
        length = int(last)
        if length == 0:
            return "invalid"
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return "invalid"
    return start, min(end, size - 1)


def etag_matches(request, etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or etag in candidates


def serve_blob(request, blob: Blob, content_type: str = "application/octet-stream",
               filename: str | None = None, extra_headers: dict | None = None) -> HttpResponse:
    etag = f'"{blob.sha256}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes", **(extra_headers or {})}
    if etag_matches(request, etag):
        response = HttpResponse(status=304)
        for k, v in headers.items():
            response[k] = v
        return response
    storage = get_storage()
    key = key_for(blob.sha256)
    local = storage.local_path(key)
    if local is None:
        url = storage.url_for(key, filename=filename)
        response = HttpResponseRedirect(url)
        for k, v in headers.items():
            response[k] = v
        return response
    size = blob.size
    fh = open(local, "rb")
    wanted = parse_range(request.headers.get("Range"), size)
    if wanted == "invalid":
        fh.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        for k, v in headers.items():
            response[k] = v
        return response
    if request.method == "HEAD":
        fh.close()
        response = HttpResponse(status=200, content_type=content_type)
        response["Content-Length"] = str(size)
    elif wanted is None:
        response = FileResponse(fh, content_type=content_type)
        response["Content-Length"] = str(size)
    else:
        start, end = wanted
        response = FileResponse(_Window(fh, start, end - start + 1), content_type=content_type, status=206)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    for k, v in headers.items():
        response[k] = v
    if filename:
        response["Content-Disposition"] = f'attachment; filename="{os.path.basename(filename)}"'
    return response
