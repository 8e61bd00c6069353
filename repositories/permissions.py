"""The one permission check: can(user, action, repository). Every API view and format view calls it.

Roles are ordered read < deploy < delete < manage; holding one includes those before it.
A user's role on a repository is the highest of its own grant and its teams' grants.
Superusers hold every role; `anonymous_read` lets anyone read. For a virtual repository only
the virtual's own grants count (its members' grants are not consulted, CONTRACT.md).
A caller acting through an API token is further capped by the token's scopes (token_allows).
"""
from __future__ import annotations

from . import hotcache
from .models import Grant, Repository

ROLES = ("read", "deploy", "delete", "manage")
RANK = {role: i for i, role in enumerate(ROLES)}


def role_of(user, repository: Repository) -> str | None:
    """The highest role `user` holds on `repository`, or None."""
    if user is None or not user.is_authenticated:
        return None
    if user.is_superuser:
        return "manage"
    return hotcache.lookup("role", (user.pk, repository.pk), lambda: _highest_grant(user, repository))


def _highest_grant(user, repository: Repository) -> str | None:
    grants = Grant.objects.filter(repository=repository).filter(
        models_q_user_or_teams(user)
    ).values_list("role", flat=True)
    best = None
    for role in grants:
        if best is None or RANK[role] > RANK[best]:
            best = role
    return best


def models_q_user_or_teams(user):
    from django.db.models import Q

    return Q(user=user) | Q(team__members=user)


def token_allows(token, action: str, repository: Repository) -> bool:
    """Do an API token's scopes (repository names or "*", and a highest role) cover `action` here?"""
    if token is None:
        return True
    names = getattr(token, "repositories", None) or ["*"]
    in_scope = "*" in names or repository.name in names
    return in_scope and RANK[action] <= RANK.get(getattr(token, "role", "manage"), -1)


def can(user, action: str, repository: Repository, token=None) -> bool:
    """May `user` (optionally acting through API `token`) do `action` on `repository`?

    A token's scopes only ever narrow its owner's roles: both must allow the action.
    """
    if action not in RANK:
        raise ValueError(f"unknown action {action!r}")
    if action == "read" and repository.anonymous_read:
        return True
    if not token_allows(token, action, repository):
        return False
    role = role_of(user, repository)
    return role is not None and RANK[role] >= RANK[action]


def readable(user, queryset=None, token=None):
    """Repositories `user` (optionally through API `token`) may read (for listings and search)."""
    qs = queryset if queryset is not None else Repository.objects.all()
    names = getattr(token, "repositories", None) or ["*"]
    if "*" not in names:
        from django.db.models import Q

        qs = qs.filter(Q(name__in=names) | Q(anonymous_read=True))
    if user is not None and user.is_authenticated and user.is_superuser:
        return qs
    from django.db.models import Q

    cond = Q(anonymous_read=True)
    if user is not None and user.is_authenticated:
        cond |= Q(grants__user=user) | Q(grants__team__members=user)
    return qs.filter(cond).distinct()
