"""Fixtures for the Docker tests: users, repositories, Basic/Bearer headers, and a push helper."""
from __future__ import annotations

import base64

import pytest

from tests.format_fixtures import make_user, repo_maker  # noqa: F401  (make_user is a fixture)
from tests.ociimages import Image

PASSWORD = "pw-for-tests"


def basic(username: str, password: str = PASSWORD) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def make_repo(db):
    return repo_maker("docker")


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
