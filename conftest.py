"""Root pytest hooks for the in-process (pytest-django) tests.

- each run gets its own PostgreSQL test database, so concurrent runs never collide;
- passwords use a fast hasher here only: these tests check who may do what, not PBKDF2's cost.
  Servers started by the tests (tests/servers.py) keep the production hashers;
- each test starts with no failed logins counted (accounts.throttle keeps them in the cache,
  which outlives a test).
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
