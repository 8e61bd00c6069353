"""The OCI index of a Docker repository: manifests (their exact bytes are a Blob), tags, references.

Layers and configs are ordinary Assets at `<image>/blobs/sha256:<hex>`, so the core garbage
collector keeps a blob while any repository links it and reclaims it afterwards. A manifest's
bytes are a Blob too (Manifest.blob), which keeps them alive for as long as the row exists.
ManifestReference records what a manifest points at, so deleting a manifest can unlink exactly
the blobs nothing else in that image still needs.
"""
from __future__ import annotations

from django.db import models
from django.utils import timezone

from artifacts.models import Blob
from repositories.models import Repository


class Manifest(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="docker_manifests")
    image = models.CharField(max_length=255)
    digest = models.CharField(max_length=160)
    media_type = models.CharField(max_length=255)
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")
    size = models.BigIntegerField()
    subject_digest = models.CharField(max_length=160, blank=True, default="", db_index=True)
    artifact_type = models.CharField(max_length=255, blank=True, default="")
    config_media_type = models.CharField(max_length=255, blank=True, default="")
    annotations = models.JSONField(default=dict, blank=True)
    # total bytes of config + layers (image manifests), how many layers, [{"os", "architecture", ...}]
    content_size = models.BigIntegerField(default=0)
    layer_count = models.PositiveIntegerField(default=0)
    platforms = models.JSONField(default=list, blank=True)
    image_created = models.CharField(max_length=64, blank=True, default="")  # the config's "created"
    created = models.DateTimeField(default=timezone.now)
    pushed_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        unique_together = [("repository", "image", "digest")]

    def __str__(self):
        return f"{self.repository.name}/{self.image}@{self.digest}"


class Tag(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="docker_tags")
    image = models.CharField(max_length=255)
    name = models.CharField(max_length=128)
    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="tags")
    updated = models.DateTimeField(default=timezone.now)
    # remote repositories: when the upstream last confirmed this tag (metadata_ttl counts from here)
    fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        unique_together = [("repository", "image", "name")]
        ordering = ["name"]


class ManifestReference(models.Model):
    KINDS = [("blob", "blob"), ("manifest", "manifest")]

    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="references")
    digest = models.CharField(max_length=160)
    kind = models.CharField(max_length=8, choices=KINDS)

    class Meta:
        indexes = [models.Index(fields=["digest"])]
