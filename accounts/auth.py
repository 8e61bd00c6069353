"""Turn a request's Authorization header into a user: Basic (password or token) or Bearer token.

`authenticate(request)` returns (user, token) where user may be AnonymousUser; bad credentials
raise AuthenticationFailed, which every client protocol renders as its own 401 (its subclasses
LoginThrottled and DirectoryUnavailable carry 429 and 503, accounts.errors).

A password login (`password_login`) checks, in order: the throttle (accounts.throttle), a local
account with a usable password (never the directory for it, so local accounts stay fast when the
directory is down), then the LDAP directory (accounts.ldap) for anyone else but service accounts.
A verified local password is remembered for a minute (keyed by a hash of the credentials and the
stored password hash) so a pip install with a password does not pay PBKDF2 on each of its requests.
Every authenticated use of a directory user, API tokens included, refreshes their groups once
they are older than PACKYARD_LDAP_CACHE_SECONDS (accounts.ldap.refresh_if_stale).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.utils import timezone

from . import ldap as directory
from . import throttle
from .errors import AuthenticationFailed, DirectoryUnavailable, LoginThrottled  # noqa: F401  (re-exported)
from repositories import hotcache

from .models import TOKEN_PREFIX, ApiToken, ServiceAccount, hash_token

PASSWORD_CACHE_SECONDS = 60
# Per process, in front of the shared cache: the fingerprint covers the stored hash, so a changed
# password never matches an old entry, and whether the account is active is checked on every use.
_verified: dict[str, float] = {}
# When this process last wrote each token's last_used (cached token rows keep the value they were read with).
_last_used_written: dict[str, object] = {}


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _token_user(raw: str):
    key_hash = hash_token(raw)
    token = hotcache.instance(ApiToken, hotcache.lookup(
        "token", key_hash, lambda: hotcache.row(ApiToken, ApiToken.objects.filter(key_hash=key_hash))))
    if token is None or token.is_expired():
        return None, None
    user = _user_by_pk(token.user_id)
    if user is None or not user.is_active:
        return None, None
    if not directory.refresh_if_stale(user):
        return None, None  # the owner left the directory: their tokens go with them
    token.user = user
    now = timezone.now()
    last_used = max(filter(None, (token.last_used, _last_used_written.get(key_hash))), default=None)
    if last_used is None or (now - last_used).total_seconds() > 30:
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)  # no signal: cached rows stay valid
        _last_used_written[key_hash] = now
        last_used = now
    token.last_used = last_used
    return user, token


def api_token_by_id(token_id, user):
    """`user`'s live API token with this id, or None once it was deleted (revoked) or has expired.

    Docker registry JWTs name the API token they were issued for by id (never by its secret), so
    every request presenting one re-checks the token and applies its scopes. Cached per process like
    the lookup by secret: deleting or saving a token bumps the hotcache stamp, so a revocation is
    seen at the next request without a query per request.
    """
    if type(token_id) is not int or user is None or not user.is_authenticated:
        return None
    token = hotcache.instance(ApiToken, hotcache.lookup(
        "token-pk", token_id, lambda: hotcache.row(ApiToken, ApiToken.objects.filter(pk=token_id))))
    # A JWT names its user (sub) and its token apart: the token must be that user's, so no claim can
    # pair one user's identity with another user's token.
    if token is None or token.is_expired() or token.user_id != user.pk:
        return None
    token.user = user
    return token


def _user_by_pk(pk):
    User = get_user_model()
    return hotcache.instance(User, hotcache.lookup("user-pk", pk, lambda: hotcache.row(User, User.objects.filter(pk=pk))))


def find_user(username: str):
    """The user a login name means: usernames are unique regardless of case, so match without it."""
    if not username or "\x00" in username:
        return None  # no username holds NUL, and PostgreSQL refuses it in a query
    User = get_user_model()

    def load():
        # An exact match wins in case rows that differ only in case predate the case-insensitive rule.
        return (hotcache.row(User, User.objects.filter(username=username))
                or hotcache.row(User, User.objects.filter(username__iexact=username)))

    return hotcache.instance(User, hotcache.lookup("user", username, load))


def active_user(username: str):
    """The active user with exactly this username, or None (registry tokens name their user so)."""
    User = get_user_model()
    user = hotcache.instance(User, hotcache.lookup(
        "user-exact", username, lambda: hotcache.row(User, User.objects.filter(username=username))))
    return user if user is not None and user.is_active else None


def is_service_account(user) -> bool:
    return user is not None and ServiceAccount.objects.filter(user_id=user.pk).exists()


def _password_user(username: str, password: str):
    user = find_user(username)
    if user is None or not user.has_usable_password():
        if directory.enabled() and not is_service_account(user):
            return directory.login(username, password)
        # Hash anyway so a wrong username costs as long as a wrong password (no user enumeration by timing).
        get_user_model()().set_password(password)
        return None
    if not user.is_active:
        get_user_model()().set_password(password)
        return None
    fingerprint = hashlib.sha256(f"{user.pk}\0{password}\0{user.password}".encode()).hexdigest()
    if _verified.get(fingerprint, 0) > time.monotonic():
        return user
    cache_key = f"pwok:{fingerprint}"
    if cache.get(cache_key) or user.check_password(password):
        cache.set(cache_key, True, PASSWORD_CACHE_SECONDS)
        _remember_verified(fingerprint)
        return user
    return None


def password_login(username: str, password: str, request=None):
    """The user a username and password log in, or None; throttled when `request` tells the address.

    Raises LoginThrottled (429) while the (username, address) pair or the address is locked out, and
    DirectoryUnavailable (503) when the directory user cannot be checked.
    """
    address = client_address(request) if request is not None else None
    had_failures = False
    if address is not None:
        wait, had_failures = throttle.check(username, address)
        if wait:
            _audit(request, "login", outcome="throttled", actor=username, reason="too many failed logins",
                   retry_after=wait)
            raise LoginThrottled(wait)
    user = _password_user(username, password)
    if address is not None:
        if user is None:
            started = throttle.failed(username, address)
            if started:
                _audit(request, "login.lockout", outcome="denied", actor=username, seconds=started)
        elif had_failures:
            throttle.succeeded(username, address)
    return user


def check_credentials(username: str, secret: str, request=None):
    """(user, token) for a username with a password or API token; (None, None) when wrong.

    Pass the request so password failures count towards throttling (then LoginThrottled may be
    raised); DirectoryUnavailable may be raised either way. Both are AuthenticationFailed.
    """
    if secret.startswith(TOKEN_PREFIX):
        user, token = _token_user(secret)
        # Any username is accepted with a token (twine's __token__, npm, docker); the token decides.
        if user is not None:
            return user, token
        # Not a live token: it may still be a password that happens to start like one.
    user = password_login(username, secret, request=request)
    return (user, None) if user else (None, None)


def _remember_verified(fingerprint: str) -> None:
    now = time.monotonic()
    if len(_verified) > 10000:
        for key in [k for k, until in _verified.items() if until <= now]:
            _verified.pop(key, None)
    _verified[fingerprint] = now + PASSWORD_CACHE_SECONDS


def parse_basic(header: str) -> tuple[str, str] | None:
    try:
        raw = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True)
    except (IndexError, binascii.Error):
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        # RFC 7617: without a charset parameter some clients (curl on old systems) send Latin-1.
        decoded = raw.decode("latin-1")
    if ":" not in decoded:
        return None
    username, _, password = decoded.partition(":")
    return username, password


def authenticate(request):
    """(user, token) from the Authorization header; AnonymousUser when there is none."""
    cached = getattr(request, "_packyard_auth", None)
    if cached is not None:
        return cached
    header = request.headers.get("Authorization", "")
    scheme = header.split(" ", 1)[0].lower() if header else ""
    if not header:
        result = (AnonymousUser(), None)
    elif scheme == "basic":
        parsed = parse_basic(header)
        if parsed is None:
            _failed(request, "", "malformed basic credentials")
        try:
            user, token = check_credentials(*parsed, request=request)
        except DirectoryUnavailable as exc:
            _audit(request, "login", outcome="error", actor=parsed[0], reason=str(exc))
            raise
        if user is None:
            _failed(request, parsed[0], "invalid credentials")
        result = (user, token)
    elif scheme == "bearer":
        raw = header.split(" ", 1)[1].strip() if " " in header else ""
        user, token = _token_user(raw) if raw.startswith(TOKEN_PREFIX) else (None, None)
        if user is None:
            _failed(request, "", "invalid bearer token")
        result = (user, token)
    else:
        _failed(request, "", f"unsupported authorization scheme {scheme!r}")
    request._packyard_auth = result
    return result


def _audit(request, action: str, **detail):
    from repositories import audit

    if "actor" in detail:
        # A login name is whatever the client sent; NUL cannot be stored (PostgreSQL), so show it escaped.
        detail["actor"] = detail["actor"].replace("\x00", "\\x00")
    audit.record(request, action, **detail)


def _failed(request, username: str, reason: str):
    _audit(request, "login", outcome="denied", actor=username, reason=reason)
    raise AuthenticationFailed(reason)


