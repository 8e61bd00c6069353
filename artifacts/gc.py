"""Garbage collection: delete blobs nothing references, and upload sessions nobody finished.

A blob is collectable when no row of any model with a foreign key to Blob points at it (found
through Django's relation metadata, so formats need not register anything) and it was last
linked more than the grace period ago. Each deletion holds the blob's named lock, the same one
`Staged.commit()` holds, and re-checks under it, so a blob being uploaded is never collected.

`collect()` runs, in order:
1. `collect_uploads`: abandoned upload sessions and temp files;
2. every registered format collector: a format whose own rules decide that a row pointing at a
   blob is dead (Docker: a layer link no manifest of its image references, left by a push that
   never sent its manifest) removes that row here; the core cannot tell such a row from a live one;
3. `collect_blobs`: the blobs that are unreferenced now, so what step 2 released goes in the same run.

A format registers its step once at start-up, from its AppConfig.ready():
    `register_collector("docker", collect_links)` (exported by formats.base)
A collector is called as `collector(report, dry_run=..., grace_seconds=...)` with the resolved
grace period; it must leave rows touched within the grace period alone, count what it removes in
`report.unlinked`, and on a dry run remove nothing but add the rows it would delete to
`report.released[model]`, so that the dry run of step 3 counts the blobs only they keep.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from .locks import named_lock
from .models import Blob, UploadSession
from .storage import get_storage, key_for

log = logging.getLogger("packyard.gc")


@dataclass
class Report:
    blobs: int = 0
    blob_bytes: int = 0
    uploads: int = 0
    upload_bytes: int = 0
    digests: list[str] = field(default_factory=list)
    unlinked: int = 0  # rows the format collectors removed (or would remove)
    # dry runs only: model -> primary keys of rows a collector would delete (see the module doc)
    released: dict = field(default_factory=dict)

    def summary(self, dry_run: bool) -> str:
        verb = "would free" if dry_run else "freed"
        text = (f"{verb} {self.blobs} blobs ({self.blob_bytes} bytes) and "
                f"{self.uploads} abandoned uploads ({self.upload_bytes} bytes)")
        if self.unlinked:
            text += f"; {'would unlink' if dry_run else 'unlinked'} {self.unlinked} unreferenced format links"
        return text


Collector = Callable[..., None]
_collectors: dict[str, Collector] = {}


def register_collector(name: str, collector: Collector) -> None:
    """Run `collector` in every collection, before the blobs (see the module doc); one per name."""
    _collectors[name] = collector


def _references():
    """(model, field name) of every foreign key to Blob.

    Hidden reverse relations (related_name="+", as CacheEntry uses) count too: `related_objects`
    leaves them out, and missing one would try to delete a blob that is still in use.
    """
    for relation in Blob._meta.get_fields(include_hidden=True):
        if relation.is_relation and relation.auto_created and not relation.concrete:
            yield relation.related_model, relation.field.name


def _unreferenced(queryset, released: dict | None = None):
    for model, name in _references():
        refs = model._base_manager.filter(**{f"{name}__isnull": False})
        if released and released.get(model):
            refs = refs.exclude(pk__in=released[model])  # a dry run's collectors would delete these
        queryset = queryset.exclude(pk__in=refs.values(name))
    return queryset


def collect_blobs(report: Report, dry_run: bool = False, grace_seconds: int | None = None) -> None:
    grace = settings.PACKYARD_GC_GRACE_SECONDS if grace_seconds is None else grace_seconds
    cutoff = timezone.now() - timedelta(seconds=grace)
    storage = get_storage()
    released = report.released if dry_run else None
    candidates = _unreferenced(Blob.objects.filter(last_linked__lt=cutoff), released).values_list("sha256", "size")
    for sha256, size in list(candidates.iterator()):
        if dry_run:
            report.blobs += 1
            report.blob_bytes += size
            report.digests.append(sha256)
            continue
        with named_lock(f"blob:{sha256}"):
            try:
                with transaction.atomic():
                    deleted, _ = _unreferenced(Blob.objects.filter(pk=sha256, last_linked__lt=cutoff)).delete()
            except (ProtectedError, IntegrityError):
                continue  # a reference appeared since the check: the blob is in use again
            if deleted:
                storage.delete(key_for(sha256))
                report.blobs += 1
                report.blob_bytes += size
                report.digests.append(sha256)


def collect_uploads(report: Report, dry_run: bool = False, ttl_seconds: int | None = None) -> None:
    ttl = settings.PACKYARD_UPLOAD_SESSION_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    cutoff = timezone.now() - timedelta(seconds=ttl)
    for session in UploadSession.objects.filter(updated__lt=cutoff):
        size = os.path.getsize(session.temp_path) if os.path.exists(session.temp_path) else 0
        report.uploads += 1
        report.upload_bytes += size
        if not dry_run:
            if os.path.exists(session.temp_path):
                os.unlink(session.temp_path)
            session.delete()
    # Temp files of ingests killed mid-way (the process died): old files in the temp folder.
    tmp = settings.PACKYARD_HOME / "tmp"
    live = set(UploadSession.objects.values_list("temp_path", flat=True))
    if tmp.exists():
        for entry in os.scandir(tmp):
            if entry.is_file() and entry.path not in live and entry.stat().st_mtime < cutoff.timestamp():
                report.uploads += 1
                report.upload_bytes += entry.stat().st_size
                if not dry_run:
                    os.unlink(entry.path)


def collect(dry_run: bool = False, grace_seconds: int | None = None, ttl_seconds: int | None = None) -> Report:
    grace = settings.PACKYARD_GC_GRACE_SECONDS if grace_seconds is None else grace_seconds
    report = Report()
    collect_uploads(report, dry_run=dry_run, ttl_seconds=ttl_seconds)
    for name, collector in list(_collectors.items()):
        try:
            collector(report, dry_run=dry_run, grace_seconds=grace)
        except Exception:  # one format's failure (a lock timeout, say) must not stop the blob collection
            log.exception("gc: the %s collector failed", name)
    collect_blobs(report, dry_run=dry_run, grace_seconds=grace)
    return report
