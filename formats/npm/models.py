"""NpmPackage: the per-package record of a local npm repository (dist-tags, times, revision, hoisted fields).

Version manifests live in the tarball Asset's `meta` (one row per version); what belongs to the
package rather than to a version is kept here. `rev` counts writes and makes the CouchDB-style
`_rev` clients echo in `-rev/` URLs.
"""
from django.db import models
from django.utils import timezone

from repositories.models import Repository


class NpmPackage(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="npm_packages")
    name = models.CharField(max_length=214)
    dist_tags = models.JSONField(default=dict, blank=True)
    info = models.JSONField(default=dict, blank=True)  # description, readme, maintainers, keywords, ...
    rev = models.PositiveIntegerField(default=1)
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        unique_together = [("repository", "name")]

    def __str__(self):
        return f"{self.repository.name}:{self.name}"
