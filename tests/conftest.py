"""Shared fixtures: a running `packyard serve`, static upstream servers (tests/servers.py), OpenLDAP (tests/ldap_server.py)."""
from __future__ import annotations

import pytest

from .ldap_server import LdapServer
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


@pytest.fixture(scope="session")
def slapd():
    """One real OpenLDAP server for the session; tests that change the directory put it back."""
    server = LdapServer()
    yield server
    server.stop()
