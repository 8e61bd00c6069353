"""A chunked request body read straight from gunicorn's socket in large reads: `fast_chunks(request)`.

Why: docker, podman and skopeo push each layer as one PATCH with `Transfer-Encoding: chunked` and
chunks of about 32 KiB. Through gunicorn's ChunkedReader every chunk costs a recv() sized to
that chunk plus two buffer copies (its BytesIO, then the WSGI Body's), which held a 500 MiB push
to about 110 MiB/s (docs/benchmarks.md). Here the socket is read 1 MiB at a time with
recv_into() and the chunks are sliced out of that buffer: one copy per byte, a few syscalls per
megabyte.

The pieces yielded are memoryviews into a reused buffer: each is valid only until the next one
is asked for, which suits the ingest loops (hash, write, move on). The framing is checked as
strictly as gunicorn does (hex sizes, CRLF after each chunk, a bounded size line and trailer
section); a malformed or truncated body raises ChunkedError. Until the last chunk is read,
gunicorn's body is marked failed, so a body the caller stops reading, or a bad one, closes the
connection rather than leaving it to be reused at an unknown position.

Used only when the request came through gunicorn's HTTP/1.1 parser and its body reader has not
been touched yet; otherwise `fast_chunks` returns None and the caller reads wsgi.input.
"""
from __future__ import annotations

import inspect
import io

BUFFER = 1024 * 1024
MAX_SIZE_LINE = 4096
MAX_TRAILERS = 64 * 1024
_HEX = frozenset(b"0123456789abcdefABCDEF")


class ChunkedError(Exception):
    """The chunked framing is malformed or the body ended early."""


def fast_chunks(request):
    """An iterator over the body's pieces, or None when the fast path does not apply."""
    environ = request.environ
    sock = environ.get("gunicorn.socket")
    body = environ.get("wsgi.input")
    reader = getattr(body, "reader", None)
    if sock is None or type(reader).__name__ != "ChunkedReader":
        return None
    message = getattr(reader, "req", None)
    unreader = getattr(message, "unreader", None)
    parser = getattr(reader, "parser", None)
    if (unreader is None or not hasattr(unreader, "take_buffered") or not hasattr(unreader, "unread")
            or parser is None or inspect.getgeneratorstate(parser) != inspect.GEN_CREATED
            or not isinstance(getattr(body, "buf", None), io.BytesIO) or body.buf.tell()
            or not isinstance(getattr(reader, "buf", None), io.BytesIO) or reader.buf.tell()):
        return None
    return _pieces(sock, unreader, reader, body)


def _pieces(sock, unreader, reader, body):
    head = unreader.take_buffered()
    reader.parser = None  # gunicorn's reader now sees an ended body: nothing left for it to drain
    # Until the last chunk is read, where the connection stands is unknown: should the caller stop
    # early (a size limit, an error) or the framing be bad, gunicorn must close, not reuse it.
    body.failed = True
    parse = _Parser(sock, head)
    yield from parse.body()
    unreader.unread(parse.leftover())  # a pipelined next request, if the client sent one
    body.failed = False


class _Parser:
    def __init__(self, sock, head: bytes):
        self.sock = sock
        self.buf = bytearray(max(BUFFER, 2 * len(head)))
        self.view = memoryview(self.buf)
        self.buf[:len(head)] = head
        self.start, self.end = 0, len(head)

    def _fill(self) -> None:
        """Read more after what is buffered, moving the unread part to the front when needed."""
        if self.end == len(self.buf):
            pending = self.end - self.start
            if pending == len(self.buf):
                raise ChunkedError("chunk framing longer than the read buffer")
            self.buf[:pending] = self.buf[self.start:self.end]  # same length: allowed with views out
            self.start, self.end = 0, pending
        received = self.sock.recv_into(self.view[self.end:])
        if not received:
            raise ChunkedError("the chunked body ended early")
        self.end += received

    def _line(self, limit: int) -> bytes:
        while True:
            idx = self.buf.find(b"\r\n", self.start, self.end)
            if idx - self.start > limit:
                raise ChunkedError("chunk size line too long")
            if idx >= 0:
                line = bytes(self.buf[self.start:idx])
                self.start = idx + 2
                return line
            if self.end - self.start > limit:
                raise ChunkedError("chunk size line too long")
            self._fill()

    def body(self):
        while True:
            line = self._line(MAX_SIZE_LINE)
            digits = line.split(b";", 1)[0].rstrip(b" \t")
            if not digits or not _HEX.issuperset(digits) or len(digits) > 16:
                raise ChunkedError(f"invalid chunk size {line[:40]!r}")
            remaining = int(digits, 16)
            if remaining == 0:
                break
            while remaining:
                if self.start == self.end:
                    self.start = self.end = 0  # nothing pending: read into the whole buffer
                    self._fill()
                take = min(remaining, self.end - self.start)
                yield self.view[self.start:self.start + take]
                self.start += take
                remaining -= take
            while self.end - self.start < 2:
                self._fill()
            if self.buf[self.start:self.start + 2] != b"\r\n":
                raise ChunkedError("missing CRLF after a chunk")
            self.start += 2
        seen = 0
        while True:  # trailer fields are not used; read up to the empty line that ends them
            line = self._line(MAX_TRAILERS)
            if not line:
                return
            seen += len(line) + 2
            if seen > MAX_TRAILERS:
                raise ChunkedError("trailer section too large")

    def leftover(self) -> bytes:
        return bytes(self.buf[self.start:self.end])
