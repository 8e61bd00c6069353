"""Publishing to a local npm repository: verification, refusals, dist-tags, deprecate, unpublish, login."""
from __future__ import annotations

import base64
import os
import gzip
import json

import pytest

from repositories.models import Asset, AuditEvent, Grant

from .helpers import basic, publish_doc, tgz

pytestmark = pytest.mark.django_db


def get(client, url, user="alice", **headers):
    return client.get(url, **(basic(user) if user else {}), **headers)


def test_publish_then_packument_and_tarball(client, local, publish):
    data = tgz("@acme/widget", "1.0.0")
    response = publish("npm-local", publish_doc("@acme/widget", "1.0.0", data))
    assert response.status_code == 201, response.content
    for url in ("/repository/npm-local/@acme%2fwidget", "/repository/npm-local/@acme/widget"):
        doc = json.loads(get(client, url).content)
        assert doc["_id"] == "@acme/widget" and doc["_rev"] and doc["dist-tags"] == {"latest": "1.0.0"}
        dist = doc["versions"]["1.0.0"]["dist"]
        assert dist["tarball"] == "http://testserver/repository/npm-local/@acme/widget/-/widget-1.0.0.tgz"
        assert doc["time"]["1.0.0"] and doc["readme"] == "# readme"
    tarball = get(client, "/repository/npm-local/@acme/widget/-/widget-1.0.0.tgz")
    assert tarball.status_code == 200 and b"".join(tarball.streaming_content) == data
    assert AuditEvent.objects.filter(action="npm.publish", outcome="ok").count() == 1


@pytest.mark.parametrize("change, status", [
    (lambda d: d["versions"]["1.0.0"]["dist"].update(integrity="sha512-" + base64.b64encode(b"x" * 64).decode()), 400),
    (lambda d: d["versions"]["1.0.0"]["dist"].update(shasum="0" * 40), 400),
    (lambda d: d.update(name="other-name"), 400),
    (lambda d: d["versions"]["1.0.0"].update(version="1.0.1"), 400),
    (lambda d: d["_attachments"]["demo-1.0.0.tgz"].update(data="%%%not base64"), 400),
])
def test_bad_publishes_store_nothing(client, local, publish, change, status):
    doc = publish_doc("demo", "1.0.0")
    change(doc)
    response = publish("npm-local", doc, name="demo")
    assert response.status_code == status, response.content
    assert "error" in json.loads(response.content)
    assert not Asset.objects.exists()


def test_tarball_package_json_must_match(local, publish):
    response = publish("npm-local", publish_doc("demo", "1.0.0", tgz("evil", "1.0.0")))
    assert response.status_code == 400 and b"package.json" in response.content


def test_republish_refused_and_tarball_unchanged(client, local, publish):
    first = tgz("demo", "1.0.0")
    assert publish("npm-local", publish_doc("demo", "1.0.0", first)).status_code == 201
    again = publish("npm-local", publish_doc("demo", "1.0.0", tgz("demo", "1.0.0", payload="changed")))
    assert again.status_code == 403
    assert json.loads(again.content)["error"].startswith("You cannot publish over")
    body = b"".join(get(client, "/repository/npm-local/demo/-/demo-1.0.0.tgz").streaming_content)
    assert body == first


@pytest.mark.parametrize("path, read_status", [
    ("Upper", 404), ("@Scope/x", 404),  # legacy names: readable (upstreams have them), never publishable
    (".hidden", 400), ("_under", 400), ("a%20b", 400), ("@scope", 400), ("x" * 215, 400), ("a%3Cb", 400),
])
def test_invalid_names(client, local, publish, path, read_status):
    assert get(client, f"/repository/npm-local/{path}").status_code == read_status
    doc = publish_doc("demo", "1.0.0")
    doc["name"] = doc["_id"] = path
    response = client.put(f"/repository/npm-local/{path}", data=json.dumps(doc), content_type="application/json",
                          **basic("alice"))
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["demo/-/..%2f..%2fsecret", "demo/../x", "%2e%2e/demo", "demo/-/a/..%2f..%2fb/-rev/1"])
def test_traversal(client, local, path):
    assert client.get(f"/repository/npm-local/{path}", **basic("alice")).status_code in (400, 404)


def test_oversized_publish_is_413(local, publish, settings):
    settings.PACKYARD_MAX_UPLOAD_BYTES = 200
    response = publish("npm-local", publish_doc("demo", "1.0.0", tgz("demo", "1.0.0", payload=os.urandom(3000).hex())))
    assert response.status_code == 413
    assert not Asset.objects.exists()


def test_publish_to_remote_refused_and_auth_errors(client, make_repo, alice, local, publish):
    make_repo("npm-proxy", kind="remote", upstream_url="http://127.0.0.1:9/", grants={alice: "manage"})
    assert publish("npm-proxy", name="demo").status_code == 405
    anonymous = client.get("/repository/npm-local/demo")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Basic")
    assert "error" in json.loads(anonymous.content)
    bad = client.get("/repository/npm-local/demo", HTTP_AUTHORIZATION="Bearer pky_nope")
    assert bad.status_code == 401 and "WWW-Authenticate" in bad
    # A PyPI-style multipart POST to the registry root is a clear 4xx.
    assert 400 <= client.post("/repository/npm-local/", data={"name": "x"}, **basic("alice")).status_code < 500


