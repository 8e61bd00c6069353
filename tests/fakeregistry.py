"""A minimal threaded Docker registry on 127.0.0.1 that counts its requests, as the upstream of
pull-through tests (formats/docker/tests/test_formats_and_remote.py, tests/e2e/test_docker_schema2.py),
and the Docker schema 2 media types."""
from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.ociimages import Image

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


class FakeRegistry:
    """A minimal Docker registry on 127.0.0.1 that counts requests per (method, path).

    Serves GET/HEAD /v2/, manifests by tag or digest, blobs and tags/list of the images added
    with add(). Blobs go out in `piece`-byte writes with `piece_delay` seconds between them, and
    manifests after `manifest_delay` seconds, so that concurrent misses in Packyard overlap.
    move() re-points a tag; stop() makes every later connection fail (connection refused).
    """

    _ROUTE = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs)/(?P<ref>[^/]+)$")

    def __init__(self, piece: int = 64 * 1024, piece_delay: float = 0.0, manifest_delay: float = 0.0):
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}  # (image, digest) -> (type, bytes)
        self.tag_map: dict[tuple[str, str], str] = {}                  # (image, tag) -> digest
        self.blobs: dict[str, bytes] = {}
        self.hits: Counter = Counter()
        self.accept: dict[str, str] = {}  # path -> the Accept header of its last request
        self.piece, self.piece_delay, self.manifest_delay = piece, piece_delay, manifest_delay
        self._lock = threading.Lock()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                registry._serve(self, send_body=True)

            def do_HEAD(self):
                registry._serve(self, send_body=False)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # a short poll interval: stop() waits for serve_forever to notice, 0.5 s by default
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self._stopped = False

    def add(self, image_name: str, image: Image, tag: str | None = None) -> None:
        for child in getattr(image, "children", []):
            self.add(image_name, child)
        self.blobs.update(image.blobs)
        self.manifests[(image_name, image.digest)] = (image.media_type, image.manifest)
        if tag:
            self.tag_map[(image_name, tag)] = image.digest

    def move(self, image_name: str, tag: str, image: Image) -> None:
        self.add(image_name, image, tag)

    def count(self, path: str, method: str = "GET") -> int:
        with self._lock:
            return self.hits[(method, path)]

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self.httpd.shutdown()
            self.httpd.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler, send_body: bool) -> None:
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self.hits[(handler.command, path)] += 1
            self.accept[path] = handler.headers.get("Accept", "")
        try:
            if path == "/v2/":
                return self._send(handler, 200, b"{}", "application/json", send_body)
            if path.endswith("/tags/list"):
                name = path[len("/v2/"):-len("/tags/list")]
                tags = sorted(t for (image, t) in self.tag_map if image == name)
                return self._send(handler, 200, json.dumps({"name": name, "tags": tags}).encode(),
                                  "application/json", send_body)
            match = self._ROUTE.match(path)
            if match and match["kind"] == "manifests":
                ref = match["ref"]
                found = self.tag_map.get((match["name"], ref), ref)
                if (match["name"], found) in self.manifests:
                    time.sleep(self.manifest_delay)
                    media_type, data = self.manifests[(match["name"], found)]
                    return self._send(handler, 200, data, media_type, send_body, found)
            if match and match["kind"] == "blobs" and match["ref"] in self.blobs:
                return self._send(handler, 200, self.blobs[match["ref"]], "application/octet-stream", send_body,
                                  match["ref"], slow=True)
            code = "BLOB_UNKNOWN" if match and match["kind"] == "blobs" else "MANIFEST_UNKNOWN"
            self._send(handler, 404, json.dumps({"errors": [{"code": code, "message": "unknown"}]}).encode(),
                       "application/json", send_body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away; nothing to count beyond the request itself

    def _send(self, handler, status: int, data: bytes, content_type: str, send_body: bool, content_digest: str = "",
              slow: bool = False) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Docker-Distribution-API-Version", "registry/2.0")
        if content_digest:
            handler.send_header("Docker-Content-Digest", content_digest)
        handler.end_headers()
        if not send_body:
            return
        step = self.piece if slow else len(data) or 1
        for start in range(0, len(data), step):
            if slow and start and self.piece_delay:
                time.sleep(self.piece_delay)
            handler.wfile.write(data[start:start + step])
            handler.wfile.flush()
