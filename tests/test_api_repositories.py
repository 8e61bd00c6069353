"""REST API: repositories (create/read/update/delete, validation) and their permissions, over HTTP Basic."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken, Team
from repositories.models import AuditEvent, Grant, Repository

from .api_helpers import admin, client_for, create, error_of, fast_hasher, make_user  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


# --- create, one per kind -------------------------------------------------------------------------

def test_create_local(admin):
    response = create(admin, "py-local", description="ours", anonymous_read=True)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "py-local" and body["format"] == "pypi" and body["kind"] == "local"
    assert body["description"] == "ours" and body["anonymous_read"] is True
    assert body["url"] == "http://testserver/repository/py-local/"
    assert body["members"] == [] and body["deploy_to"] is None
    repo = Repository.objects.get(name="py-local")
    assert repo.kind == "local" and repo.anonymous_read


def test_create_remote_keeps_password_secret(admin):
    response = create(admin, "npm-remote", "npm", "remote", upstream_url="https://registry.npmjs.org/",
                      upstream_username="bot", upstream_password="s3cret", metadata_ttl=60, negative_cache_ttl=30,
                      stale_while_revalidate=False)
    assert response.status_code == 201, response.content
    body = response.json()
    assert "upstream_password" not in body and "s3cret" not in response.content.decode()
    assert body["upstream_password_set"] is True and body["upstream_username"] == "bot"
    assert body["metadata_ttl"] == 60 and body["negative_cache_ttl"] == 30 and body["stale_while_revalidate"] is False
    repo = Repository.objects.get(name="npm-remote")
    assert repo.upstream_password == "s3cret" and "s3cret" not in repo.upstream_password_encrypted
    for response in (admin.get("/api/v1/repositories/npm-remote/"), admin.get("/api/v1/repositories/")):
        assert "s3cret" not in response.content.decode() and "upstream_password\"" not in response.content.decode()
    event = AuditEvent.objects.get(action="repository.create", repository="npm-remote")
    assert "s3cret" not in str(event.detail)


def test_create_virtual_with_members_and_deploy_to(admin):
    for name, kind, extra in (("mvn-a", "local", {}), ("mvn-b", "remote", {"upstream_url": "https://repo1.maven.org/maven2/"})):
        assert create(admin, name, "maven", kind, **extra).status_code == 201
    response = create(admin, "mvn-all", "maven", "virtual", members=["mvn-b", "mvn-a"], deploy_to="mvn-a",
                      maven={"version_policy": "release"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["members"] == ["mvn-b", "mvn-a"] and body["deploy_to"] == "mvn-a"
    assert body["maven"] == {"version_policy": "release", "allow_redeploy": False}
    repo = Repository.objects.get(name="mvn-all")
    assert [m.name for m in repo.member_list()] == ["mvn-b", "mvn-a"] and repo.deploy_to.name == "mvn-a"
    assert repo.settings == {"maven": {"version_policy": "release", "allow_redeploy": False}}


def test_format_settings_defaults_and_docker_url(admin):
    body = create(admin, "mvn-plain", "maven").json()
    assert body["maven"] == {"version_policy": "mixed", "allow_redeploy": False}
    body = create(admin, "oci", "docker", docker={"immutable_tags": True}).json()
    assert body["docker"] == {"immutable_tags": True} and body["url"] == "testserver/oci"


# --- validation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, field", [
    ({"name": "Bad_Name"}, "name"),
    ({"name": "a" * 65}, "name"),
    ({"name": "-dash"}, "name"),
    ({"format": "rubygems"}, "format"),
    ({"kind": "hosted"}, "kind"),
    ({"kind": "remote"}, "upstream_url"),
    ({"kind": "remote", "upstream_url": "ftp://example.com/"}, "upstream_url"),
    ({"kind": "remote", "upstream_url": "not a url"}, "upstream_url"),
    ({"upstream_url": "https://pypi.org/"}, "upstream_url"),
    ({"members": ["x"]}, "members"),
    ({"deploy_to": "x"}, "deploy_to"),
    ({"format": "maven", "maven": {"version_policy": "sometimes"}}, "maven"),
    ({"format": "maven", "maven": {"colour": "blue"}}, "maven"),
    ({"format": "docker", "docker": {"immutable_tags": "yes"}}, "docker"),
    ({"format": "docker", "maven": {}}, "maven"),
    ({"format": "pypi", "pypi": {"nonsense": True}}, "pypi"),
    ({"metadata_ttl": -1}, "metadata_ttl"),
    ({"upstream_ur": "https://typo.example/"}, "upstream_ur"),
])
def test_create_validation(admin, fields, field):
    body = {"name": "ok-name", "format": "pypi", "kind": "local", **fields}
    response = admin.post("/api/v1/repositories/", body, format="json")
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert field in error["fields"], error
    assert not Repository.objects.exists()


def test_virtual_member_rules(admin):
    assert create(admin, "py-a", "pypi").status_code == 201
    assert create(admin, "npm-a", "npm").status_code == 201
    assert create(admin, "py-r", "pypi", "remote", upstream_url="https://pypi.org/").status_code == 201
    cases = [
        ({"members": ["py-a", "npm-a"]}, "npm-a is a npm repository"),
        ({"members": ["py-a", "nowhere"]}, "no such repository: nowhere"),
        ({"members": ["py-a", "py-a"]}, "only once"),
        ({"members": ["py-v"]}, "no such repository"),
        ({"members": ["py-a"], "deploy_to": "py-r"}, "not a member"),
        ({"members": ["py-a", "py-r"], "deploy_to": "py-r"}, "must be a local repository"),
        ({"members": ["py-a"], "upstream_url": "https://pypi.org/"}, "only remote"),
    ]
    for fields, message in cases:
        response = create(admin, "py-v", "pypi", "virtual", **fields)
        assert response.status_code == 400, (fields, response.content)
        assert message in error_of(response)["message"], (fields, response.json())
    assert create(admin, "py-v", "pypi", "virtual", members=["py-a", "py-r"], deploy_to="py-a").status_code == 201
    # A virtual may not end up containing itself, directly or through another virtual.
    assert create(admin, "py-outer", "pypi", "virtual", members=["py-v"]).status_code == 201
    response = admin.patch("/api/v1/repositories/py-v/", {"members": ["py-a", "py-outer"]}, format="json")
    assert response.status_code == 400 and "cycle" in error_of(response)["message"]
    response = admin.patch("/api/v1/repositories/py-v/", {"members": ["py-v"]}, format="json")
    assert response.status_code == 400 and "its own member" in error_of(response)["message"]


def test_duplicate_name_is_409(admin):
    assert create(admin, "twice").status_code == 201
    response = create(admin, "twice", "npm")
    assert response.status_code == 409 and error_of(response)["code"] == "conflict"


# --- read, update, delete -------------------------------------------------------------------------

def test_patch_and_immutable_fields(admin):
    create(admin, "rem", "pypi", "remote", upstream_url="https://pypi.org/", upstream_password="one")
    response = admin.patch("/api/v1/repositories/rem/", {"description": "mirror", "metadata_ttl": 5,
                                                         "upstream_password": "two", "pypi": {}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["description"] == "mirror" and response.json()["metadata_ttl"] == 5
    repo = Repository.objects.get(name="rem")
    assert repo.upstream_password == "two" and repo.upstream_url == "https://pypi.org/"
    for field, value in (("kind", "local"), ("format", "npm"), ("name", "other")):
        response = admin.patch("/api/v1/repositories/rem/", {field: value}, format="json")
        assert response.status_code == 400 and field in error_of(response)["fields"]
    response = admin.patch("/api/v1/repositories/rem/", {"upstream_url": ""}, format="json")
    assert response.status_code == 400
    # A client may send back what it read: read-only fields are ignored, not refused.
    current = admin.get("/api/v1/repositories/rem/").json()
    assert admin.patch("/api/v1/repositories/rem/", current, format="json").status_code == 200
    assert admin.put("/api/v1/repositories/rem/", current, format="json").status_code == 405
    update = AuditEvent.objects.filter(action="repository.update", repository="rem").first()
    assert update is not None and "two" not in str(update.detail)


def test_patch_members_and_format_settings(admin):
    for name in ("m-a", "m-b"):
        create(admin, name, "maven")
    create(admin, "m-all", "maven", "virtual", members=["m-a"], deploy_to="m-a")
    response = admin.patch("/api/v1/repositories/m-all/", {"members": ["m-b"]}, format="json")
    assert response.status_code == 400 and "no longer a member" in error_of(response)["message"]
    response = admin.patch("/api/v1/repositories/m-all/", {"members": ["m-b", "m-a"], "deploy_to": None}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["members"] == ["m-b", "m-a"] and response.json()["deploy_to"] is None
    # A settings block is merged key by key into the stored one.
    admin.patch("/api/v1/repositories/m-a/", {"maven": {"version_policy": "release"}}, format="json")
    body = admin.patch("/api/v1/repositories/m-a/", {"maven": {"allow_redeploy": True}}, format="json").json()
    assert body["maven"] == {"version_policy": "release", "allow_redeploy": True}


def test_delete_repository(admin):
    create(admin, "gone")
    create(admin, "gone-v", "pypi", "virtual", members=["gone"], deploy_to="gone")
    response = admin.delete("/api/v1/repositories/gone/")
    assert response.status_code == 204
    assert not Repository.objects.filter(name="gone").exists()
    assert admin.get("/api/v1/repositories/gone/").status_code == 404
    assert admin.get("/api/v1/repositories/gone-v/").json()["members"] == []
    assert AuditEvent.objects.filter(action="repository.delete", repository="gone", outcome="ok").exists()


def test_not_found_is_json(admin):
    response = admin.get("/api/v1/repositories/nothing-here/")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


# --- who may do what ------------------------------------------------------------------------------

def test_anonymous_and_unprivileged_callers(admin):
    create(admin, "private")
    create(admin, "public", anonymous_read=True)
    anonymous = client_for()
    listing = anonymous.get("/api/v1/repositories/")
    assert listing.status_code == 200 and [r["name"] for r in listing.json()["results"]] == ["public"]
    assert anonymous.get("/api/v1/repositories/public/").status_code == 200
    for response in (anonymous.get("/api/v1/repositories/private/"), anonymous.get("/api/v1/repositories/no-such/"),
                     anonymous.patch("/api/v1/repositories/public/", {"description": "x"}, format="json"),
                     create(anonymous, "mine"), anonymous.get("/api/v1/audit/")):
        assert response.status_code == 401, response.content
        assert response["WWW-Authenticate"].startswith("Basic")
        error_of(response)
    nobody = client_for(make_user("nobody"))
    assert [r["name"] for r in nobody.get("/api/v1/repositories/").json()["results"]] == ["public"]
    # Private repositories the caller may not read answer exactly like missing ones.
    assert nobody.get("/api/v1/repositories/private/").status_code == 404
    assert nobody.patch("/api/v1/repositories/private/", {}, format="json").status_code == 404
    assert nobody.patch("/api/v1/repositories/public/", {"description": "x"}, format="json").status_code == 403
    assert nobody.delete("/api/v1/repositories/public/").status_code == 403
    assert create(nobody, "mine").status_code == 403
    assert AuditEvent.objects.filter(action="repository.create", actor="nobody", outcome="denied").exists()
    wrong = client_for(make_user("wrongpw"), password="not-it")
    assert wrong.get("/api/v1/repositories/").status_code == 401


def test_role_ordering(admin):
    create(admin, "ranked")
    users = {role: make_user(f"u-{role}") for role in ("read", "deploy", "delete", "manage")}
    for role, user in users.items():
        assert admin.post("/api/v1/repositories/ranked/permissions/", {"user": user.username, "role": role},
                          format="json").status_code == 201
    for role, user in users.items():
        client = client_for(user)
        assert client.get("/api/v1/repositories/ranked/").status_code == 200
        patch = client.patch("/api/v1/repositories/ranked/", {"description": role}, format="json")
        assert patch.status_code == (200 if role == "manage" else 403), (role, patch.content)
        grants = client.get("/api/v1/repositories/ranked/permissions/")
        assert grants.status_code == (200 if role == "manage" else 403)
    manager = client_for(users["manage"])
    assert manager.delete("/api/v1/repositories/ranked/").status_code == 204


def test_api_token_and_bearer(admin):
    user = make_user("tokenuser")
    create(admin, "tok")
    admin.post("/api/v1/repositories/tok/permissions/", {"user": "tokenuser", "role": "read"}, format="json")
    _, raw = ApiToken.issue(user, "ci")
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert [r["name"] for r in bearer.get("/api/v1/repositories/").json()["results"]] == ["tok"]
    assert client_for(user, password=raw).get("/api/v1/repositories/tok/").status_code == 200


def test_team_grant(admin):
    create(admin, "teamed")
    alice, bob = make_user("alice"), make_user("bob")
    team = Team.objects.create(name="builders")
    team.members.add(alice)
    response = admin.post("/api/v1/repositories/teamed/permissions/", {"team": "builders", "role": "manage"}, format="json")
    assert response.status_code == 201
    assert response.json()["team"] == "builders" and response.json()["user"] is None
    assert client_for(alice).patch("/api/v1/repositories/teamed/", {"description": "by alice"}, format="json").status_code == 200
    assert client_for(bob).get("/api/v1/repositories/teamed/").status_code == 404
    assert [r["name"] for r in client_for(alice).get("/api/v1/repositories/").json()["results"]] == ["teamed"]


def test_permissions_crud_and_replace(admin):
    create(admin, "granted")
    make_user("carol")
    Team.objects.create(name="ops")
    url = "/api/v1/repositories/granted/permissions/"
    first = admin.post(url, {"user": "carol", "role": "read"}, format="json")
    assert first.status_code == 201 and first.json()["user"] == "carol" and first.json()["role"] == "read"
    again = admin.post(url, {"user": "carol", "role": "deploy"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"] and again.json()["role"] == "deploy"
    assert Grant.objects.filter(repository__name="granted").count() == 1
    team = admin.post(url, {"team": "ops", "role": "delete"}, format="json")
    assert team.status_code == 201
    listing = admin.get(url).json()
    assert listing["count"] == 2
    assert [(g["user"], g["team"], g["role"]) for g in listing["results"]] == [("carol", None, "deploy"), (None, "ops", "delete")]
    for body, field in (({"role": "read"}, None), ({"user": "carol", "team": "ops", "role": "read"}, None),
                        ({"user": "nobody-at-all", "role": "read"}, "user"), ({"team": "nope", "role": "read"}, "team"),
                        ({"user": "carol", "role": "owner"}, "role")):
        response = admin.post(url, body, format="json")
        assert response.status_code == 400, body
        if field:
            assert field in error_of(response)["fields"]
    assert admin.delete(f"{url}{team.json()['id']}/").status_code == 204
    assert admin.delete(f"{url}{team.json()['id']}/").status_code == 404
    create(admin, "elsewhere")
    assert admin.delete(f"/api/v1/repositories/elsewhere/permissions/{first.json()['id']}/").status_code == 404
    assert admin.get(url).json()["count"] == 1
    actions = list(AuditEvent.objects.filter(repository="granted").values_list("action", flat=True))
    assert actions.count("permission.grant") == 3 and actions.count("permission.revoke") == 1


def test_manager_cannot_add_members_they_do_not_manage(admin):
    create(admin, "secret-local")
    create(admin, "own-local")
    create(admin, "own-virtual", "pypi", "virtual")
    manager = make_user("mgr")
    for repo in ("own-local", "own-virtual"):
        admin.post(f"/api/v1/repositories/{repo}/permissions/", {"user": "mgr", "role": "manage"}, format="json")
    client = client_for(manager)
    response = client.patch("/api/v1/repositories/own-virtual/", {"members": ["secret-local"]}, format="json")
    assert response.status_code == 400 and "no such repository" in error_of(response)["message"]
    admin.post("/api/v1/repositories/secret-local/permissions/", {"user": "mgr", "role": "read"}, format="json")
    response = client.patch("/api/v1/repositories/own-virtual/", {"members": ["secret-local"]}, format="json")
    assert response.status_code == 403
    response = client.patch("/api/v1/repositories/own-virtual/", {"members": ["own-local"], "deploy_to": "own-local"},
                            format="json")
    assert response.status_code == 200, response.content


def test_list_filters_by_format_and_kind(admin):
    create(admin, "f-npm", "npm")
    create(admin, "f-py", "pypi")
    create(admin, "f-pyr", "pypi", "remote", upstream_url="https://pypi.org/")
    names = lambda q: [r["name"] for r in admin.get(f"/api/v1/repositories/{q}").json()["results"]]  # noqa: E731
    assert names("?format=pypi") == ["f-py", "f-pyr"]
    assert names("?format=pypi&kind=remote") == ["f-pyr"]
    assert names("") == ["f-npm", "f-py", "f-pyr"]
