"""REST API: package listing, version delete and yank, search, the audit log and the OpenAPI schema."""
from __future__ import annotations

import hashlib

import pytest

from artifacts.models import Blob
from repositories.models import Asset, AuditEvent, Repository

from .api_helpers import admin, client_for, create, error_of, fast_hasher, make_user  # noqa: F401

pytestmark = pytest.mark.django_db


def add_file(repo_name, package, version, path=None, content=b""):
    content = content or f"{repo_name}/{package}/{version}/{path}".encode()
    digest = hashlib.sha256(content).hexdigest()
    blob, _ = Blob.objects.get_or_create(sha256=digest, defaults={"size": len(content)})
    return Asset.objects.create(repository=Repository.objects.get(name=repo_name), package=package, version=version,
                                path=path or f"{package}/{package}-{version}.tar.gz", blob=blob)


def grant(admin, repo, user, role):  # noqa: F811  (admin: the fixture's client)
    response = admin.post(f"/api/v1/repositories/{repo}/permissions/", {"user": user, "role": role}, format="json")
    assert response.status_code in (200, 201), response.content


def test_packages_listing(admin):  # noqa: F811
    create(admin, "held", "npm")
    add_file("held", "left-pad", "1.0.0", content=b"one")
    add_file("held", "left-pad", "1.1.0")
    add_file("held", "@scope/thing", "2.0.0")
    response = admin.get("/api/v1/repositories/held/packages/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    by_name = {p["name"]: p for p in body["results"]}
    assert [v["version"] for v in by_name["left-pad"]["versions"]] == ["1.0.0", "1.1.0"]
    first = by_name["left-pad"]["versions"][0]["files"][0]
    assert first["size"] == 3 and first["sha256"] == hashlib.sha256(b"one").hexdigest()
    assert by_name["left-pad"]["repository"] == "held"
    assert admin.get("/api/v1/repositories/held/packages/?limit=1").json()["results"][0]["name"] == "@scope/thing"


def test_packages_of_virtual_join_members(admin):  # noqa: F811
    create(admin, "pa", "npm")
    create(admin, "pb", "npm")
    create(admin, "pall", "npm", "virtual", members=["pb", "pa"])
    add_file("pa", "a", "1")
    add_file("pb", "b", "1")
    results = admin.get("/api/v1/repositories/pall/packages/").json()["results"]
    assert [(p["name"], p["repository"]) for p in results] == [("b", "pb"), ("a", "pa")]


def test_packages_need_read(admin):  # noqa: F811
    create(admin, "closed", "npm")
    assert client_for().get("/api/v1/repositories/closed/packages/").status_code == 401
    reader = make_user("reader")
    assert client_for(reader).get("/api/v1/repositories/closed/packages/").status_code == 404
    grant(admin, "closed", "reader", "read")
    assert client_for(reader).get("/api/v1/repositories/closed/packages/").status_code == 200


def test_delete_version_needs_delete_role(admin):  # noqa: F811
    create(admin, "del", "npm")
    add_file("del", "@scope/thing", "1.0.0")
    add_file("del", "@scope/thing", "2.0.0")
    deployer = make_user("deployer")
    grant(admin, "del", "deployer", "deploy")
    url = "/api/v1/repositories/del/packages/@scope/thing/1.0.0/"
    assert client_for(deployer).delete(url).status_code == 403
    assert AuditEvent.objects.filter(action="package.delete", outcome="denied", actor="deployer").exists()
    grant(admin, "del", "deployer", "delete")
    assert client_for(deployer).delete(url).status_code == 204
    assert list(Asset.objects.filter(repository__name="del").values_list("version", flat=True)) == ["2.0.0"]
    response = client_for(deployer).delete(url)
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    event = AuditEvent.objects.get(action="package.delete", outcome="ok")
    assert event.actor == "deployer" and event.repository == "del" and event.path == "@scope/thing/1.0.0"


def test_delete_through_virtual_acts_on_deploy_to(admin):  # noqa: F811
    create(admin, "dl", "npm")
    create(admin, "dv", "npm", "virtual", members=["dl"], deploy_to="dl")
    create(admin, "dv-nodeploy", "npm", "virtual", members=["dl"])
    add_file("dl", "pkg", "1.0.0")
    user = make_user("viauser")
    grant(admin, "dv", "viauser", "delete")  # on the virtual only: its member's grants are not consulted
    assert client_for(user).delete("/api/v1/repositories/dl/packages/pkg/1.0.0/").status_code == 404
    assert client_for(user).delete("/api/v1/repositories/dv/packages/pkg/1.0.0/").status_code == 204
    assert not Asset.objects.filter(repository__name="dl").exists()
    assert admin.delete("/api/v1/repositories/dv-nodeploy/packages/pkg/1.0.0/").status_code == 400


def test_yank_pypi(admin):  # noqa: F811
    create(admin, "pyy", "pypi")
    add_file("pyy", "demo", "1.0", path="demo/demo-1.0.tar.gz")
    user = make_user("yanker")
    grant(admin, "pyy", "yanker", "read")
    url = "/api/v1/repositories/pyy/packages/demo/1.0/yank/"
    assert client_for(user).post(url, {"reason": "broken"}, format="json").status_code == 403
    grant(admin, "pyy", "yanker", "deploy")
    response = client_for(user).post(url, {"reason": "broken"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"package": "demo", "version": "1.0", "yanked": True, "files": 1}
    assert Asset.objects.get(repository__name="pyy").meta["yanked"] == "broken"
    response = client_for(user).post(url, {"yanked": False}, format="json")
    assert response.status_code == 200 and not Asset.objects.get(repository__name="pyy").meta["yanked"]
    assert client_for(user).post("/api/v1/repositories/pyy/packages/demo/9.9/yank/", {}, format="json").status_code == 404
    assert AuditEvent.objects.filter(action="package.yank", actor="yanker", outcome="ok").count() == 1
    assert AuditEvent.objects.filter(action="package.unyank", actor="yanker").count() == 1


def test_yank_unsupported_format_is_400(admin):  # noqa: F811
    create(admin, "mvy", "maven")
    add_file("mvy", "org.example:lib", "1.0")
    response = admin.post("/api/v1/repositories/mvy/packages/org.example:lib/1.0/yank/", {"reason": "x"}, format="json")
    assert response.status_code == 400 and "yank" in error_of(response)["message"]


def test_search_filtered_by_readability(admin):  # noqa: F811
    create(admin, "s-open", "npm", anonymous_read=True)
    create(admin, "s-team", "npm")
    create(admin, "s-py", "pypi")
    add_file("s-open", "Left-Pad", "1.0.0")
    add_file("s-open", "left-pad", "1.1.0")
    add_file("s-team", "left-pad", "2.0.0")
    add_file("s-team", "right-pad", "1.0.0")
    add_file("s-py", "leftpadder", "0.1")
    anon = client_for().get("/api/v1/search/?q=LEFT").json()
    assert {(r["repository"], r["name"]) for r in anon["results"]} == {("s-open", "Left-Pad"), ("s-open", "left-pad")}
    reader = make_user("searcher")
    grant(admin, "s-team", "searcher", "read")
    results = client_for(reader).get("/api/v1/search/?q=pad").json()["results"]
    assert {(r["repository"], r["name"]) for r in results} == {
        ("s-open", "Left-Pad"), ("s-open", "left-pad"), ("s-team", "left-pad"), ("s-team", "right-pad")}
    everything = admin.get("/api/v1/search/?q=left").json()
    assert everything["count"] == 4
    only_pypi = admin.get("/api/v1/search/?q=left&format=pypi").json()["results"]
    assert len(only_pypi) == 1 and only_pypi[0]["format"] == "pypi" and only_pypi[0]["latest_version"] == "0.1"
    paged = admin.get("/api/v1/search/?q=pad&limit=2&offset=1").json()
    assert paged["count"] == 5 and len(paged["results"]) == 2


def test_search_versions_newest_first(admin):  # noqa: F811
    create(admin, "s-ver", "npm")
    for version in ("1.0.0", "3.0.0", "2.0.0"):
        add_file("s-ver", "lib", version)
    result = admin.get("/api/v1/search/?q=lib").json()["results"][0]
    assert result["versions"] == ["2.0.0", "3.0.0", "1.0.0"] and result["latest_version"] == "2.0.0"


def test_audit_is_for_admins_and_records_writes(admin):  # noqa: F811
    create(admin, "audited")
    admin.patch("/api/v1/repositories/audited/", {"description": "x"}, format="json")
    make_user("watcher")
    admin.post("/api/v1/repositories/audited/permissions/", {"user": "watcher", "role": "manage"}, format="json")
    assert client_for(make_user("peeker")).get("/api/v1/audit/").status_code == 403
    events = admin.get("/api/v1/audit/?repository=audited").json()
    assert [e["action"] for e in events["results"]] == ["permission.grant", "repository.update", "repository.create"]
    assert all(e["actor"] == "root" and e["outcome"] == "ok" for e in events["results"])
    only = admin.get("/api/v1/audit/?action=repository.create&actor=root").json()
    assert only["count"] == 1 and only["results"][0]["repository"] == "audited"
    # Even a manager of the repository does not see the log.
    assert client_for(Repository.objects.get(name="audited").grants.get().user).get("/api/v1/audit/").status_code == 403


def test_schema_and_docs(admin):  # noqa: F811
    response = admin.get("/api/v1/schema/?format=json")
    assert response.status_code == 200, response.content[:500]
    paths = response.json()["paths"]
    for path in ("/api/v1/repositories/", "/api/v1/repositories/{name}/", "/api/v1/repositories/{name}/permissions/",
                 "/api/v1/repositories/{name}/packages/", "/api/v1/repositories/{name}/packages/{package}/{version}/",
                 "/api/v1/repositories/{name}/packages/{package}/{version}/yank/", "/api/v1/search/", "/api/v1/audit/"):
        assert path in paths, path
    docs = admin.get("/api/v1/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
