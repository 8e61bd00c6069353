"""Helpers for the REST API tests: users, HTTP Basic clients, repository creation, error checks."""
from __future__ import annotations

import base64

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

PASSWORD = "pw-for-tests"


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(username, superuser=False):
    User = get_user_model()
    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.com", PASSWORD)
    return User.objects.create_user(username, f"{username}@example.com", PASSWORD)


def client_for(user=None, password=PASSWORD) -> APIClient:
    client = APIClient()
    if user is not None:
        raw = base64.b64encode(f"{user.username}:{password}".encode()).decode()
        client.credentials(HTTP_AUTHORIZATION=f"Basic {raw}")
    return client


@pytest.fixture
def admin():
    return client_for(make_user("root", superuser=True))


def create(client, name, fmt="pypi", kind="local", **fields):
    return client.post("/api/v1/repositories/", {"name": name, "format": fmt, "kind": kind, **fields}, format="json")


def error_of(response):
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] and body["error"]["message"]
    return body["error"]


