"""The `packyard` command: help and version, `serve` health, the embedded default, clean SIGTERM."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from artifacts.storage import key_for
from packyard import __version__

from .servers import ROOT, PackyardServer
from .test_gc import server_blob


def packyard(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed console script (the entry point users get from pip)."""
    script = Path(sys.executable).with_name("packyard")
    return subprocess.run([str(script), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_version():
    result = packyard("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"packyard {__version__}"


@pytest.mark.parametrize("command, expected", [
    ("serve", ["--bind", "--workers", "--no-worker"]),
    ("worker", ["--concurrency", "--beat"]),
])
def test_command_help(command, expected):
    result = packyard(command, "--help")
    assert result.returncode == 0, result.stderr
    for option in expected:
        assert option in result.stdout


def test_manage_passes_through_to_django():
    result = packyard("manage", "--help")
    assert result.returncode == 0, result.stderr
    assert "Available subcommands" in result.stdout
    assert re.search(r"\[artifacts\]\s+gc\b", result.stdout)  # our own command is listed
    gc_help = packyard("manage", "gc", "--help")
    assert gc_help.returncode == 0 and "--dry-run" in gc_help.stdout
    assert packyard("manage", "no-such-command").returncode != 0


def session_processes(sid: int) -> list[int]:
    """Live (non-zombie) processes in session `sid`: the server was started as a session leader,
    so every process it ever spawned, in whatever process group, is in that session."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def embedded(request):
    """A server on the embedded default even when the suite runs on PostgreSQL and Redis."""
    saved = {name: os.environ.pop(name) for name in ("PACKYARD_DATABASE_URL", "PACKYARD_REDIS_URL") if name in os.environ}
    try:
        server = PackyardServer()
    finally:
        os.environ.update(saved)
    yield server
    server.stop()


def test_embedded_default_serves(embedded):
    assert "PACKYARD_DATABASE_URL" not in embedded.env and "PACKYARD_REDIS_URL" not in embedded.env
    assert requests.get(embedded.url + "/health/live", timeout=10).status_code == 200
    ready = requests.get(embedded.url + "/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "storage": "ok", "broker": "ok"}
    assert (embedded.home / "packyard.sqlite3").exists()


def test_embedded_worker_runs_tasks(embedded):
    sha = server_blob(embedded, os.urandom(2048))
    path = embedded.home / "blobs" / key_for(sha)
    assert path.exists()
    embedded.collect_garbage_until_gone(path)


def test_sigterm_stops_everything(embedded):
    leader = embedded.process.pid
    before = session_processes(leader)
    # The supervisor, gunicorn's master and its workers, Celery's worker and pool at least.
    assert len(before) >= 5, before
    embedded.process.send_signal(signal.SIGTERM)
    assert embedded.process.wait(timeout=30) == 0
    deadline = time.monotonic() + 5
    while session_processes(leader) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert session_processes(leader) == [], embedded.log()[-3000:]
