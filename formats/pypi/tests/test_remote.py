"""Remote repositories over a real static upstream: page proxying, single fetch, outages, bad hashes."""
from __future__ import annotations

import json

import pytest

from repositories.models import Asset, CacheEntry

from .helpers import basic, build_sdist, build_wheel

pytestmark = pytest.mark.django_db

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def remote(make_repo, alice, upstream):
    return make_repo("py-remote", kind="remote", upstream_url=upstream.index_url, metadata_ttl=3600,
                     stale_while_revalidate=False, grants={alice: "read"})


def page(client, repo, project, accept=JSON_TYPE):
    return client.get(f"/repository/{repo}/simple/{project}/", HTTP_ACCEPT=accept, **basic("alice"))


def test_remote_page_rewrites_urls_and_keeps_hashes(client, remote, upstream):
    wheel = build_wheel("demo", "1.0")
    sdist = build_sdist("demo", "1.0")
    upstream.add("demo", wheel, extra_attrs=' data-requires-python="&gt;=3.9"')
    upstream.add("demo", sdist, extra_attrs=' data-yanked="old"')
    response = page(client, "py-remote", "demo")
    assert response.status_code == 200, response.content
    doc = json.loads(response.content)
    files = {f["filename"]: f for f in doc["files"]}
    assert files[wheel.filename]["url"] == f"http://testserver/repository/py-remote/files/demo/{wheel.filename}"
    assert files[wheel.filename]["hashes"] == {"sha256": wheel.sha256}
    assert files[wheel.filename]["requires-python"] == ">=3.9"
    assert files[sdist.filename]["yanked"] == "old"
    assert "core-metadata" not in files[wheel.filename]
    assert doc["versions"] == ["1.0"]
    html = page(client, "py-remote", "demo", "text/html").content.decode()
    assert f'href="http://testserver/repository/py-remote/files/demo/{wheel.filename}#sha256={wheel.sha256}"' in html
    assert 'data-requires-python="&gt;=3.9"' in html


def test_one_upstream_fetch_within_ttl_and_file_kept(client, remote, upstream):
    wheel = build_wheel("demo", "1.0")
    upstream.add("demo", wheel)
    for _ in range(3):
        assert page(client, "py-remote", "demo").status_code == 200
    url = f"/repository/py-remote/files/demo/{wheel.filename}"
    for _ in range(2):
        response = client.get(url, **basic("alice"))
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == wheel.content
    assert upstream.hits("/simple/demo/") == 1
    assert upstream.hits(f"/packages/{wheel.filename}") == 1
    asset = Asset.objects.get(repository=remote, path=f"files/demo/{wheel.filename}")
    assert (asset.package, asset.version, asset.blob.sha256) == ("demo", "1.0", wheel.sha256)
    # Once kept, the page knows the file's size.
    doc = json.loads(page(client, "py-remote", "demo").content)
    assert doc["files"][0]["size"] == len(wheel.content)


def test_upstream_down_serves_cached_page_and_files(client, remote, upstream):
    wheel = build_wheel("demo", "1.0")
    upstream.add("demo", wheel)
    assert page(client, "py-remote", "demo").status_code == 200
    url = f"/repository/py-remote/files/demo/{wheel.filename}"
    assert client.get(url, **basic("alice")).status_code == 200
    upstream.stop()
    remote.metadata_ttl = 0  # expired: the next page request goes upstream, finds it down, serves stale
    remote.save()
    response = page(client, "py-remote", "demo")
    assert response.status_code == 200
    assert json.loads(response.content)["files"][0]["filename"] == wheel.filename
    response = client.get(url, **basic("alice"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == wheel.content


def test_upstream_down_with_nothing_cached_is_502(client, remote, upstream):
    upstream.stop()
    assert page(client, "py-remote", "demo").status_code == 502
    assert client.get("/repository/py-remote/files/demo/demo-1.0.tar.gz", **basic("alice")).status_code == 502


def test_unknown_upstream_project_is_404_and_negatively_cached(client, remote, upstream):
    assert page(client, "py-remote", "nothing").status_code == 404
    assert page(client, "py-remote", "nothing").status_code == 404
    assert upstream.hits("/simple/nothing/") == 1


def test_file_not_listed_is_404(client, remote, upstream):
    upstream.add("demo", build_wheel("demo", "1.0"))
    assert client.get("/repository/py-remote/files/demo/demo-9.9.tar.gz", **basic("alice")).status_code == 404


def test_bad_upstream_hash_is_502_and_nothing_kept(client, remote, upstream):
    wheel = build_wheel("demo", "1.0")
    upstream.add("demo", wheel, sha256="0" * 64)
    response = client.get(f"/repository/py-remote/files/demo/{wheel.filename}", **basic("alice"))
    assert response.status_code == 502
    assert "verification" in response.content.decode()
    assert not Asset.objects.filter(repository=remote).exists()


def test_json_upstream_page(client, remote, upstream):
    wheel = build_wheel("demo", "2.0")
    upstream.add("other", wheel)  # puts the file under /packages/
    doc = {"meta": {"api-version": "1.1"}, "name": "demo", "versions": ["2.0", "3.0"], "files": [
        {"filename": wheel.filename, "url": f"../../packages/{wheel.filename}", "hashes": {"sha256": wheel.sha256},
         "requires-python": ">=3.10", "yanked": False, "size": len(wheel.content)}]}
    upstream.write_page("demo", json.dumps(doc))
    got = json.loads(page(client, "py-remote", "demo").content)
    assert set(got["versions"]) == {"2.0", "3.0"}
    assert got["files"][0]["size"] == len(wheel.content)
    assert got["files"][0]["requires-python"] == ">=3.10"
    response = client.get(f"/repository/py-remote/files/demo/{wheel.filename}", **basic("alice"))
    assert response.status_code == 200


def test_root_lists_cached_projects(client, remote, upstream):
    upstream.add("demo", build_wheel("demo", "1.0"))
    assert page(client, "py-remote", "demo").status_code == 200
    doc = json.loads(client.get("/repository/py-remote/simple/", HTTP_ACCEPT=JSON_TYPE, **basic("alice")).content)
    assert doc["projects"] == [{"name": "demo"}]
    assert CacheEntry.objects.filter(repository=remote, key="simple/demo/").exists()
