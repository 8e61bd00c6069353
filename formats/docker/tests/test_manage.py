"""Deletes (and what GC then reclaims), immutable tags, settings, packages, virtual and remote rules."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from artifacts import gc
from artifacts.models import Blob
from repositories.models import Asset
from tests.ociimages import make_image

from ..models import Manifest, Tag
from .conftest import basic


def codes(response):
    return [e["code"] for e in response.json()["errors"]]


def test_delete_tag_then_manifest_unlinks_its_blobs_for_gc(client, dk, push):
    shared = make_image({"shared": b"s"})
    other = make_image({"shared": b"s"}, arch="arm64")  # same layer, another config
    assert push("dk/app", shared, "one").status_code == 201
    assert push("dk/app", other, "two").status_code == 201
    assert client.delete("/v2/dk/app/manifests/one", **basic("bob")).status_code == 403
    assert client.delete("/v2/dk/app/manifests/one", **basic("alice")).status_code == 202
    assert codes(client.get("/v2/dk/app/manifests/one", **basic("alice"))) == ["MANIFEST_UNKNOWN"]
    assert client.get(f"/v2/dk/app/manifests/{shared.digest}", **basic("alice")).status_code == 200
    assert client.delete(f"/v2/dk/app/manifests/{shared.digest}", **basic("alice")).status_code == 202
    assert codes(client.delete(f"/v2/dk/app/manifests/{shared.digest}", **basic("alice"))) == ["MANIFEST_UNKNOWN"]
    kept = set(Asset.objects.filter(repository=dk).values_list("path", flat=True))
    assert kept == {f"app/blobs/{d}" for d in other.blobs}  # the shared layer stays, the old config goes
    # GC reclaims the unlinked config and the manifest's bytes once past the grace period
    Blob.objects.update(last_linked=timezone.now() - timedelta(hours=2))
    report = gc.collect()
    gone = {f"sha256:{d}" for d in report.digests}
    old_config = next(d for d in shared.blobs if d not in other.blobs)
    assert old_config in gone and shared.digest in gone
    assert not gone & set(other.blobs) and other.digest not in gone


def test_blob_delete(client, dk, push):
    image = make_image()
    assert push("dk/app", image).status_code == 201
    layer = list(image.blobs)[1]
    assert client.delete(f"/v2/dk/app/blobs/{layer}", **basic("alice")).status_code == 202
    assert client.head(f"/v2/dk/app/blobs/{layer}", **basic("alice")).status_code == 404
    assert codes(client.delete(f"/v2/dk/app/blobs/{layer}", **basic("alice"))) == ["BLOB_UNKNOWN"]


def test_immutable_tags(client, make_repo, alice, push):
    make_repo("frozen", grants={alice: "deploy"}, settings={"docker": {"immutable_tags": True}})
    first, second = make_image(), make_image({"x": b"other"})
    assert push("frozen/app", first, "1.0").status_code == 201
    assert push("frozen/app", first, "1.0").status_code == 201  # the same content again is fine
    moved = push("frozen/app", second, "1.0")
    assert moved.status_code == 409 and codes(moved) == ["TAG_INVALID"]
    assert Tag.objects.get(name="1.0").manifest.digest == first.digest


def test_settings_through_the_api(admin_client, db):
    ok = admin_client.post("/api/v1/repositories/", {"name": "dset", "format": "docker", "kind": "local",
                                                     "docker": {"immutable_tags": True}}, content_type="application/json")
    assert ok.status_code == 201 and ok.json()["docker"] == {"immutable_tags": True}
    bad = admin_client.post("/api/v1/repositories/", {"name": "dset2", "format": "docker", "kind": "local",
                                                      "docker": {"immutable_tags": "yes"}}, content_type="application/json")
    assert bad.status_code == 400
    unknown = admin_client.post("/api/v1/repositories/", {"name": "dset3", "format": "docker", "kind": "local",
                                                          "docker": {"nope": 1}}, content_type="application/json")
    assert unknown.status_code == 400


def test_packages_listing(admin_client, dk, push):
    image = make_image(layers=2)
    assert push("dk/app", image, "v1").status_code == 201
    body = admin_client.get("/api/v1/repositories/dk/packages/").json()
    entries = body["results"] if isinstance(body, dict) else body
    version = entries[0]["versions"][0]
    assert entries[0]["name"] == "app" and version["digest"] == image.digest and version["tags"] == ["v1"]
    assert version["layers"] == 2 and version["pushed_by"] == "alice"
    assert version["platforms"] == [{"os": "linux", "architecture": "amd64"}]
    assert version["created"] == "2024-01-02T03:04:05Z"
    assert admin_client.delete(f"/api/v1/repositories/dk/packages/app/{image.digest}/").status_code == 204
    assert not Manifest.objects.exists()


def test_virtual_reads_members_in_order_and_pushes_to_deploy_to(client, dk, make_repo, alice, push):
    second = make_repo("dk-b", grants={alice: "deploy"})
    assert push("dk-b/app", make_image({"b": b"1"}), "only-b").status_code == 201
    assert push("dk/app", make_image({"a": b"1"}), "both").status_code == 201
    assert push("dk-b/app", make_image({"b": b"2"}), "both").status_code == 201
    virtual = make_repo("dk-v", kind="virtual", members=[dk, second], grants={alice: "deploy"}, deploy_to=dk)
    assert client.get("/v2/dk-v/app/tags/list", **basic("alice")).json()["tags"] == ["both", "only-b"]
    both = client.get("/v2/dk-v/app/manifests/both", **basic("alice"))
    assert both["Docker-Content-Digest"] == Tag.objects.get(repository=dk, name="both").manifest.digest
    assert client.get("/v2/dk-v/app/manifests/only-b", **basic("alice")).status_code == 200
    image = make_image({"v": b"pushed"})
    assert push("dk-v/app", image, "via").status_code == 201
    assert Tag.objects.filter(repository=dk, name="via").exists() and virtual.pk
    no_target = make_repo("dk-v2", kind="virtual", members=[dk], grants={alice: "deploy"})
    r = client.post("/v2/dk-v2/app/blobs/uploads/", data=b"", content_type="a/b", **basic("alice"))
    assert r.status_code == 405 and codes(r) == ["UNSUPPORTED"]


def test_remote_refuses_pushes(client, make_repo, alice):
    make_repo("dk-proxy", kind="remote", upstream_url="http://127.0.0.1:9", grants={alice: "deploy"})
    r = client.post("/v2/dk-proxy/app/blobs/uploads/", data=b"", content_type="a/b", **basic("alice"))
    assert r.status_code == 405 and codes(r) == ["UNSUPPORTED"]
    down = client.get("/v2/dk-proxy/app/manifests/v1", **basic("alice"))
    assert down.status_code == 502 and codes(down) == ["UNAVAILABLE"]
