"""Celery tasks of the Maven format: snapshot cleanup (`snapshot_keep`), scheduled hourly by beat."""
from __future__ import annotations

import logging

from celery import shared_task

from formats.base import Repository

from . import hooks

log = logging.getLogger("packyard.maven")


@shared_task(name="formats.maven.tasks.cleanup_snapshots")
def cleanup_snapshots() -> int:
    """Apply every local Maven repository's snapshot_keep; idempotent, so a missed or doubled run is harmless."""
    removed = 0
    for repository in Repository.objects.filter(format="maven", kind="local"):
        count = hooks.cleanup_snapshots(repository)
        if count:
            log.info("snapshot cleanup removed %d files from %s", count, repository.name)
        removed += count
    return removed
