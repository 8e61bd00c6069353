"""Team (a named set of users), ApiToken (a secret stored only as its sha256, with scopes and an expiry),
and the two account markers: DirectoryAccount (a user from LDAP) and ServiceAccount (tokens only)."""
from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "pky_"
ALL_REPOSITORIES = "*"
# The highest role a token may use; the same order as repositories.permissions.ROLES.
TOKEN_ROLES = ("read", "deploy", "delete", "manage")


def all_repositories() -> list[str]:
    return [ALL_REPOSITORIES]


def hash_token(raw: str) -> str:
    # Tokens carry 240 bits of randomness, so a fast hash is enough: no dictionary to attack.
    return hashlib.sha256(raw.encode()).hexdigest()


class Team(models.Model):
    name = models.CharField(max_length=150, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    created = models.DateTimeField(default=timezone.now)
    # Set for a team that mirrors a directory group: its membership follows the directory (accounts.ldap).
    directory_dn = models.CharField(max_length=1024, blank=True, default="")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=150)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)
    # Scopes: the repositories (names, or "*") and the highest role the token may use there. The owner's
    # own roles still apply on top (repositories.permissions.can): a token never does more than its owner.
    repositories = models.JSONField(default=all_repositories)
    role = models.CharField(max_length=16, choices=[(r, r) for r in TOKEN_ROLES], default="manage")

    class Meta:
        ordering = ["-created"]

    @classmethod
    def issue(cls, user, name: str, expires_at=None, repositories=None, role: str = "manage") -> tuple["ApiToken", str]:
        """Create a token; the raw secret is returned once and never stored."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(30)
        token = cls.objects.create(user=user, name=name, key_hash=hash_token(raw), prefix=raw[:8], expires_at=expires_at,
                                   repositories=list(repositories or [ALL_REPOSITORIES]), role=role)
        return token, raw

    def is_unrestricted(self) -> bool:
        """True when the scopes cap nothing: every repository, every role (the owner's full rights)."""
        return self.role == "manage" and ALL_REPOSITORIES in self.repositories

    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class DirectoryAccount(models.Model):
    """A user who logs in through LDAP; synced_at is when their groups were last read from the directory."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="directory_account")
    dn = models.CharField(max_length=1024)
    synced_at = models.DateTimeField(default=timezone.now)


class ServiceAccount(models.Model):
    """Marks a user that never logs in with a password (local or directory) and acts only through API tokens."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="service_account")
    created = models.DateTimeField(default=timezone.now)
