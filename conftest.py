"""Root pytest hooks for the in-process (pytest-django) tests.

- each run gets its own PostgreSQL test database, so concurrent runs never collide;
- passwords use a fast hasher here only: these tests check who may do what, not PBKDF2's cost.
  Servers started by the tests (tests/servers.py) keep the production hashers;
- each test starts with no failed logins counted (accounts.throttle keeps them in the cache,
  which outlives a test), and with no per-process copies of rows (repositories.hotcache): a
  rolled-back test sends no signals, so the next test could otherwise see its repositories;
- `blob_root`, for modules that count or collect stored files: a blob folder of the test's own.
"""
import os
import uuid

import pytest


def pytest_configure(config):
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        db.setdefault("TEST", {})["NAME"] = f"test_packyard_{os.getpid()}"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_login_throttle(settings):
    settings.PACKYARD_LOGIN_THROTTLE_PREFIX = f"login-{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def _fresh_hotcache():
    from repositories import hotcache

    hotcache.reset()


class _DocumentClient:
    """Mixin for Django's test client: rendered documents (artifacts.documents) are FileResponses so
    gunicorn can sendfile them; in-process tests read them like any JSON or HTML answer."""

    def request(self, **request):
        response = super().request(**request)
        if getattr(response, "packyard_document", False):
            from django.http import HttpResponse

            plain = HttpResponse(b"".join(response.streaming_content), status=response.status_code)
            for key, value in response.items():
                plain[key] = value
            for attr in ("wsgi_request", "request", "client", "resolver_match", "templates", "context"):
                if hasattr(response, attr):
                    setattr(plain, attr, getattr(response, attr))
            plain.json = lambda **extra: self._parse_json(plain, **extra)
            for close in response._resource_closers:  # not response.close(): it would end the test's DB connection
                close()
            return plain
        return response


def _client_class():
    from django.test import Client

    return type("DocumentClient", (_DocumentClient, Client), {})


import pytest  # noqa: E402


@pytest.fixture
def client():
    return _client_class()()


@pytest.fixture
def blob_root(settings, tmp_path):
    """The test's own blob storage, so 'one file' or 'collected' means this test's files only."""
    from artifacts.storage import get_storage

    settings.PACKYARD_STORAGE_URL = f"file://{tmp_path}/blobs"
    get_storage.cache_clear()
    yield tmp_path / "blobs"
    get_storage.cache_clear()
