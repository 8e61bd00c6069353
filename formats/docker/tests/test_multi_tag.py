"""Pushing one manifest by digest with several `?tag=` parameters (OCI distribution-spec end-7b)."""
from __future__ import annotations

from repositories.models import AuditEvent
from tests.ociimages import make_image

from ..models import Manifest, Tag
from .conftest import basic


def upload_blobs(client, name, image, auth=None):
    for digest, data in image.blobs.items():
        r = client.post(f"/v2/{name}/blobs/uploads/?digest={digest}", data=data,
                        content_type="application/octet-stream", **(auth or basic("alice")))
        assert r.status_code == 201, r.content


def put(client, name, image, reference, auth=None):
    return client.put(f"/v2/{name}/manifests/{reference}", data=image.manifest, content_type=image.media_type,
                      **(auth or basic("alice")))


def oci_tags(response):
    return [t.strip() for t in response["OCI-Tag"].split(",")]


def pushes(repository):
    return sorted(AuditEvent.objects.filter(action="docker.push", repository=repository)
                  .values_list("path", "outcome"))


def test_digest_push_with_tag_parameters_sets_every_tag(client, dk, push):
    image = make_image()
    r = push("dk/app", image, f"{image.digest}?tag=1.2.3&tag=1.2&tag=latest&tag=1.2")
    assert r.status_code == 201, r.content
    assert r["Docker-Content-Digest"] == image.digest
    assert r["Location"].endswith(f"/v2/dk/app/manifests/{image.digest}")
    assert oci_tags(r) == ["1.2.3", "1.2", "latest"]  # a repeated tag is applied and reported once
    listed = client.get("/v2/dk/app/tags/list", **basic("bob"))
    assert listed.json() == {"name": "dk/app", "tags": ["1.2", "1.2.3", "latest"]}
    for tag in ("1.2.3", "1.2", "latest"):
        got = client.get(f"/v2/dk/app/manifests/{tag}", **basic("bob"))
        assert got.status_code == 200 and got["Docker-Content-Digest"] == image.digest
        assert got.content == image.manifest
    assert Manifest.objects.filter(repository=dk).count() == 1
    # one audit event per applied tag, as three tagged pushes would have left
    assert pushes("dk") == [("app:1.2", "ok"), ("app:1.2.3", "ok"), ("app:latest", "ok")]
    assert set(AuditEvent.objects.filter(action="docker.push").values_list("detail__digest", flat=True)) == {
        image.digest}


def test_tag_parameters_can_move_mutable_tags_and_plain_pushes_send_no_oci_tag(client, dk, push):
    first, second = make_image(), make_image({"x": b"second"})
    assert push("dk/app", first, f"{first.digest}?tag=stable&tag=latest").status_code == 201
    moved = push("dk/app", second, f"{second.digest}?tag=latest")
    assert moved.status_code == 201 and oci_tags(moved) == ["latest"]
    assert Tag.objects.get(repository=dk, name="latest").manifest.digest == second.digest
    assert Tag.objects.get(repository=dk, name="stable").manifest.digest == first.digest
    plain = push("dk/app", make_image({"y": b"3"}), "v3")
    assert plain.status_code == 201 and not plain.has_header("OCI-Tag")
    untagged = make_image({"z": b"4"})
    by_digest = push("dk/app", untagged, untagged.digest)
    assert by_digest.status_code == 201 and not by_digest.has_header("OCI-Tag")
    assert sorted(Tag.objects.filter(repository=dk).values_list("name", flat=True)) == ["latest", "stable", "v3"]


