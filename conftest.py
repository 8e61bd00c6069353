"""Root pytest hooks for the in-process (pytest-django) tests.

- each run gets its own PostgreSQL test database, so concurrent runs never collide;
- passwords use a fast hasher here only: these tests check who may do what, not PBKDF2's cost.
  Servers started by the tests (tests/servers.py) keep the production hashers.
"""
import os


def pytest_configure(config):
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        db.setdefault("TEST", {})["NAME"] = f"test_packyard_{os.getpid()}"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
