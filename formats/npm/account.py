"""npm's account endpoints: CouchDB-style login, whoami, logout (token revocation) and ping.

`PUT -/user/org.couchdb.user:NAME` with `{name, password}` checks the password (or an API
token) and answers 201 with a fresh Packyard API token, which npm stores as `_authToken`; it
is an ordinary token, listed and revocable under /api/v1/tokens/. No users are created here.
`DELETE -/user/token/<token>` revokes the caller's own token (`npm logout`).
"""
from __future__ import annotations

from urllib.parse import unquote

from django.http import JsonResponse

from formats.base import ApiToken, HttpError, audit, check_credentials, hash_token

from . import body as bodies

LOGIN_LIMIT = 64 * 1024
CHALLENGE = {"WWW-Authenticate": 'Basic realm="packyard"'}


def login(request, repository, raw_name: str) -> JsonResponse:
    name = unquote(raw_name)
    doc = bodies.read_json(request, LOGIN_LIMIT)
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not isinstance(doc.get("password"), str):
        raise HttpError(400, "send {name, password}")
    if doc["name"] != name:
        raise HttpError(400, f"the URL names {name!r} but the body names {doc['name']!r}")
    user, _ = check_credentials(name, doc["password"], request=request)
    if user is None:
        audit.record(request, "login", repository=repository, outcome="denied", actor=name, reason="npm login")
        raise HttpError(401, "incorrect username or password", CHALLENGE)
    token, raw = ApiToken.issue(user, "npm login")
    audit.record(request, "npm.login", repository=repository, actor=user.get_username(), token_id=token.pk)
    return JsonResponse({"ok": f"you are authenticated as '{user.get_username()}'", "token": raw,
                         "id": f"org.couchdb.user:{user.get_username()}"}, status=201)


def user_info(request, raw_name: str) -> JsonResponse:
    user = request.packyard_user
    if not user.is_authenticated:
        raise HttpError(401, "authentication required", CHALLENGE)
    name = unquote(raw_name)
    if name.lower() != user.get_username().lower():
        raise HttpError(404, "Not found")
    return JsonResponse({"_id": f"org.couchdb.user:{user.get_username()}", "name": user.get_username(),
                         "email": user.email or "", "type": "user", "roles": []})


def whoami(request) -> JsonResponse:
    user = request.packyard_user
    if not user.is_authenticated:
        raise HttpError(401, "authentication required", CHALLENGE)
    return JsonResponse({"username": user.get_username()})


def logout(request, repository, raw_token: str) -> JsonResponse:
    user = request.packyard_user
    if not user.is_authenticated:
        raise HttpError(401, "authentication required", CHALLENGE)
    deleted, _ = ApiToken.objects.filter(user=user, key_hash=hash_token(unquote(raw_token))).delete()
    if not deleted:
        raise HttpError(404, "no such token")
    audit.record(request, "npm.logout", repository=repository)
    return JsonResponse({"ok": True})


def ping(request) -> JsonResponse:
    response = JsonResponse({})
    response["Cache-Control"] = "no-store"
    return response
