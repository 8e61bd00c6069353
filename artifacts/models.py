"""Blob: one stored file, named by its sha256; UploadSession: an upload still in progress.

A Blob row exists only once its bytes are committed to storage. `last_linked` is refreshed each
time something new points at the blob, so garbage collection can leave recently linked blobs
alone even before the referencing row is visible.
"""
from django.db import models
from django.utils import timezone


class Blob(models.Model):
    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.BigIntegerField()
    created = models.DateTimeField(default=timezone.now)
    last_linked = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return f"sha256:{self.sha256} ({self.size} bytes)"


class UploadSession(models.Model):
    """A resumable upload (OCI chunked uploads); its bytes live in a temp file until committed."""

    id = models.CharField(max_length=64, primary_key=True)
    repository = models.CharField(max_length=64)
    temp_path = models.CharField(max_length=1024)
    size = models.BigIntegerField(default=0)
    state = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now, db_index=True)
