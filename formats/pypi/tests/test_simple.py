"""The simple API of a local repository: HTML and JSON pages, negotiation, redirects, ETags, downloads."""
from __future__ import annotations

import hashlib
import json
import re

import pytest

from repositories.models import Asset

from .helpers import basic, build_sdist, build_wheel

pytestmark = pytest.mark.django_db

PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def published(local, upload):
    wheel = build_wheel("Demo", "1.0", requires_python=">=3.8,<4")
    sdist = build_sdist("Demo", "1.0")
    newer = build_wheel("Demo", "1.1")
    for dist in (wheel, sdist, newer):
        assert upload("py-local", dist).status_code == 200
    return {"wheel": wheel, "sdist": sdist, "newer": newer}


def get(client, url, accept=None, user="alice", **extra):
    headers = basic(user) if user else {}
    if accept is not None:
        headers["HTTP_ACCEPT"] = accept
    return client.get(url, **headers, **extra)


def test_json_project_page(client, published):
    response = get(client, "/repository/py-local/simple/demo/", PIP_ACCEPT)
    assert response.status_code == 200
    assert response["Content-Type"] == JSON_TYPE
    assert response["Vary"] == "Accept"
    doc = json.loads(response.content)
    assert doc["meta"] == {"api-version": "1.1"}
    assert doc["name"] == "demo"
    assert set(doc["versions"]) == {"1.0", "1.1"}
    files = {f["filename"]: f for f in doc["files"]}
    wheel = published["wheel"]
    entry = files[wheel.filename]
    assert entry["url"] == f"http://testserver/repository/py-local/files/demo/{wheel.filename}"
    assert entry["hashes"] == {"sha256": wheel.sha256}
    assert entry["size"] == len(wheel.content)
    assert entry["requires-python"] == ">=3.8,<4"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", entry["upload-time"])
    assert "yanked" not in entry
    metadata_hash = hashlib.sha256(wheel.metadata).hexdigest()
    assert entry["core-metadata"] == {"sha256": metadata_hash}
    assert entry["dist-info-metadata"] == {"sha256": metadata_hash}
    assert "core-metadata" not in files[published["sdist"].filename]
    served = client.get(f"/repository/py-local/files/demo/{wheel.filename}.metadata", **basic("alice"))
    assert served.status_code == 200
    assert hashlib.sha256(b"".join(served.streaming_content)).hexdigest() == metadata_hash


def test_html_project_page(client, published):
    response = get(client, "/repository/py-local/simple/demo/", "text/html")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html"
    html = response.content.decode()
    assert '<meta name="pypi:repository-version" content="1.1">' in html
    wheel = published["wheel"]
    url = f"http://testserver/repository/py-local/files/demo/{wheel.filename}#sha256={wheel.sha256}"
    assert f'href="{url}"' in html
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in html
    metadata_hash = hashlib.sha256(wheel.metadata).hexdigest()
    assert f'data-core-metadata="sha256={metadata_hash}"' in html
    assert f'data-dist-info-metadata="sha256={metadata_hash}"' in html
    assert f">{published['sdist'].filename}</a>" in html
    assert "data-yanked" not in html


@pytest.mark.parametrize("accept, expected", [
    (None, "text/html"),
    ("*/*", "text/html"),
    ("text/html", "text/html"),
    ("application/vnd.pypi.simple.v1+html", "application/vnd.pypi.simple.v1+html"),
    ("application/vnd.pypi.simple.latest+json", JSON_TYPE),
    ("application/vnd.pypi.simple.latest+html", "application/vnd.pypi.simple.v1+html"),
    ("text/html;q=0.9, application/vnd.pypi.simple.v1+json;q=0.5", "text/html"),
    ("application/vnd.pypi.simple.v1+json;q=0, */*;q=0.1", "text/html"),
    ("text/*", "text/html"),
])
def test_content_negotiation(client, published, accept, expected):
    response = get(client, "/repository/py-local/simple/demo/", accept)
    assert response.status_code == 200
    assert response["Content-Type"] == expected


@pytest.mark.parametrize("accept", ["application/json", "application/vnd.pypi.simple.v2+json", "text/html;q=0"])
def test_nothing_acceptable_is_406(client, published, accept):
    assert get(client, "/repository/py-local/simple/demo/", accept).status_code == 406


def test_format_query_overrides_accept(client, published):
    response = get(client, f"/repository/py-local/simple/demo/?format={JSON_TYPE}", "text/html")
    assert response["Content-Type"] == JSON_TYPE
    assert get(client, "/repository/py-local/simple/demo/?format=text/plain", "text/html").status_code == 406


def test_root_page(client, published, upload):
    assert upload("py-local", build_sdist("zeta.pkg", "3")).status_code == 200
    html = get(client, "/repository/py-local/simple/", "text/html").content.decode()
    assert '<a href="demo/">demo</a>' in html and '<a href="zeta-pkg/">zeta-pkg</a>' in html
    doc = json.loads(get(client, "/repository/py-local/simple/", JSON_TYPE).content)
    assert doc["meta"] == {"api-version": "1.1"}
    assert {p["name"] for p in doc["projects"]} == {"demo", "zeta-pkg"}


def test_redirects_to_normalized_slash_url(client, published):
    response = get(client, "/repository/py-local/simple/Demo_/".replace("_/", "/"))
    assert response.status_code == 301
    assert response["Location"] == "http://testserver/repository/py-local/simple/demo/"
    response = get(client, "/repository/py-local/simple/demo?format=text/html")
    assert response.status_code == 301
    assert response["Location"] == "http://testserver/repository/py-local/simple/demo/?format=text/html"
    assert get(client, "/repository/py-local/simple")["Location"].endswith("/repository/py-local/simple/")
    assert get(client, "/repository/py-local/simple/My.Demo_x/")["Location"].endswith("/simple/my-demo-x/")


