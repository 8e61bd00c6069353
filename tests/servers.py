"""Real processes for tests: `packyard serve` on a free port, and a static HTTP server over a folder.

Each Packyard gets its own data folder, its own database (a fresh PostgreSQL database when the
suite runs on PostgreSQL, else SQLite in the folder) and its own Redis database number, so
servers never see each other's tasks or rows.
"""
from __future__ import annotations

import functools
import http.server
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import requests

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "admin-secret-pw"
_redis_db = itertools.count(1)


def require_tool(name: str) -> str:
    """The path of a client the tests drive; a missing one fails the test (make test installs them)."""
    path = shutil.which(name)
    assert path, f"{name} is not installed: `make test` installs it (scripts/debian-packages.sh, Makefile)"
    return path


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up: {last}")


def _postgres_url_for(name: str) -> str | None:
    base = os.environ.get("PACKYARD_DATABASE_URL", "")
    if not base.startswith("postgres"):
        return None
    import psycopg

    parsed = urlparse(base)
    admin = parsed._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return parsed._replace(path=f"/{name}").geturl()


def _drop_postgres(name: str) -> None:
    import psycopg

    parsed = urlparse(os.environ["PACKYARD_DATABASE_URL"])
    admin = parsed._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PackyardServer:
    def __init__(self, extra_env: dict | None = None, worker: bool = True, workers: int = 2):
        self.home = Path(tempfile.mkdtemp(prefix="packyard-test-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin = ("admin", ADMIN_PASSWORD)
        self._dbname = f"packyard_t_{uuid.uuid4().hex[:12]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PACKYARD_")}
        env.update({"PACKYARD_HOME": str(self.home), "PACKYARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
                    # One session server takes every test's deliberate wrong passwords from 127.0.0.1;
                    # tests of throttling itself pass their own thresholds in extra_env.
                    "PACKYARD_LOGIN_MAX_FAILURES": "100000", "PACKYARD_LOGIN_MAX_FAILURES_PER_ADDRESS": "100000"})
        db_url = _postgres_url_for(self._dbname)
        self._uses_postgres = db_url is not None
        if db_url:
            env["PACKYARD_DATABASE_URL"] = db_url
        redis_url = os.environ.get("PACKYARD_REDIS_URL")
        if redis_url:
            env["PACKYARD_REDIS_URL"] = redis_url.rsplit("/", 1)[0] + f"/{next(_redis_db) % 16}"
        env.update(extra_env or {})
        self.env = env
        cmd = [sys.executable, "-m", "packyard.cli", "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)]
        if not worker:
            cmd.append("--no-worker")
        self.log_path = self.home / "server.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        try:
            wait_for(self.url + "/health/live")
        except Exception:
            self.stop()
            raise RuntimeError("packyard serve failed:\n" + self.log_path.read_text()[-4000:])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def api(self, method: str, path: str, auth=None, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.url}/api/v1/{path.lstrip('/')}", auth=auth or self.admin, timeout=30, **kwargs)

    def create_repo(self, name: str, fmt: str, kind: str = "local", **fields) -> dict:
        response = self.api("POST", "repositories/", json={"name": name, "format": fmt, "kind": kind, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    def create_user(self, username: str, password: str, **fields) -> dict:
        response = self.api("POST", "users/", json={"username": username, "password": password, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    def ensure_user(self, username: str, password: str) -> None:
        """Create the user unless another test module of this session's server already did."""
        if self.api("GET", f"users/{username}/").status_code == 404:
            self.create_user(username, password)

    def grant(self, repo: str, role: str, user: str | None = None, team: str | None = None) -> dict:
        body = {"role": role, **({"user": user} if user else {}), **({"team": team} if team else {})}
        response = self.api("POST", f"repositories/{repo}/permissions/", json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "packyard.cli", "manage", *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)

    def collect_garbage_until_gone(self, path, timeout: float = 30) -> None:
        """Send artifacts.tasks.collect_garbage through the broker to this server's Celery worker,
        then wait for `path` (a blob file) to go. A 60 s grace, not 0, so blobs other tests are
        uploading to this server at the same moment are left alone."""
        sent = self.manage("shell", "-c", "from artifacts.tasks import collect_garbage\n"
                                          "collect_garbage.delay(grace_seconds=60)")
        assert sent.returncode == 0, sent.stderr
        deadline = time.monotonic() + timeout
        while path.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not path.exists(), self.log()[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        if self._uses_postgres:
            _drop_postgres(self._dbname)
        shutil.rmtree(self.home, ignore_errors=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class StaticServer:
    """A plain HTTP server over a folder on 127.0.0.1 (an upstream for remote repositories)."""

    def __init__(self, folder: Path, delay: float = 0.0):
        self.folder = Path(folder)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.hits: list[str] = []
        hits = self.hits

        class Handler(_QuietHandler):
            def do_GET(self):
                hits.append(self.path)
                if delay:
                    time.sleep(delay)  # a slow upstream, so concurrent misses overlap
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), functools.partial(Handler, directory=str(self.folder)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
