"""Virtual repositories: merged pages, first member wins, the dependency-confusion guard, uploads via deploy_to."""
from __future__ import annotations

import json

import pytest

from repositories.models import Asset, Grant

from .helpers import basic, build_wheel

pytestmark = pytest.mark.django_db

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def setup(make_repo, make_user, alice, local, upstream, upload):
    remote = make_repo("py-remote", kind="remote", upstream_url=upstream.index_url, metadata_ttl=3600,
                       stale_while_revalidate=False)
    second = make_repo("py-second", grants={alice: "deploy"})
    virtual = make_repo("py-all", kind="virtual", members=[local, second, remote], deploy_to=local)
    reader = make_user("reader")
    Grant.objects.create(repository=virtual, user=reader, role="read")
    return {"remote": remote, "virtual": virtual, "second": second, "reader": reader}


def files_of(client, repo, project, user="reader"):
    response = client.get(f"/repository/{repo}/simple/{project}/", HTTP_ACCEPT=JSON_TYPE, **basic(user))
    assert response.status_code == 200, response.content
    return {f["filename"]: f for f in json.loads(response.content)["files"]}


def test_merge_first_member_wins_and_urls_point_at_virtual(client, setup, upload, upstream):
    local_copy = build_wheel("shared", "1.0")
    other_copy = build_wheel("shared", "1.0", payload=b"# second\n")
    assert upload("py-local", local_copy).status_code == 200
    assert upload("py-second", other_copy).status_code == 200
    assert upload("py-second", build_wheel("shared", "1.1")).status_code == 200
    files = files_of(client, "py-all", "shared")
    assert set(files) == {local_copy.filename, "shared-1.1-py3-none-any.whl"}
    assert files[local_copy.filename]["hashes"]["sha256"] == local_copy.sha256
    assert files[local_copy.filename]["url"].startswith("http://testserver/repository/py-all/files/shared/")
    response = client.get(f"/repository/py-all/files/shared/{local_copy.filename}", **basic("reader"))
    assert b"".join(response.streaming_content) == local_copy.content
    assert client.get(f"/repository/py-all/files/shared/{local_copy.filename}.metadata",
                      **basic("reader")).status_code == 200


def test_remote_only_project_through_virtual(client, setup, upstream):
    wheel = build_wheel("other", "3.0")
    upstream.add("other", wheel)
    files = files_of(client, "py-all", "other")
    assert files[wheel.filename]["url"] == f"http://testserver/repository/py-all/files/other/{wheel.filename}"
    response = client.get(f"/repository/py-all/files/other/{wheel.filename}", **basic("reader"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == wheel.content
    assert Asset.objects.filter(repository=setup["remote"], path=f"files/other/{wheel.filename}").exists()


def test_dependency_confusion_guard(client, setup, upload, upstream):
    internal = build_wheel("internal-lib", "1.0")
    attacker = build_wheel("internal-lib", "99.0")
    assert upload("py-local", internal).status_code == 200
    upstream.add("internal-lib", attacker)
    assert set(files_of(client, "py-all", "internal-lib")) == {internal.filename}
    url = f"/repository/py-all/files/internal-lib/{attacker.filename}"
    assert client.get(url, **basic("reader")).status_code == 404
    assert upstream.hits("/simple/internal-lib/") == 0
    virtual = setup["virtual"]
    virtual.settings = {"pypi": {"dependency_confusion_guard": False}}
    virtual.save()
    assert set(files_of(client, "py-all", "internal-lib")) == {internal.filename, attacker.filename}
    assert client.get(url, **basic("reader")).status_code == 200


def test_virtual_read_needs_grant_on_the_virtual(client, setup, make_user, upload):
    assert upload("py-local", build_wheel("shared", "1.0")).status_code == 200
    make_user("outsider")
    Grant.objects.create(repository=setup["second"], user=setup["reader"], role="read")
    assert client.get("/repository/py-all/simple/shared/", **basic("outsider")).status_code == 403
    # alice holds deploy on the members but nothing on the virtual
    assert client.get("/repository/py-all/simple/shared/", **basic("alice")).status_code == 403


def test_upload_through_virtual_goes_to_deploy_to(client, setup, upload, alice):
    wheel = build_wheel("via-virtual", "1.0")
    assert upload("py-all", wheel).status_code == 403  # deploy on the member is not enough
    Grant.objects.create(repository=setup["virtual"], user=alice, role="deploy")
    assert upload("py-all", wheel).status_code == 200
    assert Asset.objects.filter(repository__name="py-local", path=f"files/via-virtual/{wheel.filename}").exists()
    assert wheel.filename in files_of(client, "py-all", "via-virtual")


def test_upload_to_virtual_without_deploy_to_is_refused(make_repo, alice, upload, local):
    make_repo("py-nodeploy", kind="virtual", members=[local], grants={alice: "deploy"})
    response = upload("py-nodeploy", build_wheel("demo", "1.0"))
    assert response.status_code == 400
    assert "deploy_to" in response.content.decode()


def test_virtual_unknown_project_404_and_partial_outage(client, setup, upstream, upload):
    assert client.get("/repository/py-all/simple/nothing/", **basic("reader")).status_code == 404
    upstream.stop()
    assert client.get("/repository/py-all/simple/nothing2/", **basic("reader")).status_code == 502
    assert upload("py-local", build_wheel("local-only", "1.0")).status_code == 200
    assert client.get("/repository/py-all/simple/local-only/", **basic("reader")).status_code == 200


def test_virtual_root_merges(client, setup, upload, upstream):
    assert upload("py-local", build_wheel("alpha", "1.0")).status_code == 200
    assert upload("py-second", build_wheel("beta", "1.0")).status_code == 200
    upstream.add("gamma", build_wheel("gamma", "1.0"))
    files_of(client, "py-all", "gamma")
    doc = json.loads(client.get("/repository/py-all/simple/", HTTP_ACCEPT=JSON_TYPE, **basic("reader")).content)
    assert [p["name"] for p in doc["projects"]] == ["alpha", "beta", "gamma"]
