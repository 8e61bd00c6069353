"""Docker and garbage collection: abandoned pushes are reclaimed, nothing in use ever is.

- formats.docker.gc unlinks blob links no manifest of their image references once they are older
  than the grace period, and the core GC then frees the blob in the same run;
- referenced blobs, recent links (a push in progress), uploads in progress, links of remote
  repositories, and a blob another repository links and references all stay;
- put_manifest's link check and save, and the unlinks of a manifest DELETE and of GC, hold the
  image lock: the race tests stop one side inside the locked region and show the other waits;
- the Celery task `artifacts.tasks.collect_garbage` runs the step, in process and in the worker
  of a real `packyard serve`.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.test import Client
from django.utils import timezone

from artifacts import gc
from artifacts.ingest import stage_bytes
from artifacts.models import Blob
from artifacts.storage import get_storage, key_for
from repositories.models import Asset, Repository
from tests.ociimages import make_image, make_index

from .. import gc as docker_gc
from .. import manifests, store
from ..models import Manifest
from .conftest import basic

OLD = timedelta(hours=2)  # past the default grace period (one hour)


@pytest.fixture(autouse=True)
def _own_blob_root(blob_root):
    """Every test here counts or collects stored files: its own folder (root conftest)."""


def upload(client, name: str, data: bytes, auth=None) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = client.post(f"/v2/{name}/blobs/uploads/?digest={digest}", data=data,
                    content_type="application/octet-stream", **(auth or basic("alice")))
    assert r.status_code == 201, r.content
    return digest


def age(ago: timedelta = OLD, **where) -> None:
    """Move links (Asset.modified) and blobs (Blob.last_linked) `ago` into the past."""
    then = timezone.now() - ago
    Asset.objects.filter(**where).update(modified=then)
    Blob.objects.update(last_linked=then)


def sha(digest: str) -> str:
    return digest.split(":", 1)[1]


def stored(digest: str) -> bool:
    return get_storage().exists(key_for(sha(digest)))


def linked(repo, image: str, digest: str) -> bool:
    return Asset.objects.filter(repository=repo, path=f"{image}/blobs/{digest}").exists()


def body_of(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def codes(response) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]


def put_manifest(client, name: str, image, reference: str = "latest"):
    return client.put(f"/v2/{name}/manifests/{reference}", data=image.manifest, content_type=image.media_type,
                      **basic("alice"))


# ---------------------------------------------------------------------------------------------
# What the step reclaims, and what it leaves


def test_abandoned_push_is_reclaimed_after_the_grace_period(client, dk, push):
    image = make_image({"abandoned.txt": b"layers uploaded, manifest never sent"})
    for data in image.blobs.values():
        upload(client, "dk/app", data)
    age()

    dry = gc.collect(dry_run=True)
    assert dry.unlinked == 2
    assert {f"sha256:{d}" for d in dry.digests} == set(image.blobs)  # counted though still linked
    assert "would unlink 2 unreferenced format links" in dry.summary(dry_run=True)
    assert all(linked(dk, "app", d) and stored(d) for d in image.blobs)

    report = gc.collect()
    assert report.unlinked == 2 and {f"sha256:{d}" for d in report.digests} == set(image.blobs)
    for digest in image.blobs:
        assert not linked(dk, "app", digest)
        assert not Blob.objects.filter(pk=sha(digest)).exists() and not stored(digest)
        assert client.head(f"/v2/dk/app/blobs/{digest}", **basic("alice")).status_code == 404
    # the client starts over: the same push now works
    assert push("dk/app", image).status_code == 201


def test_links_within_the_grace_period_stay(client, dk):
    layer = upload(client, "dk/app", b"a layer of a push still in progress")
    age(timedelta(minutes=30))  # the blob is old enough for the core, the link is not
    Blob.objects.update(last_linked=timezone.now() - OLD)
    report = gc.collect()
    assert report.unlinked == 0 and report.blobs == 0
    assert linked(dk, "app", layer) and stored(layer)
    # a shorter grace makes the same link collectable: the age is what kept it
    assert gc.collect(grace_seconds=600).unlinked == 1 and not stored(layer)


def test_referenced_blobs_stay_and_only_the_unreferenced_link_goes(client, dk, push):
    single = make_image({"kept.txt": b"in a tagged image"})
    amd, arm = make_image({"multi": b"m"}), make_image({"multi": b"m"}, arch="arm64")
    index = make_index({"amd64": amd, "arm64": arm})
    assert push("dk/app", single, "v1").status_code == 201
    assert push("dk/app", index, "multi").status_code == 201
    stray = upload(client, "dk/app", b"uploaded beside them, never referenced")
    age()

    report = gc.collect()
    assert report.unlinked == 1 and [f"sha256:{d}" for d in report.digests] == [stray]
    referenced = {*single.blobs, *amd.blobs, *arm.blobs}
    assert all(linked(dk, "app", d) and stored(d) for d in referenced)
    for image in (single, amd, arm, index):  # every manifest and every blob still pulls
        assert client.get(f"/v2/dk/app/manifests/{image.digest}", **basic("bob")).status_code == 200
    for digest, data in {**single.blobs, **amd.blobs, **arm.blobs}.items():
        assert body_of(client.get(f"/v2/dk/app/blobs/{digest}", **basic("bob"))) == data


def test_references_count_per_image(client, dk, push):
    """The same blob uploaded to another image of the repository is that image's own link."""
    image = make_image({"per-image": b"p"})
    assert push("dk/app", image).status_code == 201
    layer = list(image.blobs)[1]
    upload(client, "dk/other", image.blobs[layer])  # other's push never got to its manifest
    age()
    report = gc.collect()
    assert report.unlinked == 1 and report.blobs == 0  # app's link keeps the blob
    assert not linked(dk, "other", layer) and linked(dk, "app", layer) and stored(layer)


