"""Docker's garbage-collection step: unlink blobs that no manifest of their image references.

A push uploads its layers and config first and PUTs the manifest last. A push that stops in
between (a killed client, a failed CI job) leaves blob links no manifest needs, and while a link
exists the core GC keeps the blob. This step unlinks them, as the distribution registry's GC
removes blobs no manifest references. DockerConfig.ready() registers it with artifacts.gc, so
`artifacts.tasks.collect_garbage` (hourly, Celery beat) and `packyard manage gc` run it before the
core's blob collection, which then reclaims the bytes in the same run unless something else
still keeps the blob (a link in another repository or image, a manifest's own bytes).

A link is unlinked only if all of these hold:
- it is in a local repository. A remote repository's links are its cache of the upstream: a
  blob pulled by digest need not belong to a cached manifest, and it may be all that is left
  when the upstream goes away;
- no manifest of the same repository and image references its digest (as config or layer; index
  entries are manifests, never links). Per image, because put_manifest checks links per image.
  A link of the same blob in another repository or image is a different row, judged on its own;
- it was last linked more than the grace period (PACKYARD_GC_GRACE_SECONDS) ago: Asset.modified,
  refreshed by re-uploads, mounts and blob HEADs (store.confirm_link), so a push in progress
  keeps the blobs it has uploaded or been told exist. A blob still being uploaded has no link yet.
The unlink holds the image lock that put_manifest holds from its link check to its save
(store's module doc) and re-selects under it, so a manifest just validated against a link never
loses it; the delete itself re-checks the age, so a refresh that lands meanwhile wins.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Concat, Left, Length, Substr
from django.utils import timezone

from formats.base import Asset, LockTimeout, named_lock

from .models import ManifestReference
from .store import image_lock_name

log = logging.getLogger("packyard.gc")

# Waiting longer than this for an image's lock means a push holds it: try that image next run.
LOCK_TIMEOUT = 30.0
BATCH = 500


def unreferenced_links(cutoff, **where):
    """Blob links of local Docker repositories older than `cutoff` no manifest of their image references.

    One query: a link's path is `<package>/blobs/<digest>` (store.blob_path, package = image);
    rows whose path does not have that shape are never selected.
    """
    prefix = Length("package") + len("/blobs/")
    referenced = ManifestReference.objects.filter(
        manifest__repository_id=OuterRef("repository_id"), manifest__image=OuterRef("package"),
        kind="blob", digest=OuterRef("link_digest"),
    )
    return (Asset.objects.filter(repository__format="docker", repository__kind="local", modified__lt=cutoff, **where)
            .annotate(link_prefix=Left("path", prefix), link_digest=Substr("path", prefix + 1))
            .filter(link_prefix=Concat("package", Value("/blobs/")))
            .exclude(Exists(referenced)))


def collect_links(report, dry_run: bool = False, grace_seconds: int | None = None) -> None:
    """The GC step (artifacts.gc collector): unlink, or on a dry run count, unreferenced old links."""
    grace = settings.PACKYARD_GC_GRACE_SECONDS if grace_seconds is None else grace_seconds
    cutoff = timezone.now() - timedelta(seconds=grace)
    images = list(unreferenced_links(cutoff).values_list("repository_id", "package").distinct())
    for repository_id, image in images:
        if dry_run:  # nothing changes: no lock, and the core's dry run counts what these alone keep
            ids = list(unreferenced_links(cutoff, repository_id=repository_id, package=image)
                       .values_list("pk", flat=True))
            report.unlinked += len(ids)
            report.released.setdefault(Asset, set()).update(ids)
            continue
        try:
            with named_lock(image_lock_name(repository_id, image), timeout=LOCK_TIMEOUT):
                unlinked = _unlink(cutoff, repository_id, image)
        except LockTimeout:
            log.info("gc: docker image %s of repository %s is busy; its links wait for the next run",
                     image, repository_id)
            continue
        if unlinked:
            report.unlinked += unlinked
            log.info("gc: unlinked %s docker blobs no manifest of %s (repository %s) references",
                     unlinked, image, repository_id)


def _unlink(cutoff, repository_id: int, image: str) -> int:
    # Selected again under the lock: a manifest saved since the first query references its blobs.
    ids = list(unreferenced_links(cutoff, repository_id=repository_id, package=image).values_list("pk", flat=True))
    unlinked = 0
    for start in range(0, len(ids), BATCH):
        # `modified__lt` again, in the DELETE itself: a link refreshed a moment ago stays.
        _, per_model = Asset.objects.filter(pk__in=ids[start:start + BATCH], modified__lt=cutoff).delete()
        unlinked += per_model.get(Asset._meta.label, 0)
    return unlinked
