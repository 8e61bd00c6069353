"""Docker token authentication: the /v2/token endpoint, the JWTs it signs, and the access check.

Flow (distribution's token spec, CONTRACT.md):
1. a request without credentials gets 401 + `WWW-Authenticate: Bearer realm="BASE/v2/token",
   service="packyard"[,scope="repository:NAME:pull,push"]`;
2. the client asks /v2/token (Basic password or API token, or nothing) for the scopes it needs;
   the endpoint grants the subset the caller's roles allow (pull=read, push=deploy, delete=delete,
   *=all of those it holds), capped by the API token's scopes when the password was one, and
   answers a short-lived HS256 JWT signed with SECRET_KEY;
3. every /v2 request carries `Bearer <jwt>` (or Basic, or a Packyard API token); `check()`
   requires the action in the token's `access` claim *and* the live role, so a revoked grant
   stops working before the token expires. A token lacking an action gets a fresh challenge with
   the scope and error="insufficient_scope", so the client can ask for a wider one.

A JWT issued for an API token carries that token's id (claim `api_token`, never the secret). Each
request presenting it looks the token up again (cached per process, accounts.auth.api_token_by_id)
and acts through it: a deleted or expired API token ends its JWTs at once (401 invalid_token), and
its scopes narrow the live role checks and the catalog exactly as with Basic credentials.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone as dt_timezone

import jwt
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import JsonResponse

from accounts import ldap as directory
from accounts.auth import AuthenticationFailed, active_user, api_token_by_id, authenticate as authenticate_header
from formats.base import Repository, base_url, can, find_repository

from .errors import API_VERSION, DockerError

SERVICE = "packyard"
ISSUER = "packyard"
TOKEN_SECONDS = 300
ROLE_FOR = {"pull": "read", "push": "deploy", "delete": "delete"}


@dataclass
class Principal:
    user: object
    api_token: object = None
    # The API token acted through (Basic or Bearer with its secret, or named by a JWT): its scopes cap every check.
    # access None: Basic / API token / anonymous (roles decide alone); else name -> actions the JWT grants
    access: dict[str, set[str]] | None = None
    scheme: str = ""

    @property
    def authenticated(self) -> bool:
        return self.user.is_authenticated


@dataclass
class Scope:
    type: str
    name: str
    actions: list[str] = field(default_factory=list)


def challenge(request, scope: str = "", error: str = "") -> dict:
    value = f'Bearer realm="{base_url(request)}/v2/token",service="{SERVICE}"'
    if scope:
        value += f',scope="{scope}"'
    if error:
        value += f',error="{error}"'
    return {"WWW-Authenticate": value}


def principal_of(request) -> Principal:
    """Who is calling: a Docker JWT, Basic credentials, a Packyard API token, or anonymous."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() == "bearer" and raw.strip().count(".") == 2:
        return _from_jwt(request, raw.strip())
    try:
        user, token = authenticate_header(request)  # audits failed logins
    except AuthenticationFailed as exc:
        raise _login_error(request, exc) from None
    return Principal(user, token, None, scheme.lower())


def _login_error(request, exc: AuthenticationFailed) -> "DockerError":
    """401 with a fresh challenge for wrong credentials; 429/503 (Retry-After) for throttling or a directory outage."""
    if exc.status == 401:
        return DockerError(401, "UNAUTHORIZED", f"authentication failed: {exc}",
                           headers=challenge(request, error="invalid_token"))
    code = "TOOMANYREQUESTS" if exc.status == 429 else "UNAVAILABLE"
    return DockerError(exc.status, code, str(exc), headers=exc.headers)


def _from_jwt(request, raw: str) -> Principal:
    try:
        claims = jwt.decode(raw, settings.SECRET_KEY, algorithms=["HS256"], audience=SERVICE, issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "access"]})
    except jwt.PyJWTError as exc:
        raise DockerError(401, "UNAUTHORIZED", f"invalid token: {exc}",
                          headers=challenge(request, error="invalid_token")) from None
    user = AnonymousUser()
    api_token = None
    if claims["sub"]:
        user = active_user(claims["sub"])
        if user is None:
            raise DockerError(401, "UNAUTHORIZED", "the token's user no longer exists",
                              headers=challenge(request, error="invalid_token"))
        # A directory user's groups are read again once older than PACKYARD_LDAP_CACHE_SECONDS, on
        # registry tokens too: a push token must not outlive its owner's team for its whole lifetime.
        try:
            current = not directory.enabled() or directory.refresh_if_stale(user)
        except AuthenticationFailed as exc:  # DirectoryUnavailable: 503
            raise _login_error(request, exc) from None
        if not current:
            raise DockerError(401, "UNAUTHORIZED", "the token's user is no longer in the directory",
                              headers=challenge(request, error="invalid_token"))
    if "api_token" in claims:
        # Issued for an API token: it must still exist and be unexpired, and its scopes apply on every
        # request, so revoking it ends its JWTs now rather than TOKEN_SECONDS later.
        api_token = api_token_by_id(claims["api_token"], user)
        if api_token is None:
            raise DockerError(401, "UNAUTHORIZED", "the API token this token was issued for was revoked or has expired",
                              headers=challenge(request, error="invalid_token"))
    access: dict[str, set[str]] = {}
    for entry in claims.get("access") or []:
        if isinstance(entry, dict) and entry.get("type") == "repository":
            access.setdefault(str(entry.get("name")), set()).update(entry.get("actions") or [])
    return Principal(user, api_token, access, "jwt")


