"""Periodic tasks of the blob store (scheduled by CELERY_BEAT_SCHEDULE in settings)."""
from __future__ import annotations

import logging

from celery import shared_task

from . import gc

log = logging.getLogger("packyard.gc")


@shared_task(ignore_result=True)
def collect_garbage(grace_seconds: int | None = None):
    report = gc.collect(grace_seconds=grace_seconds)
    log.info("gc: %s", report.summary(dry_run=False))
    return report.blobs


@shared_task(ignore_result=True)
def expire_upload_sessions():
    report = gc.Report()
    gc.collect_uploads(report)
    log.info("gc: expired %s uploads (%s bytes)", report.uploads, report.upload_bytes)