def test_a_blob_referenced_in_another_repository_stays(client, dk, push, make_repo, alice):
    make_repo("dkb", grants={alice: "delete"})
    image = make_image({"cross": b"pushed to dk, mounted into dkb"})
    config, layer = list(image.blobs)
    assert push("dk/app", image, "v1").status_code == 201
    mounted = client.post(f"/v2/dkb/copy/blobs/uploads/?mount={layer}&from=dk/app", data=b"",
                          content_type="application/octet-stream", **basic("alice"))
    assert mounted.status_code == 201
    upload(client, "dkb/copy", image.blobs[config])
    assert put_manifest(client, "dkb/copy", image).status_code == 201  # referenced in dkb too
    # dk forgets the image: its links go; and an abandoned re-upload of the layer in dk
    assert client.delete(f"/v2/dk/app/manifests/{image.digest}", **basic("alice")).status_code == 202
    upload(client, "dk/retry", image.blobs[layer])
    age()

    report = gc.collect()
    assert report.unlinked == 1 and not linked(dk, "retry", layer)  # dk's stray link goes
    assert report.blobs == 0  # dkb still references the layer, the config and the manifest's bytes
    assert linked(Repository.objects.get(name="dkb"), "copy", layer) and stored(layer)
    pulled = client.get(f"/v2/dkb/copy/blobs/{layer}", **basic("alice"))
    assert pulled.status_code == 200 and body_of(pulled) == image.blobs[layer]
    assert client.get("/v2/dkb/copy/manifests/latest", **basic("alice")).status_code == 200


def test_remote_repository_links_are_left_alone(dk):
    remote = Repository.objects.create(name="dk-remote", format="docker", kind="remote",
                                       upstream_url="http://127.0.0.1:9/")
    with stage_bytes(b"a layer cached from the upstream, pulled by digest") as staged:
        blob = staged.commit()
    store.link_blob(remote, "library/app", blob)
    age()
    assert gc.collect().unlinked == 0
    assert linked(remote, "library/app", f"sha256:{blob.sha256}") and stored(f"sha256:{blob.sha256}")


# ---------------------------------------------------------------------------------------------
# A push in progress keeps what it relies on


