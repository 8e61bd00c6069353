"""Remote repositories and non-unique SNAPSHOT files: rechecked after metadata_ttl, kept when the upstream is down.

Time is moved by ageing the upstream cache entries (CacheEntry.fetched_at), not by sleeping.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.db.models import F

from repositories.models import Asset, CacheEntry

pytestmark = pytest.mark.django_db

BASE = "org/example/lib"
SNAPSHOT = f"{BASE}/2.0-SNAPSHOT/lib-2.0-SNAPSHOT.jar"
TIMESTAMPED = f"{BASE}/2.0-SNAPSHOT/lib-2.0-20261127.101010-3.jar"
RELEASE = f"{BASE}/1.0/lib-1.0.jar"


@pytest.fixture
def remote(make_repo, alice, upstream):
    return make_repo("mvn-remote", kind="remote", upstream_url=upstream.url, metadata_ttl=600,
                     stale_while_revalidate=False, grants={alice: "read"})


def body(response) -> bytes:
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content) if response.streaming else response.content


def publish(upstream, path: str, data: bytes, sha1: bytes | None = None) -> None:
    upstream.write(path, data)
    upstream.write(path + ".sha1", sha1 if sha1 is not None else hashlib.sha1(data).hexdigest().encode())


def age(remote, seconds: int = 601) -> None:
    """As if `seconds` had passed since every upstream answer was cached."""
    CacheEntry.objects.filter(repository=remote).update(fetched_at=F("fetched_at") - timedelta(seconds=seconds))


def test_non_unique_snapshot_is_rechecked_after_the_ttl(get, remote, upstream):
    publish(upstream, SNAPSHOT, b"build one")
    assert body(get("mvn-remote", SNAPSHOT)) == b"build one"
    publish(upstream, SNAPSHOT, b"build two")

    # Within the TTL: the kept copy, its checksums, and no upstream request.
    age(remote, 590)
    response = get("mvn-remote", SNAPSHOT)
    assert body(response) == b"build one"
    assert response["X-Checksum-Sha1"] == hashlib.sha1(b"build one").hexdigest()
    assert get("mvn-remote", SNAPSHOT + ".sha1").content.decode() == hashlib.sha1(b"build one").hexdigest()
    assert upstream.hits("lib-2.0-SNAPSHOT.jar") == 1

    # After it: refetched, and the checksums describe the new bytes.
    age(remote, 20)
    response = get("mvn-remote", SNAPSHOT)
    assert body(response) == b"build two"
    assert response["X-Checksum-Sha1"] == hashlib.sha1(b"build two").hexdigest()
    assert get("mvn-remote", SNAPSHOT + ".sha256").content.decode() == hashlib.sha256(b"build two").hexdigest()
    assert upstream.hits("lib-2.0-SNAPSHOT.jar") == 2
    asset = Asset.objects.get(repository=remote, path=SNAPSHOT)
    assert asset.blob_id == hashlib.sha256(b"build two").hexdigest() and asset.version == "2.0-SNAPSHOT"

    # The upstream down after the TTL: the kept copy is served (stale-if-error) ...
    publish(upstream, SNAPSHOT, b"build three")
    upstream.stop()
    age(remote)
    assert body(get("mvn-remote", SNAPSHOT)) == b"build two"
    # ... also for a copy kept without a cache entry (fetched before SNAPSHOTs were rechecked).
    CacheEntry.objects.filter(repository=remote, key=SNAPSHOT).delete()
    assert body(get("mvn-remote", SNAPSHOT)) == b"build two"


def test_releases_and_timestamped_snapshots_stay_immutable(get, remote, upstream):
    for path in (RELEASE, TIMESTAMPED):
        publish(upstream, path, b"first " + path.encode())
        assert body(get("mvn-remote", path)) == b"first " + path.encode()
        publish(upstream, path, b"second " + path.encode())
    age(remote, 10 * 86400)
    for path in (RELEASE, TIMESTAMPED):
        assert body(get("mvn-remote", path)) == b"first " + path.encode()
        assert upstream.hits(path.rsplit("/", 1)[-1]) == 1


def test_snapshot_gone_upstream_is_dropped(get, make_repo, alice, remote, upstream):
    publish(upstream, SNAPSHOT, b"build one")
    local = make_repo("mvn-hosted", grants={alice: "deploy"})
    make_repo("mvn-group", kind="virtual", members=[remote, local], grants={alice: "read"})
    assert body(get("mvn-group", SNAPSHOT)) == b"build one"
    upstream.remove(SNAPSHOT)
    age(remote)
    assert get("mvn-group", SNAPSHOT).status_code == 404
    assert not Asset.objects.filter(repository=remote, path=SNAPSHOT).exists()
    # The miss is remembered like any other (negative_cache_ttl).
    assert get("mvn-remote", SNAPSHOT).status_code == 404
    assert upstream.hits("lib-2.0-SNAPSHOT.jar") == 2


def test_refreshed_snapshot_failing_its_sha1_is_not_served(get, remote, upstream):
    publish(upstream, SNAPSHOT, b"build one")
    assert body(get("mvn-remote", SNAPSHOT)) == b"build one"
    # mvn uploads the jar before its .sha1: for a moment the upstream's pair disagrees.
    publish(upstream, SNAPSHOT, b"build two", sha1=hashlib.sha1(b"build one").hexdigest().encode())
    age(remote)
    assert body(get("mvn-remote", SNAPSHOT)) == b"build one"
    publish(upstream, SNAPSHOT, b"build two")
    age(remote)
    assert body(get("mvn-remote", SNAPSHOT)) == b"build two"
    # With nothing kept, a mismatch is a 502, as for any other file.
    other = f"{BASE}/3.0-SNAPSHOT/lib-3.0-SNAPSHOT.jar"
    publish(upstream, other, b"bytes", sha1=b"0" * 40)
    assert get("mvn-remote", other).status_code == 502
    assert not Asset.objects.filter(repository=remote, path=other).exists()
