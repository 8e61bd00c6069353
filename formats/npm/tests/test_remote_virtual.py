"""Packument representations and caching; remote proxying over a static registry; virtual merging and the guard."""
from __future__ import annotations

import json

import pytest

from repositories.models import Asset, Grant

from .helpers import basic, tgz

pytestmark = pytest.mark.django_db

CORGI = "application/vnd.npm.install-v1+json"


def get(client, url, user="alice", **headers):
    return client.get(url, **basic(user), **headers)


def test_full_abbreviated_etag_304(client, local, publish):
    assert publish("npm-local", name="demo", version="1.0.0").status_code == 201
    full = get(client, "/repository/npm-local/demo")
    corgi = get(client, "/repository/npm-local/demo", HTTP_ACCEPT=CORGI + "; q=1.0, application/json; q=0.8, */*")
    assert full["Content-Type"] == "application/json" and corgi["Content-Type"] == CORGI
    assert full["Vary"] == corgi["Vary"] == "Accept" and full["ETag"] != corgi["ETag"]
    short = json.loads(corgi.content)
    assert set(short) == {"name", "modified", "dist-tags", "versions"}
    assert "readme" not in short["versions"]["1.0.0"] and short["versions"]["1.0.0"]["dist"]["integrity"]
    assert get(client, "/repository/npm-local/demo", HTTP_IF_NONE_MATCH=full["ETag"]).status_code == 304
    assert publish("npm-local", name="demo", version="1.0.1").status_code == 201
    fresh = get(client, "/repository/npm-local/demo", HTTP_IF_NONE_MATCH=full["ETag"])
    assert fresh.status_code == 200 and "1.0.1" in json.loads(fresh.content)["versions"]
    one = json.loads(get(client, "/repository/npm-local/demo/latest").content)
    assert one["version"] == "1.0.1" and one["_id"] == "demo@1.0.1"
    assert get(client, "/repository/npm-local/nothing-here").status_code == 404


@pytest.fixture
def remote(make_repo, alice, upstream):
    return make_repo("npm-remote", kind="remote", upstream_url=upstream.url, metadata_ttl=3600,
                     stale_while_revalidate=False, grants={alice: "read"})


def test_remote_rewrites_fetches_once_and_survives_outage(client, remote, upstream):
    data = tgz("@up/lib", "2.0.0")
    upstream.add("@up/lib", {"2.0.0": data})
    for _ in range(3):
        doc = json.loads(get(client, "/repository/npm-remote/@up%2flib").content)
    dist = doc["versions"]["2.0.0"]["dist"]
    assert dist["tarball"] == "http://testserver/repository/npm-remote/@up/lib/-/lib-2.0.0.tgz"
    assert upstream.hits("/@up") == 1
    corgi = json.loads(get(client, "/repository/npm-remote/@up/lib", HTTP_ACCEPT=CORGI).content)
    assert corgi["versions"]["2.0.0"]["hasInstallScript"] is True
    for _ in range(2):
        response = get(client, "/repository/npm-remote/@up/lib/-/lib-2.0.0.tgz")
        assert response.status_code == 200 and b"".join(response.streaming_content) == data
    assert upstream.hits("/tarballs/") == 1
    upstream.stop()
    remote.metadata_ttl = 0
    remote.save()
    assert "2.0.0" in json.loads(get(client, "/repository/npm-remote/@up/lib").content)["versions"]
    assert get(client, "/repository/npm-remote/@up/lib/-/lib-2.0.0.tgz").status_code == 200
    assert get(client, "/repository/npm-remote/never-seen").status_code == 502


def test_remote_tarball_failing_integrity_is_not_kept(client, remote, upstream):
    upstream.add("bad", {"1.0.0": tgz("bad", "1.0.0")})
    (upstream.folder / "tarballs" / "bad-1.0.0.tgz").write_bytes(tgz("bad", "1.0.0", payload="tampered"))
    assert get(client, "/repository/npm-remote/bad/-/bad-1.0.0.tgz").status_code == 502
    assert not Asset.objects.filter(repository=remote).exists()


def test_virtual_merge_guard_and_publish(client, make_repo, make_user, alice, local, remote, upstream, publish):
    second = make_repo("npm-second", grants={alice: "deploy"})
    virtual = make_repo("npm-all", kind="virtual", members=[local, second, remote], deploy_to=local)
    reader = make_user("reader")
    Grant.objects.create(repository=virtual, user=reader, role="read")
    Grant.objects.create(repository=virtual, user=alice, role="deploy")
    # merged: first member wins per version, dist-tags from the first member having the package
    assert publish("npm-second", name="shared", version="1.0.0", description="second").status_code == 201
    assert publish("npm-second", name="shared", version="2.0.0").status_code == 201
    assert publish("npm-all", name="shared", version="1.0.0", description="first").status_code == 201
    assert Asset.objects.filter(repository=local, package="shared").count() == 1
    doc = json.loads(get(client, "/repository/npm-all/shared", user="reader").content)
    assert set(doc["versions"]) == {"1.0.0", "2.0.0"}
    assert doc["versions"]["1.0.0"]["description"] == "first"
    assert doc["dist-tags"] == {"latest": "1.0.0"}
    assert doc["versions"]["2.0.0"]["dist"]["tarball"].startswith("http://testserver/repository/npm-all/")
    # the guard: a local name or a local scope is never taken from the remote
    upstream.add("shared", {"99.0.0": tgz("shared", "99.0.0")})
    upstream.add("@acme/other", {"5.0.0": tgz("@acme/other", "5.0.0")})
    upstream.add("public-only", {"3.0.0": tgz("public-only", "3.0.0")})
    assert publish("npm-local", name="@acme/mine", version="1.0.0").status_code == 201
    assert "99.0.0" not in json.loads(get(client, "/repository/npm-all/shared", user="reader").content)["versions"]
    assert get(client, "/repository/npm-all/@acme/other", user="reader").status_code == 404
    assert get(client, "/repository/npm-all/shared/-/shared-99.0.0.tgz", user="reader").status_code == 404
    public = json.loads(get(client, "/repository/npm-all/public-only", user="reader").content)
    assert public["versions"]["3.0.0"]["dist"]["tarball"] == "http://testserver/repository/npm-all/public-only/-/public-only-3.0.0.tgz"
    assert get(client, "/repository/npm-all/public-only/-/public-only-3.0.0.tgz", user="reader").status_code == 200
    # dist-tags through the virtual
    tags = json.loads(get(client, "/repository/npm-all/-/package/shared/dist-tags", user="reader").content)
    assert tags == {"latest": "1.0.0"}
    assert publish("npm-all", name="shared", version="3.0.0", user="reader").status_code == 403