def test_a_head_restarts_the_grace_of_an_old_link(client, dk):
    """docker push HEADs a layer, skips it if present, then PUTs the manifest: the link must last."""
    image = make_image({"again": b"pushed once, abandoned, pushed again"})
    for data in image.blobs.values():
        upload(client, "dk/app", data)
    age()  # the first push was abandoned two hours ago
    for digest in image.blobs:
        assert client.head(f"/v2/dk/app/blobs/{digest}", **basic("alice")).status_code == 200
    assert gc.collect().unlinked == 0
    assert put_manifest(client, "dk/app", image).status_code == 201
    # a fresh link is not written again: a HEAD within half the grace period costs no UPDATE
    before = Asset.objects.get(path=f"app/blobs/{list(image.blobs)[1]}").modified
    client.head(f"/v2/dk/app/blobs/{list(image.blobs)[1]}", **basic("alice"))
    assert Asset.objects.get(path=f"app/blobs/{list(image.blobs)[1]}").modified == before


def test_a_head_after_gc_took_the_link_is_404(client, dk, monkeypatch):
    layer = upload(client, "dk/app", b"found by the HEAD, unlinked before its refresh")
    age()
    original_find = store.find_blob

    def find_then_collect(repository, image, digest):
        found = original_find(repository, image, digest)
        gc.collect()  # GC's unlink lands between the HEAD's lookup and its refresh
        return found

    monkeypatch.setattr(store, "find_blob", find_then_collect)
    assert client.head(f"/v2/dk/app/blobs/{layer}", **basic("alice")).status_code == 404
    assert not linked(dk, "app", layer)


def test_uploading_the_same_blob_again_restarts_the_grace(client, dk):
    data = b"re-uploaded by a second push"
    digest = upload(client, "dk/app", data)
    age()
    upload(client, "dk/app", data)
    assert gc.collect().unlinked == 0 and linked(dk, "app", digest) and stored(digest)


def test_an_upload_in_progress_survives_a_collection(client, dk):
    image = make_image({"slow": b"a chunked upload that takes its time"})
    config, layer = list(image.blobs)
    upload(client, "dk/app", image.blobs[config])
    upload(client, "dk/app", image.blobs[layer])
    age()  # an old abandoned push of the same layer, about to be collected
    start = client.post("/v2/dk/app/blobs/uploads/", data=b"", content_type="a/b", **basic("alice"))
    location = start["Location"].split("testserver", 1)[-1]
    patched = client.patch(location, data=image.blobs[layer], content_type="application/octet-stream",
                           **basic("alice"))
    assert patched.status_code == 202
    report = gc.collect()
    assert report.unlinked == 2 and sha(layer) in report.digests  # the old link and blob went
    done = client.put(f"{location}?digest={layer}", data=b"", content_type="application/octet-stream",
                      **basic("alice"))
    assert done.status_code == 201 and linked(dk, "app", layer) and stored(layer)
    upload(client, "dk/app", image.blobs[config])
    assert put_manifest(client, "dk/app", image).status_code == 201
    assert body_of(client.get(f"/v2/dk/app/blobs/{layer}", **basic("bob"))) == image.blobs[layer]


# ---------------------------------------------------------------------------------------------
# The image lock: deterministic interleavings, one side held inside its locked region


