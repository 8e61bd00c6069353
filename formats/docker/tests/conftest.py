"""Fixtures for the Docker tests: users, repositories, Basic/Bearer headers, and a push helper."""
from __future__ import annotations

import base64

import pytest
from django.contrib.auth import get_user_model

from repositories.models import Grant, Repository, VirtualMember
from tests.ociimages import Image

PASSWORD = "pw-for-tests"


def basic(username: str, password: str = PASSWORD) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def _fast_passwords(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(db):
    def make(username: str, **fields):
        return get_user_model().objects.create_user(username, password=PASSWORD, **fields)

    return make


@pytest.fixture
def make_repo(db):
    def make(name: str, kind: str = "local", members=(), grants=None, **fields):
        repo = Repository.objects.create(name=name, format="docker", kind=kind, **fields)
        for position, member in enumerate(members):
            VirtualMember.objects.create(virtual=repo, member=member, position=position)
        for user, role in (grants or {}).items():
            Grant.objects.create(repository=repo, user=user, role=role)
        return repo

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def dk(make_repo, alice, bob):
    return make_repo("dk", grants={alice: "delete", bob: "read"})


@pytest.fixture
def push(client):
    """Push an image's blobs (monolithic) and manifest under `name`; returns the manifest response."""

    def send(name: str, image: Image, reference: str = "latest", auth: dict | None = None):
        headers = basic("alice") if auth is None else auth
        for child in getattr(image, "children", []):
            send(name, child, child.digest, auth)
        for digest, data in image.blobs.items():
            r = client.post(f"/v2/{name}/blobs/uploads/?digest={digest}", data=data,
                            content_type="application/octet-stream", **headers)
            assert r.status_code == 201, r.content
        return client.put(f"/v2/{name}/manifests/{reference}", data=image.manifest, content_type=image.media_type,
                          **headers)

    return send
