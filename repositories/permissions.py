"""The one permission check: can(user, action, repository). Every API view and format view calls it.

Roles are ordered read < deploy < delete < manage; holding one includes those before it.
A user's role on a repository is the highest of its own grant and its teams' grants.
Superusers hold every role; `anonymous_read` lets anyone read. For a virtual repository only
the virtual's own grants count (its members' grants are not consulted, CONTRACT.md).
"""
from __future__ import annotations

from .models import Grant, Repository

ROLES = ("read", "deploy", "delete", "manage")
RANK = {role: i for i, role in enumerate(ROLES)}


def role_of(user, repository: Repository) -> str | None:
    """The highest role `user` holds on `repository`, or None."""
    if user is None or not user.is_authenticated:
        return None
    if user.is_superuser:
        return "manage"
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


def can(user, action: str, repository: Repository, token=None) -> bool:
    """May `user` (optionally acting through API `token`) do `action` on `repository`?"""
    if action not in RANK:
        raise ValueError(f"unknown action {action!r}")
    if action == "read" and repository.anonymous_read:
        return True
    role = role_of(user, repository)
    return role is not None and RANK[role] >= RANK[action]


def readable(user, queryset=None):
    """Repositories `user` may read (for listings and search)."""
    qs = queryset if queryset is not None else Repository.objects.all()
    if user is not None and user.is_authenticated and user.is_superuser:
        return qs
    from django.db.models import Q

    cond = Q(anonymous_read=True)
    if user is not None and user.is_authenticated:
        cond |= Q(grants__user=user) | Q(grants__team__members=user)
    return qs.filter(cond).distinct()
