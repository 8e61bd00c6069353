"""Repository (local | remote | virtual), its members and grants, the Asset index, the upstream cache, audit events."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from artifacts.models import Blob

from .names import check_repository_name


class Repository(models.Model):
    FORMATS = [("docker", "docker"), ("npm", "npm"), ("maven", "maven"), ("pypi", "pypi")]
    KINDS = [("local", "local"), ("remote", "remote"), ("virtual", "virtual")]

    name = models.CharField(max_length=64, unique=True, validators=[check_repository_name])
    format = models.CharField(max_length=16, choices=FORMATS)
    kind = models.CharField(max_length=16, choices=KINDS)
    description = models.TextField(blank=True, default="")
    anonymous_read = models.BooleanField(default=False)
    # remote
    upstream_url = models.URLField(max_length=1024, blank=True, default="")
    upstream_username = models.CharField(max_length=255, blank=True, default="")
    upstream_password_encrypted = models.TextField(blank=True, default="")
    metadata_ttl = models.PositiveIntegerField(default=600)
    negative_cache_ttl = models.PositiveIntegerField(default=300)
    stale_while_revalidate = models.BooleanField(default=True)
    # virtual
    deploy_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # per-format settings, e.g. {"maven": {"version_policy": "release"}}
    settings = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "repositories"

    def __str__(self):
        return f"{self.name} ({self.format} {self.kind})"

    @property
    def upstream_password(self) -> str:
        from .secrets import decrypt

        return decrypt(self.upstream_password_encrypted)

    @upstream_password.setter
    def upstream_password(self, value: str) -> None:
        from .secrets import encrypt

        self.upstream_password_encrypted = encrypt(value) if value else ""

    def format_settings(self) -> dict:
        return (self.settings or {}).get(self.format, {})

    def member_list(self) -> list["Repository"]:
        return [m.member for m in self.members.select_related("member").order_by("position")]


class VirtualMember(models.Model):
    virtual = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="members")
    member = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="virtuals")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["position"]
        unique_together = [("virtual", "member")]


class Grant(models.Model):
    """A role on one repository for a user or a team (exactly one of the two)."""

    ROLES = ["read", "deploy", "delete", "manage"]

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.CASCADE)
    role = models.CharField(max_length=16, choices=[(r, r) for r in ROLES])

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(user__isnull=False, team__isnull=True) | models.Q(user__isnull=True, team__isnull=False)),
                name="grant_user_xor_team",
            ),
            models.UniqueConstraint(fields=["repository", "user"], condition=models.Q(user__isnull=False), name="one_grant_per_user"),
            models.UniqueConstraint(fields=["repository", "team"], condition=models.Q(team__isnull=False), name="one_grant_per_team"),
        ]


class Asset(models.Model):
    """One file a repository holds at a path (a wheel, a tarball, a jar, a layer), pointing at a blob."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="assets")
    path = models.CharField(max_length=1024)
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="assets")
    package = models.CharField(max_length=255, db_index=True, blank=True, default="")
    version = models.CharField(max_length=255, blank=True, default="")
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    meta = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(auto_now=True)  # bumps caches of generated metadata
    uploaded_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        unique_together = [("repository", "path")]
        indexes = [models.Index(fields=["repository", "package"])]

    def __str__(self):
        return f"{self.repository.name}:{self.path}"


class CacheEntry(models.Model):
    """What a remote repository last got from its upstream for one key (metadata or a miss)."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="cache_entries")
    key = models.CharField(max_length=1024)
    blob = models.ForeignKey(Blob, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    missing = models.BooleanField(default=False)
    fetched_at = models.DateTimeField(default=timezone.now)
    etag = models.CharField(max_length=512, blank=True, default="")
    last_modified = models.CharField(max_length=128, blank=True, default="")
    content_type = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        unique_together = [("repository", "key")]


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=150, blank=True, default="")
    address = models.CharField(max_length=64, blank=True, default="")
    action = models.CharField(max_length=64)
    repository = models.CharField(max_length=64, blank=True, default="")
    path = models.CharField(max_length=1024, blank=True, default="")
    outcome = models.CharField(max_length=32, default="ok")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
