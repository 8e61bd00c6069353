"""Fixtures for the Maven tests: users, repositories, a PUT helper like mvn's, a static upstream."""
from __future__ import annotations

import base64

import pytest
from django.contrib.auth import get_user_model

from tests.format_fixtures import make_user, repo_maker  # noqa: F401  (make_user is a fixture)
from tests.servers import StaticServer

PASSWORD = "pw-for-tests"


def basic(username: str, password: str = PASSWORD) -> dict:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def make_repo(db):
    make = repo_maker("maven")

    def make_maven(name: str, kind: str = "local", maven=None, **fields):
        return make(name, kind, settings={"maven": maven} if maven is not None else None, **fields)

    return make_maven


@pytest.fixture
def put(client):
    def send(repo: str, path: str, body: bytes, user: str = "alice", **extra):
        headers = basic(user) if user else {}
        return client.put(f"/repository/{repo}/{path}", data=body, content_type="application/octet-stream",
                          **headers, **extra)

    return send


@pytest.fixture
def get(client):
    def fetch(repo: str, path: str, user: str = "alice", **extra):
        headers = basic(user) if user else {}
        return client.get(f"/repository/{repo}/{path}", **headers, **extra)

    return fetch


@pytest.fixture
def upstream(tmp_path):
    """A Maven layout folder served over HTTP; write(path, bytes) adds or replaces a file, remove(path) drops it."""
    folder = tmp_path / "upstream"
    folder.mkdir()
    server = StaticServer(folder)

    class Upstream:
        url = server.url + "/"

        def write(self, path: str, data: bytes) -> None:
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

        def remove(self, path: str) -> None:
            (folder / path).unlink()

        def hits(self, suffix: str) -> int:
            return sum(1 for h in server.hits if h.endswith(suffix))

        def stop(self) -> None:
            server.stop()

    yield Upstream()
    try:
        server.stop()
    except Exception:
        pass
