"""Team (a named set of users) and ApiToken (a secret stored only as its sha256)."""
from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "pky_"


def hash_token(raw: str) -> str:
    # Tokens carry 240 bits of randomness, so a fast hash is enough: no dictionary to attack.
    return hashlib.sha256(raw.encode()).hexdigest()


class Team(models.Model):
    name = models.CharField(max_length=150, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    created = models.DateTimeField(default=timezone.now)

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

    class Meta:
        ordering = ["-created"]

    @classmethod
    def issue(cls, user, name: str, expires_at=None) -> tuple["ApiToken", str]:
        """Create a token; the raw secret is returned once and never stored."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(30)
        token = cls.objects.create(user=user, name=name, key_hash=hash_token(raw), prefix=raw[:8], expires_at=expires_at)
        return token, raw

    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