def test_an_invalid_tag_refuses_the_whole_put_and_applies_nothing(client, dk):
    image = make_image()
    upload_blobs(client, "dk/app", image)
    bad = put(client, "dk/app", image, f"{image.digest}?tag=good&tag=-bad&tag=also-good")
    assert bad.status_code == 400
    assert bad.json() == {"errors": [{"code": "TAG_INVALID", "message": "invalid tag", "detail": {"tag": "-bad"}}]}
    assert bad["Docker-Distribution-API-Version"] == "registry/2.0" and not bad.has_header("OCI-Tag")
    for query in ("tag=" + "a" * 129, "tag=ok&tag=", "tag=a:b", "tag=a/b"):
        r = put(client, "dk/app", image, f"{image.digest}?{query}")
        assert r.status_code == 400 and [e["code"] for e in r.json()["errors"]] == ["TAG_INVALID"], query
    # tag parameters belong to a push by digest; with a tag reference the PUT is refused, not half done
    mixed = put(client, "dk/app", image, "v1?tag=v2")
    assert mixed.status_code == 400 and [e["code"] for e in mixed.json()["errors"]] == ["UNSUPPORTED"]
    many = put(client, "dk/app", image, image.digest + "?" + "&".join(f"tag=t{i}" for i in range(101)))
    assert many.status_code == 414
    assert not Tag.objects.exists() and not Manifest.objects.exists()
    assert pushes("dk") == []
    ok = put(client, "dk/app", image, image.digest + "?" + "&".join(f"tag=t{i}" for i in range(100)))
    assert ok.status_code == 201 and Tag.objects.filter(repository=dk).count() == 100


def test_an_immutable_tag_refuses_every_tag_of_the_push(client, make_repo, alice, push):
    frozen = make_repo("frozen", grants={alice: "deploy"}, settings={"docker": {"immutable_tags": True}})
    first, second = make_image(), make_image({"x": b"other"})
    assert push("frozen/app", first, "1.0").status_code == 201
    refused = push("frozen/app", second, f"{second.digest}?tag=2.0&tag=1.0&tag=latest")
    assert refused.status_code == 409
    assert refused.json() == {"errors": [{"code": "TAG_INVALID", "message": "tag 1.0 is immutable in repository frozen",
                                          "detail": {"tag": "1.0", "digest": first.digest}}]}
    assert not refused.has_header("OCI-Tag")
    assert list(Tag.objects.filter(repository=frozen).values_list("name", "manifest__digest")) == [
        ("1.0", first.digest)]
    assert not Manifest.objects.filter(digest=second.digest).exists()
    assert pushes("frozen") == [("app:1.0", "denied"), ("app:1.0", "ok")]
    # the same content under its existing tag plus new ones is not a move
    again = push("frozen/app", first, f"{first.digest}?tag=1.0&tag=1")
    assert again.status_code == 201 and oci_tags(again) == ["1.0", "1"]
    assert sorted(Tag.objects.filter(repository=frozen).values_list("name", flat=True)) == ["1", "1.0"]


def test_tag_parameters_need_push_and_go_to_a_virtuals_deploy_to(client, dk, make_repo, alice, bob):
    image = make_image()
    upload_blobs(client, "dk/app", image)
    denied = put(client, "dk/app", image, f"{image.digest}?tag=a&tag=b", auth=basic("bob"))
    assert denied.status_code == 403 and [e["code"] for e in denied.json()["errors"]] == ["DENIED"]
    anonymous = client.put(f"/v2/dk/app/manifests/{image.digest}?tag=a", data=image.manifest,
                           content_type=image.media_type)
    assert anonymous.status_code == 401
    assert not Tag.objects.exists() and not Manifest.objects.exists()
    make_repo("dk-v", kind="virtual", members=[dk], grants={alice: "deploy", bob: "read"}, deploy_to=dk)
    assert put(client, "dk-v/app", image, f"{image.digest}?tag=a", auth=basic("bob")).status_code == 403
    via = put(client, "dk-v/app", image, f"{image.digest}?tag=a&tag=b")
    assert via.status_code == 201 and oci_tags(via) == ["a", "b"]
    assert via["Location"].endswith(f"/v2/dk-v/app/manifests/{image.digest}")
    assert sorted(Tag.objects.filter(repository=dk).values_list("name", flat=True)) == ["a", "b"]
    assert set(AuditEvent.objects.filter(action="docker.push").values_list("repository", "path", "detail__via")) == {
        ("dk", "app:a", "dk-v"), ("dk", "app:b", "dk-v")}
