"""Shared fixtures: a running `packyard serve` and static upstream servers (see tests/servers.py)."""
from __future__ import annotations

import pytest

from .servers import PackyardServer, StaticServer


@pytest.fixture(scope="session")
def packyard():
    """One `packyard serve` (web + worker) for the whole session; tests use unique repository names."""
    server = PackyardServer()
    yield server
    server.stop()


@pytest.fixture
def static_server():
    servers = []

    def start(folder):
        server = StaticServer(folder)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
