"""`npm token list/create/revoke`: npm's token API (`-/npm/v1/tokens`) over the caller's Packyard API tokens.

    GET    -/npm/v1/tokens               {objects: [{key, token, name, created, updated, readonly, cidr_whitelist}], total, urls}
    POST   -/npm/v1/tokens               {password, name?, expires? (days), readonly?, cidr_whitelist?} -> 200 the new token
    DELETE -/npm/v1/tokens/token/<key>   revoke; <key> is a listed key or the token itself (npm sends either)

These are the same tokens as `/api/v1/tokens/` (the login ones included), so revoking in one place
revokes in both. `key` is the token's sha256 (what we store anyway): stable, unique, and useless
to an attacker, since the secret cannot be recovered from it. `token` is the stored prefix only.
A read-only token is an ordinary token capped at the `read` role. CIDR allow-lists and npm's
package/scope/org scoping are refused with 400 rather than silently ignored: we cannot enforce them.
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote

from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from formats.base import ApiToken, HttpError, audit, check_credentials, hash_token

from . import body as bodies

CREATE_LIMIT = 64 * 1024
CHALLENGE = {"WWW-Authenticate": 'Basic realm="packyard"'}
UNSUPPORTED = ("packages", "packages_all", "scopes", "orgs", "orgs_permission")
MAX_EXPIRES_DAYS = 3650


def _user(request):
    user = request.packyard_user
    if not user.is_authenticated:
        raise HttpError(401, "authentication required", CHALLENGE)
    return user


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def describe(token: ApiToken) -> dict:
    out = {"key": token.key_hash, "token": token.prefix, "name": token.name, "created": _iso(token.created),
           "updated": _iso(token.last_used or token.created), "readonly": token.role == "read",
           "cidr_whitelist": None}
    if token.expires_at:
        out["expires"] = _iso(token.expires_at)
    return out


def list_tokens(request) -> JsonResponse:
    user = _user(request)
    now = timezone.now()
    rows = [describe(t) for t in ApiToken.objects.filter(user=user).order_by("-created")
            if t.expires_at is None or t.expires_at > now]
    # Everything fits in one page: a user has a handful of tokens, and npm follows urls.next only when set.
    return JsonResponse({"objects": rows, "total": len(rows), "urls": {}})


def _readonly(doc: dict) -> bool:
    readonly = doc.get("readonly", False)
    permission = doc.get("packages_and_scopes_permission")
    if not isinstance(readonly, bool) or permission not in (None, "read-only", "read-write"):
        raise HttpError(400, "readonly must be a boolean; packages_and_scopes_permission read-only or read-write")
    return readonly or permission == "read-only"


def _expires(doc: dict):
    days = doc.get("expires")
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= MAX_EXPIRES_DAYS:
        raise HttpError(400, f"expires is a number of days from 1 to {MAX_EXPIRES_DAYS}")
    return timezone.now() + timedelta(days=days)


def create_token(request, repository) -> JsonResponse:
    user = _user(request)
    doc = bodies.read_json(request, CREATE_LIMIT)
    if not isinstance(doc, dict) or not isinstance(doc.get("password"), str):
        raise HttpError(400, "send {password, ...}: npm asks for your password to create a token")
    if doc.get("cidr_whitelist"):
        raise HttpError(400, "CIDR allow-lists are not supported by this registry; create the token without --cidr")
    asked = [k for k in UNSUPPORTED if doc.get(k)]
    if asked:
        raise HttpError(400, f"{', '.join(asked)} are not supported here; scope a token to repositories "
                             "with POST /api/v1/tokens/ instead")
    readonly, expires_at = _readonly(doc), _expires(doc)
    name = doc.get("name") if isinstance(doc.get("name"), str) and doc.get("name").strip() else "npm token create"
    # The confirmation must be the account password: a stolen token alone must not mint fresh tokens.
    confirmed, via_token = check_credentials(user.get_username(), doc["password"])
    if confirmed is None or confirmed.pk != user.pk or via_token is not None:
        audit.record(request, "npm.token.create", repository=repository, outcome="denied", reason="bad password")
        raise HttpError(401, "incorrect password", CHALLENGE)
    token, raw = ApiToken.issue(user, name[:150], expires_at=expires_at, role="read" if readonly else "manage")
    audit.record(request, "npm.token.create", repository=repository, token_id=token.pk, readonly=readonly)
    return JsonResponse({**describe(token), "token": raw})


def revoke_token(request, repository, raw_key: str) -> HttpResponse:
    user = _user(request)
    key = unquote(raw_key)
    # `npm token revoke <token>` sends the whole secret instead of a key: match it by its hash.
    hashes = {key, hash_token(key)}
    deleted, _ = ApiToken.objects.filter(user=user, key_hash__in=hashes).delete()
    if not deleted:
        raise HttpError(404, "no such token")
    audit.record(request, "npm.token.revoke", repository=repository)
    return HttpResponse(status=204)
