"""Login throttling: too many failed password logins lock out a (username, address) pair, or an address.

Two counters, each a fixed window of PACKYARD_LOGIN_FAILURE_WINDOW seconds in Django's cache
(Redis when configured, else the file cache every worker process shares):
- failures for one username from one address (PACKYARD_LOGIN_MAX_FAILURES, default 10);
- failures from one address over all usernames (PACKYARD_LOGIN_MAX_FAILURES_PER_ADDRESS, default 100).
Crossing either locks that key for PACKYARD_LOGIN_LOCKOUT_SECONDS: logins there are refused with 429
and Retry-After, without looking at the password, so guessing stops paying.

Why not a lock per username alone: anyone could then lock any colleague out by failing logins
in their name. Keyed by (username, address), the owner logging in from their own machine is
never blocked by someone else's failures; the price is that a guesser spread over many
addresses is slowed per address only (docs/ldap.md, "Login throttling").

A successful login clears its (username, address) counter, not the address one, so a caller
with one valid account cannot reset the count of their guesses against others.
API tokens are not throttled: 240 random bits are not worth guessing.
"""
from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{getattr(settings, 'PACKYARD_LOGIN_THROTTLE_PREFIX', 'login')}:{kind}:{digest}"


def _keys(username: str, address: str) -> list[tuple[str, str, int]]:
    """(failure counter, lock key, threshold) for each counter that applies."""
    keys = [(_key("fail", username.lower(), address), _key("lock", username.lower(), address),
             settings.PACKYARD_LOGIN_MAX_FAILURES)]
    if address:
        keys.append((_key("fail-addr", address), _key("lock-addr", address),
                     settings.PACKYARD_LOGIN_MAX_FAILURES_PER_ADDRESS))
    return keys


def check(username: str, address: str) -> tuple[int, bool]:
    """(seconds until a login for `username` from `address` is accepted again, 0 when it is now;
    whether that pair has failures counted) in one cache round trip, as every password login asks."""
    now = time.time()
    keys = _keys(username, address)
    counter = keys[0][0]
    found = cache.get_many([lock for _, lock, limit in keys if limit] + [counter])
    remaining = [until - now for key, until in found.items() if key != counter and until]
    wait = max(1, math.ceil(max(remaining))) if remaining and max(remaining) > 0 else 0
    return wait, bool(found.get(counter))


def failed(username: str, address: str) -> int:
    """Count one failed login; returns the lockout just started (seconds), else 0."""
    window = settings.PACKYARD_LOGIN_FAILURE_WINDOW
    lockout = settings.PACKYARD_LOGIN_LOCKOUT_SECONDS
    started = 0
    for counter, lock, limit in _keys(username, address):
        if not limit:
            continue  # a threshold of 0 turns this counter off
        cache.add(counter, 0, window)
        try:
            count = cache.incr(counter)
        except ValueError:  # expired between add and incr
            cache.set(counter, 1, window)
            count = 1
        if count >= limit and lockout:
            cache.set(lock, time.time() + lockout, lockout)
            cache.delete(counter)
            started = lockout
    return started


def succeeded(username: str, address: str) -> None:
    counter, _, _ = _keys(username, address)[0]
    cache.delete(counter)
