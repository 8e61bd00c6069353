"""Send a blob to the client: sendfile on local storage, a presigned redirect on S3.

Steps, in order:
1. ETag is the blob's sha256; If-None-Match that matches answers 304 with no body.
2. On S3 (no local path) answer GET with 302 to a short-lived presigned URL; S3 handles Range
   itself. HEAD is answered here from the database, like a local HEAD (steps 3-4, no body):
   a presigned URL is signed for GET, and S3 refuses a HEAD on it with 403.
3. A valid single `Range: bytes=...` answers 206 with Content-Range, an unsatisfiable one 416
   with `Content-Range: bytes */size`; a malformed or multi-range header is ignored (200), as
   RFC 9110 allows.
4. The body is a FileResponse over a window onto the blob's file, limited to Content-Length
   bytes. For a client on another host the window has a fileno(), so gunicorn hands it to
   os.sendfile(): zero copy. For a client on this host (a loopback address or a Unix socket,
   which includes a reverse proxy in front of Packyard) the window hides its fileno() and
   gunicorn writes it in 256 KiB pieces instead; `peer_is_local` says why. Servers without
   sendfile iterate the window, which stops at its end.
"""
from __future__ import annotations

import io
import ipaddress
import os
import re

from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header

from .models import Blob
from .storage import get_storage, key_for

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
INVALID = "invalid"


# What gunicorn reads and writes at a time when it does not sendfile: big enough that Python's
# per-piece cost is noise (2,000 pieces for 500 MiB), small enough to stay out of memory's way.
COPY_BLOCK = 256 * 1024


def peer_is_local(request) -> bool:
    """True when the TCP peer is on this host: a loopback address, or no address (a Unix socket).

    Such a peer is better served by a copy than by sendfile. sendfile hands TCP the page cache's
    own 4 KiB pages, so on loopback each segment reaches the receiving socket as a list of up to
    17 page fragments that it cannot merge into the segment queued before it. A 500 MiB blob
    pulled by skopeo over loopback saw 30 receive-queue coalesces instead of about 4,600, and
    skopeo, which shares this host's CPUs, spent 0.2 s more in the kernel and woke 7,000 more
    times than when the same bytes came from a write() of a buffer, which TCP copies into its own
    large pages (docs/benchmarks.md, Docker pull). Across a real network the receiver is elsewhere
    and the saved copy is pure gain, so remote peers keep sendfile.
    """
    address = request.META.get("REMOTE_ADDR") or ""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    # A server bound to [::] sees IPv4 clients as ::ffff:a.b.c.d, which Python 3.11 never calls loopback.
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback


class _Window:
    """A file limited to [start, start+length): read() stops at the end; fileno() allows sendfile
    only when `zero_copy`, since gunicorn sends whatever has a working fileno() by sendfile.

    It has no `name`, so FileResponse cannot guess headers from the blob's path on disk.
    """

    def __init__(self, fh, start: int, length: int, zero_copy: bool = True):
        self._fh = fh
        self._remaining = length
        self._zero_copy = zero_copy
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
        if not self._zero_copy:
            raise io.UnsupportedOperation("fileno")
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
    # HEAD never redirects: S3 signs the method into a presigned URL, so a HEAD on the GET URL
    # gets 403, and docker/podman HEAD each blob before a push. Size and ETag are in the Blob row,
    # so HEAD takes the local path below, which never opens the file for HEAD.
    if local is None and request.method != "HEAD":
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
        zero_copy = not peer_is_local(request)
        response = FileResponse(_Window(open(local, "rb"), start, length, zero_copy),
                                content_type=content_type, status=status)
        response.block_size = COPY_BLOCK  # the size of the pieces when gunicorn does not sendfile
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    return _with_headers(response, headers)
