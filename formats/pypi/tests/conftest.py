"""Fixtures for the PyPI tests: users, repositories, a twine-shaped upload helper, static upstreams."""
from __future__ import annotations

import pytest

from tests.format_fixtures import make_user, repo_maker  # noqa: F401  (make_user is a fixture)
from tests.servers import StaticServer

from .helpers import Dist, basic, form_for


@pytest.fixture
def make_repo(db):
    return repo_maker("pypi")


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def local(make_repo, alice):
    return make_repo("py-local", grants={alice: "deploy"})


@pytest.fixture
def upload(client, alice):
    """POST a distribution like twine does; returns the response."""

    def send(repo_name: str, dist: Dist, auth: dict | None = None, url: str | None = None, **overrides):
        headers = basic("alice") if auth is None else auth
        return client.post(url or f"/repository/{repo_name}/", data=form_for(dist, **overrides), **headers)

    return send


@pytest.fixture
def upstream(tmp_path):
    """A PEP 503 folder served over HTTP: add(project, dist) writes the file and an HTML page."""
    servers = []

    class Upstream:
        def __init__(self):
            self.folder = tmp_path / "upstream"
            self.folder.mkdir()
            self.projects: dict[str, list[str]] = {}
            self.server = StaticServer(self.folder)
            servers.append(self.server)
            self.url = self.server.url
            self.index_url = f"{self.url}/simple/"

        def add(self, project: str, dist: Dist, sha256: str | None = None, extra_attrs: str = "") -> None:
            packages = self.folder / "packages"
            packages.mkdir(exist_ok=True)
            (packages / dist.filename).write_bytes(dist.content)
            link = (f'<a href="../../packages/{dist.filename}#sha256={sha256 or dist.sha256}"{extra_attrs}>'
                    f"{dist.filename}</a><br>")
            self.projects.setdefault(project, []).append(link)
            page = self.folder / "simple" / project / "index.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text("<!DOCTYPE html><html><body>" + "\n".join(self.projects[project]) + "</body></html>")

        def write_page(self, project: str, text: str) -> None:
            page = self.folder / "simple" / project / "index.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(text)

        def hits(self, prefix: str) -> int:
            return sum(1 for h in self.server.hits if h.startswith(prefix))

        def stop(self) -> None:
            if self.server in servers:
                servers.remove(self.server)
                self.server.stop()

    yield Upstream()
    for server in servers:
        server.stop()
