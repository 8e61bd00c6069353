"""Chunked blob uploads over a raw socket against `packyard serve` (artifacts/chunked.py's fast path).

What clients do (one PATCH with `Transfer-Encoding: chunked`, then the closing PUT), with framing
edge cases: chunks of 1 byte and of several MiB, chunk extensions, trailers, a request pipelined
behind the body on the same connection; and bad framing, which must answer 400 in the registry's
JSON, close the connection, and leave the upload as it was.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket

import pytest
import requests

USER, PASSWORD = "chunk-user", "chunk-user-pw"
REPO = "dk-chunked"


@pytest.fixture(scope="module")
def site(packyard):
    packyard.ensure_user(USER, PASSWORD)
    packyard.create_repo(REPO, "docker")
    packyard.grant(REPO, "deploy", user=USER)
    return packyard


def bearer(site) -> str:
    response = requests.get(f"{site.url}/v2/token", params={"service": "packyard", "scope": f"repository:{REPO}/img:pull,push"},
                            auth=(USER, PASSWORD), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["token"]


def start_upload(site, token: str) -> str:
    response = requests.post(f"{site.url}/v2/{REPO}/img/blobs/uploads/", headers={"Authorization": f"Bearer {token}"},
                             timeout=30)
    assert response.status_code == 202, response.text
    return response.headers["Location"]


def chunked(pieces: list[bytes], extension: bytes = b"", trailers: bytes = b"") -> bytes:
    out = [b"%x%s\r\n%s\r\n" % (len(piece), extension, piece) for piece in pieces]
    return b"".join(out) + b"0\r\n" + trailers + b"\r\n"


def patch_head(site, location: str, token: str) -> bytes:
    path = location.removeprefix(site.url)
    return (f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1:{site.port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n").encode()


def read_responses(sock: socket.socket, count: int) -> list[tuple[int, dict, bytes]]:
    """`count` HTTP/1.1 responses (Content-Length bodies) from the socket, in order."""
    data = b""
    out = []
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            if not more:
                return out
            data += more
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(data) < length:
            more = sock.recv(65536)
            if not more:
                break
            data += more
        out.append((int(lines[0].split()[1]), headers, data[:length]))
        data = data[length:]
    return out


def connection_closed(sock: socket.socket) -> bool:
    sock.settimeout(10)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def status_of(site, location: str, token: str) -> requests.Response:
    return requests.get(location, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_odd_chunks_extensions_trailers_and_a_pipelined_request(site):
    token = bearer(site)
    location = start_upload(site, token)
    pieces = [b"a", os.urandom(3 * 1024 * 1024 + 7), b"", os.urandom(1), os.urandom(65536), os.urandom(1024 * 1024)]
    pieces = [p for p in pieces if p]  # a zero-size chunk would end the body
    blob = b"".join(pieces)
    body = chunked(pieces, extension=b";name=value", trailers=b"X-Trailer: yes\r\n")
    pipelined = f"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:{site.port}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", site.port), timeout=60) as sock:
        sock.sendall(patch_head(site, location, token) + body + pipelined)
        (patch_status, patch_headers, _), (v2_status, _, v2_body) = read_responses(sock, 2)
    assert patch_status == 202, patch_headers
    assert patch_headers["range"] == f"0-{len(blob) - 1}"
    assert v2_status == 200 and json.loads(v2_body) == {}
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    done = requests.put(f"{site.url}{patch_headers['location']}" if patch_headers["location"].startswith("/")
                        else patch_headers["location"], params={"digest": digest},
                        headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert done.status_code == 201, done.text
    fetched = requests.get(f"{site.url}/v2/{REPO}/img/blobs/{digest}", headers={"Authorization": f"Bearer {token}"},
                           timeout=60)
    assert fetched.status_code == 200 and fetched.content == blob


@pytest.mark.parametrize("bad", [
    b"zz\r\nabc\r\n0\r\n\r\n",                  # not a hex size
    b"3\r\nabcXY0\r\n\r\n",                     # no CRLF after the chunk's data
    b"-1\r\nabc\r\n0\r\n\r\n",                  # negative size
    b"1" + b"0" * 17 + b"\r\n",                 # a size past 16 hex digits
    b"3" + b" " * 5000 + b"\r\nabc\r\n0\r\n\r\n",  # a size line longer than any real one
])
def test_bad_framing_is_400_closes_the_connection_and_keeps_the_upload(site, bad):
    token = bearer(site)
    location = start_upload(site, token)
    first = requests.patch(location, data=b"kept", headers={"Authorization": f"Bearer {token}",
                                                             "Content-Type": "application/octet-stream"}, timeout=30)
    assert first.status_code == 202 and first.headers["Range"] == "0-3"
    with socket.create_connection(("127.0.0.1", site.port), timeout=60) as sock:
        sock.sendall(patch_head(site, location, token) + bad)
        (status, _, payload), = read_responses(sock, 1)
        assert status == 400, payload
        assert json.loads(payload)["errors"][0]["code"] == "BLOB_UPLOAD_INVALID"
        assert connection_closed(sock)
    after = status_of(site, location, token)
    assert after.status_code == 204 and after.headers["Range"] == "0-3"


def test_a_body_cut_short_keeps_the_upload_where_it_was(site):
    token = bearer(site)
    location = start_upload(site, token)
    with socket.create_connection(("127.0.0.1", site.port), timeout=60) as sock:
        sock.sendall(patch_head(site, location, token) + b"100000\r\n" + os.urandom(5000))
        sock.shutdown(socket.SHUT_WR)
        responses = read_responses(sock, 1)
    assert all(status == 400 for status, _, _ in responses)  # or no answer at all: the client left
    after = status_of(site, location, token)
    assert after.status_code == 204 and after.headers["Range"] == "0-0"
