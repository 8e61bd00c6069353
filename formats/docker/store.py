"""The storage rules of a Docker repository: blob links (Assets), manifests, tags, and cleanup.

Layout, per Packyard repository:
    Asset  <image>/blobs/sha256:<hex>     a layer or config linked into this image
    Manifest(repository, image, digest)   exact bytes in Manifest.blob; ManifestReference rows
    Tag(repository, image, name)          -> Manifest
Deleting a manifest unlinks the blobs it referenced that no remaining manifest of the image
references; the GC step of formats.docker.gc unlinks blobs that no manifest of their image ever
referenced (abandoned pushes); the core GC then reclaims bytes no repository links any more.

The image lock (`image_lock`): what an image's manifests reference and which blobs it links must
agree, and three writers change one side after reading the other. put_manifest checks that every
blob is linked and then saves; delete_manifest (and a blob DELETE, and the GC step) reads which
blobs the remaining manifests reference and then unlinks the rest. Each holds the named lock of
(repository, image) across its read and its write, so a push that shares a layer with a
manifest being deleted either sees the layer unlinked (MANIFEST_BLOB_UNKNOWN, the client uploads
it again) or is saved before the delete looks, which then keeps the layer. Per image, not per
repository, because links and references are per image: pushes of other images never wait.
Why a named lock and not `select_for_update()` on the Repository row: the embedded default runs
on SQLite, where select_for_update is a no-op; put_manifest writes the manifest's bytes to blob
storage between its check and its save, which should not happen inside a transaction holding a
row lock every other write to the repository would queue behind; and the named lock is the one
GC already coordinates with (artifacts.locks: Redis when configured, flock otherwise). Reads,
the manifest GET above all, take no lock.

A link's age is Asset.modified: set when the blob is linked and refreshed when it is linked
again (re-upload, mount) or a HEAD tells a pushing client it exists (`confirm_link`), so the GC
step's grace period counts from the last time a push could have relied on the link.
"""
from __future__ import annotations

import contextlib
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from formats.base import Asset, LockTimeout, follow, named_lock, read_blob, stage_bytes

from .errors import DockerError
from .models import Manifest, ManifestReference, Tag
from .parse import IMAGE_CONFIG_TYPES, Parsed, image_config


def blob_path(image: str, digest: str) -> str:
    return f"{image}/blobs/{digest}"


def find_blob(repository, image: str, digest: str) -> Asset | None:
    found = follow(Asset, ("blob",), repository_id=repository.pk, path=blob_path(image, digest))
    return found[0] if found else None


def image_lock_name(repository_id: int, image: str) -> str:
    return f"docker-image:{repository_id}:{image}"


@contextlib.contextmanager
def image_lock(repository_id: int, image: str):
    """Hold the image lock (see the module doc) for a request; a lock not had in time is a 503."""
    try:
        with named_lock(image_lock_name(repository_id, image)):
            yield
    except LockTimeout:
        raise DockerError(503, "UNAVAILABLE", "the image is busy; try again", headers={"Retry-After": "5"}) from None


def link_blob(repository, image: str, blob, user: str = "") -> Asset:
    path = blob_path(image, f"sha256:{blob.sha256}")
    for _ in range(3):
        asset, created = Asset.objects.get_or_create(
            repository=repository, path=path,
            defaults={"blob": blob, "package": image, "content_type": "application/octet-stream",
                      "meta": {"kind": "docker-blob"}, "uploaded_by": user},
        )
        # Linked again (a re-upload, a mount): the push in progress counts on this link, so its
        # grace period starts over. No row updated means GC took the link meanwhile: link anew.
        if created or Asset.objects.filter(pk=asset.pk).update(modified=timezone.now()):
            return asset
    return asset


def confirm_link(asset: Asset) -> bool:
    """Restart the grace period of a link a client is told exists (blob HEAD); False if it is gone.

    A push HEADs each blob, skips those the registry has, then PUTs the manifest. An old link no
    manifest references (an earlier abandoned push) must not be unlinked by GC in between, so it
    is refreshed first; GC deletes only links still older than its cutoff, in one statement, so
    either the refresh wins or the link is gone and the HEAD answers 404 (the client uploads it).
    Written only when the link is older than half the grace period: most HEADs cost no query.
    """
    now = timezone.now()
    if asset.modified >= now - timedelta(seconds=settings.PACKYARD_GC_GRACE_SECONDS / 2):
        return True
    return bool(Asset.objects.filter(pk=asset.pk).update(modified=now))


