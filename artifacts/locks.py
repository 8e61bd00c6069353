"""Named locks that hold across processes: Redis when configured, else file locks.

Used for single-flight upstream fetches and to keep garbage collection and blob commits of the
same digest from interleaving. The embedded default runs several web processes on one machine,
so the fallback is an flock() on a file in the data folder, not a thread lock.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time

from django.conf import settings


class LockTimeout(Exception):
    pass


@contextlib.contextmanager
def named_lock(name: str, timeout: float = 120.0, ttl: float = 600.0):
    """Hold the lock `name` for the block; wait at most `timeout` seconds to get it.

    `ttl` bounds how long a crashed holder can keep a Redis lock.
    """
    if settings.PACKYARD_REDIS_URL:
        lock = _redis().lock(f"packyard:lock:{name}", timeout=ttl, blocking_timeout=timeout)
        if not lock.acquire():
            raise LockTimeout(name)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                lock.release()
        return
    folder = settings.PACKYARD_HOME / "locks"
    folder.mkdir(exist_ok=True)
    path = folder / hashlib.sha256(name.encode()).hexdigest()[:32]
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(name) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


_client = None


def _redis():
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(settings.PACKYARD_REDIS_URL)
    return _client
