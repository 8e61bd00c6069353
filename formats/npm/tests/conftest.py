"""Fixtures for the npm tests: users, repositories, a publish helper, a static upstream registry."""
from __future__ import annotations

import json

import pytest

from tests.format_fixtures import make_user, repo_maker  # noqa: F401  (make_user is a fixture)
from tests.servers import StaticServer

from .helpers import basic, publish_doc, upstream_packument


@pytest.fixture
def make_repo(db):
    return repo_maker("npm")


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def local(make_repo, alice):
    return make_repo("npm-local", grants={alice: "delete"})


@pytest.fixture
def publish(client):
    """PUT a publish document like npm does; returns the response."""

    def send(repo: str, doc: dict | None = None, name: str | None = None, version: str = "1.0.0", user="alice", **kw):
        doc = doc or publish_doc(name, version, **kw)
        url_name = (name or doc["name"]).replace("/", "%2f")
        return client.put(f"/repository/{repo}/{url_name}", data=json.dumps(doc), content_type="application/json",
                          **basic(user))

    return send


@pytest.fixture
def upstream(tmp_path):
    """A folder laid out as a registry: <name> is the packument, tarballs/<file> the tarballs."""
    servers = []

    class Upstream:
        def __init__(self):
            self.folder = tmp_path / "registry"
            (self.folder / "tarballs").mkdir(parents=True)
            self.server = StaticServer(self.folder)
            servers.append(self.server)
            self.url = self.server.url + "/"

        def add(self, name: str, versions: dict[str, bytes], **kw) -> dict:
            doc = upstream_packument(name, self.server.url, versions, **kw)
            short = name.rsplit("/", 1)[-1]
            for version, data in versions.items():
                (self.folder / "tarballs" / f"{short}-{version}.tgz").write_bytes(data)
            self.write(name, doc)
            return doc

        def write(self, name: str, doc: dict) -> None:
            path = self.folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc))

        def hits(self, prefix: str) -> int:
            return sum(1 for h in self.server.hits if h.startswith(prefix))

        def stop(self) -> None:
            if self.server in servers:
                servers.remove(self.server)
                self.server.stop()

    yield Upstream()
    for server in servers:
        server.stop()