def test_dist_tags(client, local, publish):
    for version in ("1.0.0", "1.1.0"):
        assert publish("npm-local", name="demo", version=version).status_code == 201
    base = "/repository/npm-local/-/package/demo/dist-tags"
    put = client.put(f"{base}/beta", data='"1.0.0"', content_type="application/json", **basic("alice"))
    assert put.status_code == 201
    assert json.loads(get(client, base).content) == {"latest": "1.1.0", "beta": "1.0.0"}
    assert client.put(f"{base}/beta", data='"9.9.9"', content_type="application/json", **basic("alice")).status_code == 404
    assert client.put(f"{base}/1.x", data='"1.0.0"', content_type="application/json", **basic("alice")).status_code == 400
    assert client.delete(f"{base}/latest", **basic("alice")).status_code == 400
    assert client.delete(f"{base}/beta", **basic("alice")).status_code == 200
    assert json.loads(get(client, base).content) == {"latest": "1.1.0"}


def test_deprecate_and_unpublish_like_npm(client, make_user, local, publish):
    for version in ("1.0.0", "1.1.0"):
        assert publish("npm-local", name="demo", version=version).status_code == 201
    doc = json.loads(get(client, "/repository/npm-local/demo?write=true").content)
    doc["versions"]["1.0.0"]["deprecated"] = "old"
    edit = client.put("/repository/npm-local/demo", data=json.dumps(doc), content_type="application/json", **basic("alice"))
    assert edit.status_code == 201
    corgi = json.loads(get(client, "/repository/npm-local/demo", HTTP_ACCEPT="application/vnd.npm.install-v1+json").content)
    assert corgi["versions"]["1.0.0"]["deprecated"] == "old" and "deprecated" not in corgi["versions"]["1.1.0"]
    # An edit cannot add a version.
    doc["versions"]["2.0.0"] = dict(doc["versions"]["1.1.0"], version="2.0.0")
    assert client.put("/repository/npm-local/demo", data=json.dumps(doc), content_type="application/json",
                      **basic("alice")).status_code == 400
    # Unpublish 1.1.0: PUT without it, then DELETE its tarball; latest moves back.
    doc = json.loads(get(client, "/repository/npm-local/demo?write=true").content)
    del doc["versions"]["1.1.0"]
    Grant.objects.create(repository=local, user=make_user("deployer"), role="deploy")
    body = json.dumps(doc)
    assert client.put(f"/repository/npm-local/demo/-rev/{doc['_rev']}", data=body, content_type="application/json",
                      **basic("deployer")).status_code == 403
    assert client.put(f"/repository/npm-local/demo/-rev/{doc['_rev']}", data=body, content_type="application/json",
                      **basic("alice")).status_code == 201
    assert client.delete("/repository/npm-local/demo/-/demo-1.1.0.tgz/-rev/3-x", **basic("alice")).status_code == 200
    after = json.loads(get(client, "/repository/npm-local/demo").content)
    assert list(after["versions"]) == ["1.0.0"] and after["dist-tags"]["latest"] == "1.0.0"
    # An unpublished version number is not reused.
    assert publish("npm-local", name="demo", version="1.1.0").status_code == 403
    assert client.delete("/repository/npm-local/demo/-rev/4-x", **basic("alice")).status_code == 200
    assert get(client, "/repository/npm-local/demo").status_code == 404
    assert not Asset.objects.exists()


def test_login_whoami_logout(client, local, alice):
    url = "/repository/npm-local/-/user/org.couchdb.user:alice"
    wrong = client.put(url, data=json.dumps({"name": "alice", "password": "bad"}), content_type="application/json")
    assert wrong.status_code == 401 and "WWW-Authenticate" in wrong
    assert client.put(url, data=json.dumps({"name": "bob", "password": "x"}), content_type="application/json").status_code == 400
    ok = client.put(url, data=json.dumps({"name": "alice", "password": "pw-for-tests"}), content_type="application/json")
    assert ok.status_code == 201
    token = json.loads(ok.content)["token"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert json.loads(client.get("/repository/npm-local/-/whoami", **bearer).content) == {"username": "alice"}
    assert client.get("/repository/npm-local/-/whoami").status_code == 401
    assert client.delete(f"/repository/npm-local/-/user/token/{token}", **bearer).status_code == 200
    assert client.get("/repository/npm-local/-/whoami", **bearer).status_code == 401
    assert client.get("/repository/npm-local/-/ping").status_code == 200
    assert client.post("/repository/npm-local/-/v1/login", data="{}", content_type="application/json").status_code == 404


def test_search_and_audit_without_remotes(client, local, publish):
    assert publish("npm-local", name="left-pad", version="1.0.0").status_code == 201
    found = json.loads(get(client, "/repository/npm-local/-/v1/search?text=left&size=5").content)
    assert found["total"] == 1 and found["objects"][0]["package"]["name"] == "left-pad"
    body = gzip.compress(json.dumps({"left-pad": ["1.0.0"]}).encode())
    response = client.post("/repository/npm-local/-/npm/v1/security/advisories/bulk", data=body,
                           content_type="application/json", HTTP_CONTENT_ENCODING="gzip", **basic("alice"))
    assert response.status_code == 200 and json.loads(response.content) == {}
    garbage = client.post("/repository/npm-local/-/npm/v1/security/audits/quick", data=b"\x1f\x8bnot gzip",
                          content_type="application/json", HTTP_CONTENT_ENCODING="gzip", **basic("alice"))
    assert garbage.status_code == 200
