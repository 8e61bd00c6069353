"""Reads Packyard's environment variables (CONTRACT.md) into one typed Config object.

Everything a process needs to know about its deployment comes from here, so the web server,
the worker and the tests agree on the data folder, database, broker and storage.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

GIB = 1024**3


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Config:
    home: Path
    database_url: str
    redis_url: str | None
    storage_url: str
    s3_endpoint_url: str | None
    base_url: str | None
    admin_password: str | None
    max_upload_bytes: int
    debug: bool

    @property
    def secret_key(self) -> str:
        explicit = os.environ.get("PACKYARD_SECRET_KEY")
        if explicit:
            return explicit
        # Generated once and kept beside the data so restarts keep sessions and tokens valid.
        path = self.home / "secret_key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_urlsafe(50))
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        return path.read_text().strip()


def load() -> Config:
    env = os.environ
    home = Path(env.get("PACKYARD_HOME") or "./packyard-data").resolve()
    return Config(
        home=home,
        database_url=env.get("PACKYARD_DATABASE_URL") or f"sqlite:///{home / 'packyard.sqlite3'}",
        redis_url=env.get("PACKYARD_REDIS_URL") or None,
        storage_url=env.get("PACKYARD_STORAGE_URL") or f"file://{home / 'blobs'}",
        s3_endpoint_url=env.get("PACKYARD_S3_ENDPOINT_URL") or None,
        base_url=(env.get("PACKYARD_BASE_URL") or "").rstrip("/") or None,
        admin_password=env.get("PACKYARD_ADMIN_PASSWORD") or None,
        max_upload_bytes=int(env.get("PACKYARD_MAX_UPLOAD_BYTES") or 20 * GIB),
        debug=_bool(env.get("PACKYARD_DEBUG"), False),
    )