def allowed(principal: Principal, action: str, repository: Repository, name: str) -> bool:
    if not can(principal.user, ROLE_FOR[action], repository, token=principal.api_token):
        return False
    if principal.access is None:
        return True
    granted = principal.access.get(name, set())
    return action in granted or "*" in granted


def check(request, principal: Principal, action: str, repository: Repository | None, name: str,
          scope_actions: str = "") -> None:
    """Raise the 401/403 a client understands unless `principal` may `action` on `name`."""
    if repository is not None and allowed(principal, action, repository, name):
        return
    if repository is None and principal.authenticated:
        raise DockerError(404, "NAME_UNKNOWN", f"repository {name.split('/')[0]!r} not found", {"name": name})
    scope = f"repository:{name}:{scope_actions or ('pull,push' if action == 'push' else action)}"
    if principal.access is not None:
        code = "DENIED" if principal.authenticated else "UNAUTHORIZED"
        raise DockerError(401, code, f"the token does not grant {action} on {name}",
                          {"Type": "repository", "Name": name, "Action": action},
                          headers=challenge(request, scope, "insufficient_scope"))
    if not principal.authenticated:
        raise DockerError(401, "UNAUTHORIZED", "authentication required",
                          {"Type": "repository", "Name": name, "Action": action}, headers=challenge(request, scope))
    raise DockerError(403, "DENIED", f"{principal.user.get_username()} may not {action} {name}",
                      {"Type": "repository", "Name": name, "Action": action})


def parse_scope(text: str) -> Scope | None:
    """`type:name:actions`, parsed from both ends because the name may carry `host:port/`."""
    first, last = text.find(":"), text.rfind(":")
    if first <= 0 or last <= first:
        return None
    kind, name, actions = text[:first], text[first + 1:last], text[last + 1:]
    kind = kind.split("(", 1)[0]
    return Scope(kind, strip_host(name), [a for a in actions.split(",") if a])


def strip_host(name: str) -> str:
    """`127.0.0.1:5000/repo/img` -> `repo/img`: a first component with a port or a dot that is
    not a repository of ours is a registry host."""
    head, sep, rest = name.partition("/")
    if not sep:
        return name
    if ":" in head or head == "localhost":
        return rest
    if "." in head and find_repository(head) is None:
        return rest
    return name


def grant(principal: Principal, scope: Scope) -> list[str]:
    if scope.type == "registry" and scope.name == "catalog":
        return ["*"] if "*" in scope.actions else []  # the catalog itself filters what it lists
    if scope.type != "repository":
        return []
    repo_name = scope.name.split("/", 1)[0]
    repository = find_repository(repo_name, "docker")
    if repository is None:
        return []
    wanted = list(ROLE_FOR) if "*" in scope.actions else scope.actions
    return [a for a in wanted if a in ROLE_FOR and can(principal.user, ROLE_FOR[a], repository,
                                                          token=principal.api_token)]


def issue(principal: Principal, scopes: list[Scope]) -> dict:
    now = int(time.time())
    access = []
    for scope in scopes:
        actions = grant(principal, scope)
        access.append({"type": scope.type, "name": scope.name, "actions": actions})
    claims = {
        "iss": ISSUER, "aud": SERVICE, "sub": principal.user.get_username() if principal.authenticated else "",
        "iat": now, "nbf": now - 5, "exp": now + TOKEN_SECONDS, "jti": uuid.uuid4().hex, "access": access,
    }
    if principal.api_token is not None:
        # Its id only (not secret, not the hash): _from_jwt re-checks the token and applies its scopes.
        claims["api_token"] = principal.api_token.pk
    token = jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")
    issued = datetime.fromtimestamp(now, dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"token": token, "access_token": token, "expires_in": TOKEN_SECONDS, "issued_at": issued}


def token_view(request):
    """GET /v2/token?service=&scope=... (Basic or anonymous), and the OAuth2 POST password form."""
    if request.method == "GET":
        scopes_text = request.GET.getlist("scope")
        principal = principal_of(request)
        if principal.scheme == "jwt":
            raise DockerError(401, "UNAUTHORIZED", "present a password or API token, not a registry token",
                              headers=challenge(request))
    elif request.method == "POST":
        form = request.POST
        if form.get("grant_type") != "password":
            raise DockerError(400, "UNSUPPORTED", "only grant_type=password is supported (no refresh tokens)")
        from accounts.auth import check_credentials

        try:
            user, api_token = check_credentials(form.get("username", ""), form.get("password", ""), request=request)
        except AuthenticationFailed as exc:
            raise _login_error(request, exc) from None
        if user is None:
            from formats.base import audit

            audit.record(request, "login", outcome="denied", actor=form.get("username", ""), reason="invalid credentials")
            raise DockerError(401, "UNAUTHORIZED", "invalid credentials")
        principal = Principal(user, api_token, None, "basic")
        scopes_text = form.get("scope", "").split()
    else:
        raise DockerError(405, "UNSUPPORTED", "use GET (or POST) on the token endpoint", headers={"Allow": "GET, POST"})
    scopes = []
    for value in scopes_text:
        for part in value.split(" "):
            parsed = parse_scope(part) if part else None
            if parsed is not None:
                scopes.append(parsed)
    answer = issue(principal, scopes)
    if request.method == "POST":
        answer["scope"] = " ".join(f"{s.type}:{s.name}:{','.join(s.actions)}" for s in scopes)
    response = JsonResponse(answer)
    for key, value in API_VERSION.items():
        response[key] = value
    response["Cache-Control"] = "no-store"
    return response