def _in_thread(target, results: dict, key: str) -> threading.Thread:
    def run():
        try:
            results[key] = target()
        finally:
            connection.close()  # this thread's own database connection

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_push_and_a_delete_sharing_a_layer_serialize(client, dk, push, monkeypatch):
    old = make_image({"shared": b"a layer both images use"})
    new = make_image({"shared": b"a layer both images use"}, arch="arm64")  # same layer, new config
    layer = next(d for d in new.blobs if d in old.blobs)
    old_config = next(d for d in old.blobs if d not in new.blobs)
    assert push("dk/app", old, "one").status_code == 201
    for data in new.blobs.values():  # the new push's blob phase: the layer is already there
        upload(client, "dk/app", data)

    results, reached, state = {}, threading.Event(), {}
    original_delete, original_save = store.delete_manifest, store.save_manifest

    def delete_reaching_the_lock(*args, **kwargs):
        reached.set()
        return original_delete(*args, **kwargs)

    def save_while_a_delete_is_sent(repository, image, digest, *args, **kwargs):
        # Inside put_manifest's locked region: the links were checked, nothing is saved yet. The
        # DELETE of the old manifest (the only one referencing the layer so far) goes now.
        deleter = _in_thread(lambda: Client().delete(f"/v2/dk/app/manifests/{old.digest}", **basic("alice")),
                             results, "delete")
        assert reached.wait(10)
        deleter.join(timeout=1.0)
        state["delete_waited"] = deleter.is_alive()  # without the lock it unlinks the layer right here
        state["deleter"] = deleter
        return original_save(repository, image, digest, *args, **kwargs)

    monkeypatch.setattr(store, "delete_manifest", delete_reaching_the_lock)
    monkeypatch.setattr(store, "save_manifest", save_while_a_delete_is_sent)
    assert put_manifest(client, "dk/app", new, "two").status_code == 201
    state["deleter"].join(timeout=30)
    assert state["delete_waited"] is True
    assert results["delete"].status_code == 202

    # The delete ran after the save: it saw the new manifest and kept the shared layer.
    assert linked(dk, "app", layer) and not linked(dk, "app", old_config)
    assert not Manifest.objects.filter(digest=old.digest).exists()
    assert client.get("/v2/dk/app/manifests/two", **basic("bob")).status_code == 200
    for digest, data in new.blobs.items():
        assert body_of(client.get(f"/v2/dk/app/blobs/{digest}", **basic("bob"))) == data
    age()
    report = gc.collect()
    assert sha(layer) not in report.digests and sha(old_config) in report.digests
    assert body_of(client.get(f"/v2/dk/app/blobs/{layer}", **basic("bob"))) == new.blobs[layer]


@pytest.mark.django_db(transaction=True)
def test_a_push_waits_for_gc_and_then_finds_the_layer_unlinked(client, dk, monkeypatch):
    image = make_image({"late": b"the manifest arrives while GC unlinks"})
    for data in image.blobs.values():
        upload(client, "dk/app", data)
    age()

    results, reached, state = {}, threading.Event(), {}
    original_parse, original_unlink = manifests.parse, docker_gc._unlink

    def parse_then_signal(*args, **kwargs):
        parsed = original_parse(*args, **kwargs)
        reached.set()  # next: the digest, then the image lock
        return parsed

    def unlink_while_a_push_arrives(cutoff, repository_id, image_name):
        pusher = _in_thread(lambda: put_manifest(Client(), "dk/app", image), results, "push")
        assert reached.wait(10)
        pusher.join(timeout=1.0)
        state["push_waited"] = pusher.is_alive()
        state["pusher"] = pusher
        return original_unlink(cutoff, repository_id, image_name)

    monkeypatch.setattr(manifests, "parse", parse_then_signal)
    monkeypatch.setattr(docker_gc, "_unlink", unlink_while_a_push_arrives)
    report = gc.Report()
    docker_gc.collect_links(report, grace_seconds=3600)
    state["pusher"].join(timeout=30)  # before anything else touches the database
    assert state["push_waited"] is True and report.unlinked == 2
    # The push checked after the unlink: refused, nothing stored that points at a missing blob.
    pushed = results["push"]
    assert pushed.status_code == 400 and set(codes(pushed)) == {"MANIFEST_BLOB_UNKNOWN"}
    assert not Manifest.objects.filter(digest=image.digest).exists()


