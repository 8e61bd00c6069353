"""Periodic tasks of the blob store (scheduled by CELERY_BEAT_SCHEDULE in settings)."""
from __future__ import annotations

import logging

from celery import shared_task

from . import documents, gc

log = logging.getLogger("packyard.gc")


@shared_task(ignore_result=True)
def collect_garbage(grace_seconds: int | None = None):
    report = gc.collect(grace_seconds=grace_seconds)
    log.info("gc: %s", report.summary(dry_run=False))
    count, freed = documents.collect()
    log.info("gc: removed %s unused rendered documents (%s bytes)", count, freed)
    return report.blobs


@shared_task(ignore_result=True)
def expire_upload_sessions():
    report = gc.Report()
    gc.collect_uploads(report)
    log.info("gc: expired %s uploads (%s bytes)", report.uploads, report.upload_bytes)
