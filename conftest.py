"""Root pytest hooks: give each test run its own PostgreSQL test database, so runs never collide."""
import os


def pytest_configure(config):
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        db.setdefault("TEST", {})["NAME"] = f"test_packyard_{os.getpid()}"
