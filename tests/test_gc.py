"""Garbage collection: unreferenced blobs past the grace period and abandoned uploads go; the rest stays.

In-process tests cover the rules; `packyard manage gc` and the Celery task run against a real
`packyard serve` (the session `packyard` fixture), whose database, broker and worker are its own.
"""
from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from artifacts import gc
from artifacts.ingest import stage_bytes
from artifacts.models import Blob, UploadSession
from artifacts.storage import get_storage, key_for
from repositories.models import Asset, CacheEntry, Repository

HOUR_AGO = timedelta(hours=1, minutes=1)


@pytest.fixture(autouse=True)
def _own_blob_root(blob_root):
    """Every test here counts or collects stored files: its own folder (root conftest)."""


def make_blob(data: bytes, linked_ago: timedelta | None = None) -> Blob:
    with stage_bytes(data) as staged:
        blob = staged.commit()
    if linked_ago is not None:
        Blob.objects.filter(pk=blob.pk).update(last_linked=timezone.now() - linked_ago)
    return blob


def stored(blob: Blob) -> bool:
    return get_storage().exists(key_for(blob.sha256))


@pytest.mark.django_db
def test_collects_only_unreferenced_blobs_past_the_grace():
    repo = Repository.objects.create(name="gc-local", format="pypi", kind="local")
    orphan = make_blob(b"orphan bytes", HOUR_AGO)
    fresh = make_blob(b"just linked")  # unreferenced, but within the grace period
    asset_blob = make_blob(b"an asset", HOUR_AGO)
    cached_blob = make_blob(b"cached upstream metadata", HOUR_AGO)
    Asset.objects.create(repository=repo, path="a/a-1.0.tar.gz", blob=asset_blob)
    CacheEntry.objects.create(repository=repo, key="simple/a/", blob=cached_blob)

    dry = gc.collect(dry_run=True)
    assert (dry.blobs, dry.blob_bytes, dry.digests) == (1, len(b"orphan bytes"), [orphan.sha256])
    assert Blob.objects.count() == 4 and stored(orphan)

    report = gc.collect()
    assert (report.blobs, report.blob_bytes, report.digests) == (1, len(b"orphan bytes"), [orphan.sha256])
    assert set(Blob.objects.values_list("pk", flat=True)) == {fresh.pk, asset_blob.pk, cached_blob.pk}
    assert not stored(orphan)
    assert stored(fresh) and stored(asset_blob) and stored(cached_blob)

    assert gc.collect(grace_seconds=0).digests == [fresh.sha256]
    assert gc.collect(grace_seconds=0).blobs == 0


@pytest.mark.django_db
def test_relinking_refreshes_the_grace():
    blob = make_blob(b"uploaded again", HOUR_AGO)
    make_blob(b"uploaded again")  # the same content arrives again: last_linked moves to now
    assert gc.collect().blobs == 0
    assert stored(blob)


@pytest.mark.django_db
def test_abandoned_uploads(tmp_path):
    tmp = settings.PACKYARD_HOME / "tmp"
    old, recent = tmp / f"upload-old-{os.getpid()}", tmp / f"upload-new-{os.getpid()}"
    old.write_bytes(b"x" * 100)
    recent.write_bytes(b"y" * 7)
    stale = timezone.now() - timedelta(days=2)
    UploadSession.objects.create(id="old", repository="r", temp_path=str(old), size=100, updated=stale)
    UploadSession.objects.create(id="new", repository="r", temp_path=str(recent), size=7)
    # A temp file left by an ingest whose process died: no session, just old.
    crashed = tmp / f"ingest-crashed-{os.getpid()}"
    crashed.write_bytes(b"z" * 11)
    os.utime(crashed, (stale.timestamp(), stale.timestamp()))

    dry = gc.collect(dry_run=True)
    assert (dry.uploads, dry.upload_bytes) == (2, 111)
    assert old.exists() and crashed.exists() and UploadSession.objects.count() == 2

    report = gc.collect()
    assert (report.uploads, report.upload_bytes) == (2, 111)
    assert not old.exists() and not crashed.exists() and recent.exists()
    assert list(UploadSession.objects.values_list("id", flat=True)) == ["new"]
    recent.unlink()


@pytest.mark.django_db
def test_management_command_output(capsys):
    from django.core.management import call_command

    make_blob(b"12345", HOUR_AGO)
    call_command("gc", "--dry-run")
    assert "would free 1 blobs (5 bytes)" in capsys.readouterr().out
    call_command("gc")
    assert "freed 1 blobs (5 bytes)" in capsys.readouterr().out
    assert Blob.objects.count() == 0


# Against a real server: the blob is created in the server's own database by a shell snippet.

def server_blob(server, data: bytes) -> str:
    """Ingest `data` into the server's store, linked two hours ago; returns its sha256."""
    snippet = (
        "from datetime import timedelta; from django.utils import timezone\n"
        "from artifacts.ingest import stage_bytes; from artifacts.models import Blob\n"
        f"staged = stage_bytes(bytes.fromhex('{data.hex()}'))\n"
        "blob = staged.commit()\n"
        "Blob.objects.filter(pk=blob.pk).update(last_linked=timezone.now() - timedelta(hours=2))\n"
        "print('SHA', blob.sha256)\n"
    )
    result = server.manage("shell", "-c", snippet)
    assert result.returncode == 0, result.stderr
    return re.search(r"SHA (\w{64})", result.stdout).group(1)


def test_cli_gc_against_server(packyard):
    data = os.urandom(4321)
    sha = server_blob(packyard, data)
    path = packyard.home / "blobs" / key_for(sha)
    assert path.exists()
    dry = packyard.manage("gc", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would free 1 blobs (4321 bytes)" in dry.stdout
    assert path.exists()
    real = packyard.manage("gc")
    assert real.returncode == 0, real.stderr
    assert "freed 1 blobs (4321 bytes)" in real.stdout
    assert not path.exists()


def test_celery_task_runs_in_the_server_worker(packyard):
    sha = server_blob(packyard, os.urandom(999))
    path = packyard.home / "blobs" / key_for(sha)
    packyard.collect_garbage_until_gone(path)
    check = packyard.manage("shell", "-c", f"from artifacts.models import Blob\nprint(Blob.objects.filter(pk='{sha}').count())")
    assert check.stdout.split()[-1] == "0", check.stderr
