"""Audit events: every write and every failed login records who, when, from where, what, where, outcome."""
from __future__ import annotations

import logging

from .models import AuditEvent

log = logging.getLogger("packyard.audit")


def record(request, action: str, repository=None, path: str = "", outcome: str = "ok", actor: str | None = None, **detail):
    if actor is None:
        user = getattr(request, "packyard_user", None) or getattr(request, "user", None)
        actor = user.get_username() if user is not None and user.is_authenticated else ""
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    repo_name = getattr(repository, "name", repository) or ""
    event = AuditEvent.objects.create(
        actor=actor[:150], address=address[:64], action=action, repository=repo_name, path=path[:1024],
        outcome=outcome, detail=detail,
    )
    log.info("audit %s %s %s %s %s %s", actor, address, action, repo_name, path, outcome)
    return event