def test_unknown_project_is_404(client, published):
    assert get(client, "/repository/py-local/simple/nothing-here/").status_code == 404
    assert get(client, "/repository/py-local/simple/bad!name/").status_code == 404


def test_etag_304_and_new_upload_visible_at_once(client, published, upload):
    first = get(client, "/repository/py-local/simple/demo/", PIP_ACCEPT)
    etag = first["ETag"]
    again = get(client, "/repository/py-local/simple/demo/", PIP_ACCEPT, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again["ETag"] == etag
    html = get(client, "/repository/py-local/simple/demo/", "text/html")
    assert html["ETag"] != etag  # each representation has its own tag
    assert upload("py-local", build_wheel("demo", "2.0")).status_code == 200
    after = get(client, "/repository/py-local/simple/demo/", PIP_ACCEPT, HTTP_IF_NONE_MATCH=etag)
    assert after.status_code == 200
    assert "2.0" in json.loads(after.content)["versions"]


def test_yank_shows_in_pages_and_changes_etag(client, published, local):
    from formats.registry import get as plugin

    before = get(client, "/repository/py-local/simple/demo/", PIP_ACCEPT)["ETag"]
    assert plugin("pypi").yank(local, "DEMO", "1.0.0", reason="broken <build>") == 2
    response = get(client, "/repository/py-local/simple/demo/", PIP_ACCEPT, HTTP_IF_NONE_MATCH=before)
    assert response.status_code == 200
    files = {f["filename"]: f for f in json.loads(response.content)["files"]}
    assert files[published["wheel"].filename]["yanked"] == "broken <build>"
    assert "yanked" not in files[published["newer"].filename]
    html = get(client, "/repository/py-local/simple/demo/", "text/html").content.decode()
    assert 'data-yanked="broken &lt;build&gt;"' in html
    plugin("pypi").yank(local, "demo", "1.0", yanked=False)
    assert "data-yanked" not in get(client, "/repository/py-local/simple/demo/", "text/html").content.decode()
    plugin("pypi").yank(local, "demo", "1.1")
    html = get(client, "/repository/py-local/simple/demo/", "text/html").content.decode()
    assert re.search(r"data-yanked[ >][^<]*>demo-1.1-py3-none-any.whl<", html)


def test_delete_version_removes_metadata_rows(client, published, local):
    from formats.registry import get as plugin

    assert plugin("pypi").delete_version(local, "Demo", "1.0") == 2
    assert not Asset.objects.filter(repository=local, version="1.0").exists()
    doc = json.loads(get(client, "/repository/py-local/simple/demo/", PIP_ACCEPT).content)
    assert doc["versions"] == ["1.1"]
    wheel = published["wheel"]
    assert client.get(f"/repository/py-local/files/demo/{wheel.filename}.metadata", **basic("alice")).status_code == 404


def test_packages_listing(published, local):
    from formats.registry import get as plugin

    listing = plugin("pypi").packages(local)
    assert [p["name"] for p in listing] == ["demo"]
    versions = {v["version"]: v for v in listing[0]["versions"]}
    files = {f["filename"]: f for f in versions["1.0"]["files"]}
    wheel = published["wheel"]
    assert set(files) == {wheel.filename, published["sdist"].filename}
    assert files[wheel.filename]["sha256"] == wheel.sha256
    assert files[wheel.filename]["size"] == len(wheel.content)
    assert files[wheel.filename]["yanked"] is False


def test_validate_settings():
    from formats.registry import get as plugin

    p = plugin("pypi")
    assert p.validate_settings("virtual", {"dependency_confusion_guard": False}) == {"dependency_confusion_guard": False}
    assert p.validate_settings("local", {}) == {}
    for bad in ({"dependency_confusion_guard": "no"}, {"other": 1}):
        with pytest.raises(ValueError):
            p.validate_settings("virtual", bad)


def test_download_with_range_and_head(client, published):
    wheel = published["wheel"]
    url = f"/repository/py-local/files/demo/{wheel.filename}"
    response = client.get(url, **basic("alice"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == wheel.content
    assert response["ETag"] == f'"{wheel.sha256}"'
    assert response["Content-Type"] == "application/zip"
    partial = client.get(url, HTTP_RANGE="bytes=0-9", **basic("alice"))
    assert partial.status_code == 206
    assert b"".join(partial.streaming_content) == wheel.content[:10]
    head = client.head(url, **basic("alice"))
    assert head.status_code == 200 and head["Content-Length"] == str(len(wheel.content))
    assert client.get("/repository/py-local/files/demo/missing-1.0.tar.gz", **basic("alice")).status_code == 404
    assert client.get(f"/repository/py-local/files/Demo/{wheel.filename}", **basic("alice")).status_code == 404


def test_read_permissions(client, published, make_user, make_repo):
    anonymous = client.get("/repository/py-local/simple/demo/")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Basic realm="packyard"'
    make_user("carol")
    assert get(client, "/repository/py-local/simple/demo/", user="carol").status_code == 403
    wheel = published["wheel"]
    assert client.get(f"/repository/py-local/files/demo/{wheel.filename}").status_code == 401
    published_repo = make_repo("py-public", anonymous_read=True)
    assert client.get("/repository/py-public/simple/").status_code == 200
    assert published_repo.anonymous_read


def test_simple_rejects_writes(client, published):
    assert client.post("/repository/py-local/simple/demo/", **basic("alice")).status_code == 405
