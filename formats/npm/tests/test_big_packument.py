"""A remote packument with 3,000 versions: served full and abbreviated, tarball URLs rewritten, one tarball fetched."""
from __future__ import annotations

import json

import pytest

from .helpers import basic, tgz

pytestmark = pytest.mark.django_db

CORGI = "application/vnd.npm.install-v1+json"
VERSIONS = [f"{i // 100}.{i % 100}.0" for i in range(3000)]


@pytest.fixture
def remote(make_repo, alice, upstream):
    return make_repo("npm-big-remote", kind="remote", upstream_url=upstream.url, metadata_ttl=3600,
                     stale_while_revalidate=False, grants={alice: "read"})


def test_three_thousand_versions_served_and_rewritten(client, remote, upstream):
    wanted = tgz("big", "29.99.0")
    # Only the tarball we download must exist upstream; the rest share a stand-in body.
    upstream.add("big", {v: (wanted if v == "29.99.0" else b"stand-in") for v in VERSIONS}, latest="29.99.0")
    prefix = "http://testserver/repository/npm-big-remote/big/-/"

    full = client.get("/repository/npm-big-remote/big", **basic("alice"))
    assert full.status_code == 200
    doc = json.loads(full.content)
    assert len(doc["versions"]) == 3000 and doc["dist-tags"]["latest"] == "29.99.0"
    assert all(m["dist"]["tarball"] == f"{prefix}big-{v}.tgz" for v, m in doc["versions"].items())

    corgi = client.get("/repository/npm-big-remote/big", HTTP_ACCEPT=CORGI, **basic("alice"))
    short = json.loads(corgi.content)
    assert corgi["Content-Type"] == CORGI and len(short["versions"]) == 3000
    assert short["versions"]["12.34.0"]["dist"]["tarball"] == f"{prefix}big-12.34.0.tgz"
    assert upstream.hits("/big") == 1

    response = client.get("/repository/npm-big-remote/big/-/big-29.99.0.tgz", **basic("alice"))
    assert response.status_code == 200 and b"".join(response.streaming_content) == wanted
    # A file the packument does not list is not asked of the upstream.
    assert client.get("/repository/npm-big-remote/big/-/big-99.0.0.tgz", **basic("alice")).status_code == 404
    assert upstream.hits("/tarballs/") == 1
