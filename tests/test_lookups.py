"""repositories.lookups: the hand-written queries must give exactly what the ORM gives."""
from __future__ import annotations

import pytest

from artifacts.ingest import stage_bytes
from repositories.lookups import follow, kept_assets, package_summary
from repositories.models import Asset, Repository

pytestmark = pytest.mark.django_db


@pytest.fixture
def assets():
    one = Repository.objects.create(name="lk-one", format="maven", kind="local")
    two = Repository.objects.create(name="lk-two", format="maven", kind="remote", upstream_url="http://127.0.0.1:9/")
    with stage_bytes(b"first") as staged:
        first = staged.commit()
    with stage_bytes(b"second") as staged:
        second = staged.commit()
    rows = [Asset.objects.create(repository=one, path="g/a/1/a-1.jar", blob=first, package="g:a", meta={"k": [1]}),
            Asset.objects.create(repository=two, path="g/a/1/a-1.jar", blob=second, package="g:a"),
            Asset.objects.create(repository=two, path="g/a/2/a-2.jar", blob=second, package="g:a")]
    return one, two, rows


def test_follow_equals_select_related(assets):
    one, two, _ = assets
    ours = sorted(kept_assets([one.pk, two.pk], "g/a/1/a-1.jar"), key=lambda a: a.pk)
    orm = list(Asset.objects.filter(repository__in=[one, two], path="g/a/1/a-1.jar").select_related("blob").order_by("pk"))
    assert [(a.pk, a.repository_id, a.path, a.meta, a.created, a.modified) for a in ours] == [
        (a.pk, a.repository_id, a.path, a.meta, a.created, a.modified) for a in orm]
    assert [(a.blob.sha256, a.blob.size, a.blob.created, a.blob.last_linked) for a in ours] == [
        (a.blob.sha256, a.blob.size, a.blob.created, a.blob.last_linked) for a in orm]
    assert ours[0].created.tzinfo is not None  # converted like the ORM's, on SQLite too
    ours[0].meta["k"].append(2)  # a fresh object: changing it changes nothing stored
    assert Asset.objects.get(pk=ours[0].pk).meta == {"k": [1]}


def test_follow_filters(assets):
    one, two, _ = assets
    assert kept_assets([], "g/a/1/a-1.jar") == []
    assert kept_assets([one.pk], "g/a/2/a-2.jar") == []
    assert [a.repository_id for a in follow(Asset, ("blob",), repository_id=two.pk, path="g/a/2/a-2.jar")] == [two.pk]
    assert len(follow(Asset, (), package="g:a")) == 3


def test_package_summary(assets):
    one, two, rows = assets
    summary = package_summary([one.pk, two.pk], "g:a", [one.pk])
    assert (summary.files, summary.last_id, summary.local_files) == (3, max(a.pk for a in rows), 1)
    assert summary.modified == max(a.modified for a in rows)
    assert package_summary([two.pk], "g:a", [one.pk]).local_files == 0
    assert package_summary([one.pk], "nothing", [one.pk]).files == 0
