"""Turn a request's Authorization header into a user: Basic (password or token) or Bearer token.

`authenticate(request)` returns (user, token) where user may be AnonymousUser; bad credentials
raise AuthenticationFailed, which every client protocol renders as its own 401. A verified
password is remembered for a minute (keyed by a hash of the credentials and the stored password
hash) so a pip install with a password does not pay PBKDF2 on each of its requests.
"""
from __future__ import annotations

import base64
import binascii
import hashlib

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.utils import timezone

from .models import TOKEN_PREFIX, ApiToken, hash_token

PASSWORD_CACHE_SECONDS = 60


class AuthenticationFailed(Exception):
    pass


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _token_user(raw: str):
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
    if token is None or token.is_expired() or not token.user.is_active:
        return None, None
    now = timezone.now()
    if token.last_used is None or (now - token.last_used).total_seconds() > 30:
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
        token.last_used = now
    return token.user, token


def find_user(username: str):
    """The user a login name means: usernames are unique regardless of case, so match without it."""
    if not username:
        return None
    User = get_user_model()
    # An exact match wins in case rows that differ only in case predate the case-insensitive rule.
    return User.objects.filter(username=username).first() or User.objects.filter(username__iexact=username).first()


def _password_user(username: str, password: str):
    user = find_user(username)
    if user is None or not user.is_active or not user.has_usable_password():
        # Hash anyway so a wrong username costs as long as a wrong password (no user enumeration by timing).
        get_user_model()().set_password(password)
        return None
    fingerprint = hashlib.sha256(f"{user.pk}\0{password}\0{user.password}".encode()).hexdigest()
    cache_key = f"pwok:{fingerprint}"
    if cache.get(cache_key):
        return user
    if user.check_password(password):
        cache.set(cache_key, True, PASSWORD_CACHE_SECONDS)
        return user
    return None


def check_credentials(username: str, secret: str):
    """(user, token) for a username with a password or API token; (None, None) when wrong."""
    if secret.startswith(TOKEN_PREFIX):
        user, token = _token_user(secret)
        # Any username is accepted with a token (twine's __token__, npm, docker); the token decides.
        if user is not None:
            return user, token
        # Not a live token: it may still be a password that happens to start like one.
    user = _password_user(username, secret)
    return (user, None) if user else (None, None)


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
        user, token = check_credentials(*parsed)
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


def _failed(request, username: str, reason: str):
    from repositories import audit

    audit.record(request, "login", outcome="denied", actor=username, reason=reason)
    raise AuthenticationFailed(reason)