@pytest.mark.django_db(transaction=True)
def test_a_blob_delete_waits_for_a_push_in_its_locked_region(client, dk, monkeypatch):
    image = make_image({"del": b"deleted while the manifest is saved"})
    for data in image.blobs.values():
        upload(client, "dk/app", data)
    layer = list(image.blobs)[1]
    results, reached, state = {}, threading.Event(), {}
    original_save, original_find = store.save_manifest, store.find_blob

    def find_signalling(repository, image_name, digest):
        if threading.current_thread() is not threading.main_thread():
            reached.set()
        return original_find(repository, image_name, digest)

    def save_while_a_blob_delete_is_sent(*args, **kwargs):
        deleter = _in_thread(lambda: Client().delete(f"/v2/dk/app/blobs/{layer}", **basic("alice")), results, "delete")
        time.sleep(0.2)
        state["reached_inside"] = reached.is_set()  # find_blob runs only under the lock
        deleter.join(timeout=1.0)
        state["delete_waited"] = deleter.is_alive()
        state["deleter"] = deleter
        return original_save(*args, **kwargs)

    monkeypatch.setattr(store, "find_blob", find_signalling)
    monkeypatch.setattr(store, "save_manifest", save_while_a_blob_delete_is_sent)
    assert put_manifest(client, "dk/app", image).status_code == 201
    state["deleter"].join(timeout=30)
    assert state["delete_waited"] is True and state["reached_inside"] is False
    assert results["delete"].status_code == 202  # an explicit blob DELETE still wins, after the save


# ---------------------------------------------------------------------------------------------
# The scheduled task runs the step


def test_the_celery_task_runs_the_docker_step(client, dk):
    from artifacts.tasks import collect_garbage

    assert "docker" in gc._collectors  # registered by DockerConfig.ready()
    layer = upload(client, "dk/app", b"left by a push that died")
    age()
    assert collect_garbage(grace_seconds=3600) == 1  # called as the worker calls it
    assert not linked(dk, "app", layer) and not stored(layer)


@pytest.fixture(scope="module")
def server():
    from tests.servers import PackyardServer

    instance = PackyardServer()
    yield instance
    instance.stop()


def test_the_worker_of_a_real_server_reclaims_an_abandoned_push(server):
    server.create_repo("gcdock", "docker")
    url, auth = f"{server.url}/v2/gcdock", server.admin
    kept = make_image({"kept": os.urandom(64)})
    abandoned = os.urandom(2048)
    for data in [*kept.blobs.values(), abandoned]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        r = requests.post(f"{url}/app/blobs/uploads/?digest={digest}", data=data, auth=auth, timeout=30)
        assert r.status_code == 201, r.text
    r = requests.put(f"{url}/app/manifests/v1", data=kept.manifest, auth=auth, timeout=30,
                     headers={"Content-Type": kept.media_type})
    assert r.status_code == 201, r.text
    aged = server.manage("shell", "-c", (
        "from datetime import timedelta; from django.utils import timezone\n"
        "from artifacts.models import Blob; from repositories.models import Asset\n"
        "then = timezone.now() - timedelta(hours=2)\n"
        "Asset.objects.filter(repository__name='gcdock').update(modified=then)\n"
        "Blob.objects.update(last_linked=then)\n"))
    assert aged.returncode == 0, aged.stderr
    path = server.home / "blobs" / key_for(hashlib.sha256(abandoned).hexdigest())
    assert path.exists()

    server.collect_garbage_until_gone(path)
    for digest, data in kept.blobs.items():
        pulled = requests.get(f"{url}/app/blobs/{digest}", auth=auth, timeout=30)
        assert pulled.status_code == 200 and pulled.content == data
    assert "unlinked 1 docker blobs" in server.log()


def test_a_mount_whose_source_gc_just_reclaimed_becomes_an_upload(client, dk, push, make_repo, alice, monkeypatch):
    """GC may unlink the source and delete its Blob between the mount's lookup and its link."""
    from artifacts.models import Blob
    from formats.docker import blobs, store

    make_repo("dk2", grants={alice: "deploy"})
    image = make_image()
    assert push("dk/app", image).status_code == 201
    layer = next(iter(image.blobs))
    real = store.find_blob

    def found_then_reclaimed(repository, name, digest):
        asset = real(repository, name, digest)
        if asset is not None:
            Asset.objects.filter(blob=asset.blob).delete()
            Blob.objects.filter(pk=asset.blob.pk).delete()
        return asset

    monkeypatch.setattr(blobs.store, "find_blob", found_then_reclaimed)
    r = client.post(f"/v2/dk2/copy/blobs/uploads/?mount={layer}&from=dk/app", data=b"", content_type="a/b",
                    **basic("alice"))
    assert r.status_code == 202 and r["Docker-Upload-UUID"]
    assert not Asset.objects.filter(repository__name="dk2").exists()
