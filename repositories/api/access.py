"""How API views find a repository and check the caller's role on it; audit helpers for writes.

The rules every repository endpoint follows (decisions themselves are repositories.permissions.can):
- a repository the caller may not read answers as if it did not exist: 404 for a signed-in caller,
  401 (with a Basic challenge) for an anonymous one, whether or not the name exists, so neither
  leaks which private repositories there are;
- a repository the caller may read but lacks the needed role on answers 403 (401 when anonymous);
- a denied write is recorded in the audit log with outcome "denied".
"""
from __future__ import annotations

from rest_framework import exceptions

from accounts.models import ApiToken
from repositories import audit
from repositories.models import Repository
from repositories.permissions import can


def token_of(request):
    """The API token the caller authenticated with, if any (passed on to permissions.can)."""
    return request.auth if isinstance(request.auth, ApiToken) else None


def allowed(request, action: str, repository: Repository) -> bool:
    return can(request.user, action, repository, token=token_of(request))


def record(request, action: str, repository=None, path: str = "", outcome: str = "ok", **detail):
    """audit.record for a DRF request (the audit module reads the Django request)."""
    return audit.record(getattr(request, "_request", request), action, repository=repository, path=path,
                        outcome=outcome, **detail)


def deny(request, message: str, audit_action: str | None = None, repository=None):
    """Raise 401 for anonymous callers, else 403; a denied write is audited first."""
    if audit_action:
        record(request, audit_action, repository=repository, outcome="denied", reason=message)
    if not request.user.is_authenticated:
        raise exceptions.NotAuthenticated()
    raise exceptions.PermissionDenied(message)


def repository_for(request, name: str, action: str = "read", audit_action: str | None = None) -> Repository:
    """The repository `name` if the caller may read it and holds `action` on it (see module docstring)."""
    repository = Repository.objects.select_related("deploy_to").filter(name=name).first()
    if repository is None or not allowed(request, "read", repository):
        if not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        raise exceptions.NotFound(f"repository {name!r} not found")
    if action != "read" and not allowed(request, action, repository):
        deny(request, f"{request.user.get_username() or 'anonymous'} may not {action} in repository {name}",
             audit_action=audit_action, repository=repository)
    return repository


def require_superuser(request, audit_action: str | None = None) -> None:
    token = token_of(request)
    # A superuser's scoped token is scoped: it does not carry the owner's administration rights.
    if not (request.user.is_authenticated and request.user.is_superuser) or (token and not token.is_unrestricted()):
        deny(request, "only administrators may do this", audit_action=audit_action)