def find_manifest(repository, image: str, reference: str) -> Manifest | None:
    # Every pull asks this first: `follow` is the same select_related query without the ORM's cost.
    if ":" in reference:
        found = follow(Manifest, ("blob",), repository_id=repository.pk, image=image, digest=reference)
        return found[0] if found else None
    tags = follow(Tag, ("manifest", "blob"), repository_id=repository.pk, image=image, name=reference)
    return tags[0].manifest if tags else None


def missing_references(repository, image: str, parsed: Parsed) -> tuple[list[str], list[str]]:
    """(blobs, manifests) the manifest points at that this repository's image does not hold."""
    paths = {blob_path(image, d) for d in parsed.blobs}
    have = set(Asset.objects.filter(repository=repository, path__in=paths).values_list("path", flat=True))
    blobs = [d for d in dict.fromkeys(parsed.blobs) if blob_path(image, d) not in have]
    known = set(Manifest.objects.filter(repository=repository, image=image, digest__in=parsed.children)
                .values_list("digest", flat=True))
    return blobs, [d for d in dict.fromkeys(parsed.children) if d not in known]


def save_manifest(repository, image: str, digest: str, data: bytes, parsed: Parsed, user: str = "") -> Manifest:
    existing = Manifest.objects.select_related("blob").filter(repository=repository, image=image, digest=digest).first()
    if existing is not None:
        return existing
    with stage_bytes(data) as staged:
        blob = staged.commit()
    platforms, created = parsed.platforms, ""
    if parsed.config_media_type in IMAGE_CONFIG_TYPES:
        config = find_blob(repository, image, parsed.config_digest)
        if config is not None and config.blob.size <= 1024 * 1024:
            platforms, created = image_config(read_blob(config.blob))
    try:
        with transaction.atomic():
            manifest = Manifest.objects.create(
                repository=repository, image=image, digest=digest, media_type=parsed.media_type, blob=blob,
                size=len(data), subject_digest=parsed.subject, artifact_type=parsed.artifact_type[:255],
                config_media_type=parsed.config_media_type[:255], annotations=parsed.annotations,
                content_size=parsed.content_size, layer_count=parsed.layer_count, platforms=platforms,
                image_created=created, pushed_by=user,
            )
            ManifestReference.objects.bulk_create(
                [ManifestReference(manifest=manifest, digest=d, kind="blob") for d in dict.fromkeys(parsed.blobs)]
                + [ManifestReference(manifest=manifest, digest=d, kind="manifest") for d in dict.fromkeys(parsed.children)]
            )
    except IntegrityError:  # the same manifest pushed concurrently: theirs is as good as ours
        return Manifest.objects.select_related("blob").get(repository=repository, image=image, digest=digest)
    return manifest


def set_tag(repository, image: str, name: str, manifest: Manifest, fetched: bool = False) -> None:
    now = timezone.now()
    defaults = {"manifest": manifest, "updated": now}
    if fetched:
        defaults["fetched_at"] = now
    for _ in range(2):
        try:
            Tag.objects.update_or_create(repository=repository, image=image, name=name, defaults=defaults)
            return
        except IntegrityError:  # two first pushes of one tag at once: the second becomes an update
            continue


def delete_manifest(repository, image: str, digest: str) -> bool:
    # Under the image lock: a push saving a manifest that shares a layer with this one must not
    # pass its link check before the unlink below and save after it (module doc).
    with image_lock(repository.pk, image):
        manifest = Manifest.objects.filter(repository=repository, image=image, digest=digest).first()
        if manifest is None:
            return False
        with transaction.atomic():
            referenced = list(manifest.references.filter(kind="blob").values_list("digest", flat=True))
            manifest.delete()  # tags and references go with it
            still = set(ManifestReference.objects.filter(
                manifest__repository=repository, manifest__image=image, digest__in=referenced, kind="blob",
            ).values_list("digest", flat=True))
            orphans = [blob_path(image, d) for d in referenced if d not in still]
            Asset.objects.filter(repository=repository, path__in=orphans).delete()
    return True


def delete_tag(repository, image: str, name: str) -> bool:
    deleted, _ = Tag.objects.filter(repository=repository, image=image, name=name).delete()
    return bool(deleted)
