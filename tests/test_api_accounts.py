"""/api/v1/users/, /teams/ and /tokens/: who may do what, validation, audit trail, no secrets in answers."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import identify_hasher
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, Team
from repositories.models import AuditEvent

pytestmark = pytest.mark.django_db
User = get_user_model()


def client_for(username: str | None, password: str | None = None) -> APIClient:
    client = APIClient()
    if username:
        client.credentials(HTTP_AUTHORIZATION=_basic(username, password or f"{username}-pw"))
    return client


def _basic(username: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def admin_user():
    return User.objects.create_superuser("root", "", "root-pw")


@pytest.fixture
def admin(admin_user):
    return client_for("root")


@pytest.fixture
def alice_user():
    return User.objects.create_user("alice", "alice@example.com", "alice-pw")


@pytest.fixture
def alice(alice_user):
    return client_for("alice")


@pytest.fixture
def bob_user():
    return User.objects.create_user("bob", "", "bob-pw")


def events(action: str, outcome: str = "ok"):
    return AuditEvent.objects.filter(action=action, outcome=outcome)


def assert_no_secrets(response):
    text = response.content.decode()
    assert "pbkdf2" not in text and "md5$" not in text and "key_hash" not in text and '"password"' not in text


# --- users ---------------------------------------------------------------------------------


def test_admin_creates_user_with_hashed_password(admin):
    response = admin.post("/api/v1/users/", {"username": "carol", "password": "carol-pw", "email": "c@example.com"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["username"] == "carol"
    assert response.json()["is_admin"] is False
    assert_no_secrets(response)
    carol = User.objects.get(username="carol")
    assert carol.password != "carol-pw" and identify_hasher(carol.password) and carol.check_password("carol-pw")
    assert client_for("carol").get("/api/v1/users/me/").status_code == 200
    event = events("user.create").get()
    assert event.actor == "root" and event.detail["target"] == "carol"


def test_create_admin_sets_superuser_and_staff(admin):
    response = admin.post("/api/v1/users/", {"username": "ops", "password": "x", "is_admin": True}, format="json")
    assert response.status_code == 201
    ops = User.objects.get(username="ops")
    assert ops.is_superuser and ops.is_staff


def test_create_without_password_gives_a_token_only_account(admin):
    response = admin.post("/api/v1/users/", {"username": "ci-bot"}, format="json")
    assert response.status_code == 201
    assert not User.objects.get(username="ci-bot").has_usable_password()


@pytest.mark.parametrize("username", ["ALICE", "Alice", "alice"])
def test_usernames_are_unique_ignoring_case(admin, alice_user, username):
    response = admin.post("/api/v1/users/", {"username": username, "password": "x"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "username" in error["message"]


@pytest.mark.parametrize("username", ["", "with space", "a/b", "x" * 151, "me", "ME"])
def test_bad_or_reserved_usernames_are_400(admin, username):
    response = admin.post("/api/v1/users/", {"username": username, "password": "x"}, format="json")
    assert response.status_code == 400, response.content
    assert "username" in response.json()["error"]["fields"]


def test_normal_user_cannot_create_users(alice):
    response = alice.post("/api/v1/users/", {"username": "eve", "password": "x", "is_admin": True}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not User.objects.filter(username="eve").exists()
    assert events("user.create", "denied").get().actor == "alice"


def test_anonymous_gets_401(db):
    for path in ("/api/v1/users/", "/api/v1/teams/", "/api/v1/tokens/"):
        assert APIClient().get(path).status_code == 401


def test_admin_lists_everyone_others_only_themselves(admin, alice, bob_user):
    body = admin.get("/api/v1/users/").json()
    assert body["count"] == 3
    assert [u["username"] for u in body["results"]] == ["alice", "bob", "root"]
    assert_no_secrets(admin.get("/api/v1/users/"))
    assert [u["username"] for u in alice.get("/api/v1/users/").json()["results"]] == ["alice"]


def test_list_is_paginated(admin, alice_user, bob_user):
    body = admin.get("/api/v1/users/?limit=1&offset=1").json()
    assert body["count"] == 3 and [u["username"] for u in body["results"]] == ["bob"]
    assert body["next"] and body["previous"] is not None


def test_user_reads_self_but_not_others(alice, bob_user):
    assert alice.get("/api/v1/users/alice/").json()["email"] == "alice@example.com"
    assert alice.get("/api/v1/users/ALICE/").status_code == 200
    assert alice.get("/api/v1/users/bob/").status_code == 403
    assert alice.get("/api/v1/users/nobody/").status_code == 403  # no hint whether it exists


def test_admin_reads_any_user_and_gets_404_for_unknown(admin, alice_user):
    body = admin.get("/api/v1/users/Alice/").json()
    assert body["username"] == "alice" and body["teams"] == []
    response = admin.get("/api/v1/users/nobody/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_me(alice, alice_user):
    body = alice.get("/api/v1/users/me/").json()
    assert body["username"] == "alice" and body["is_admin"] is False
    assert alice.patch("/api/v1/users/me/", {"email": "new@example.com"}, format="json").status_code == 200
    alice_user.refresh_from_db()
    assert alice_user.email == "new@example.com"
    assert alice.delete("/api/v1/users/me/").status_code == 405


def test_user_changes_own_password_and_email(alice, alice_user):
    response = alice.patch("/api/v1/users/alice/", {"password": "fresh-pw", "email": "a2@example.com"}, format="json")
    assert response.status_code == 200, response.content
    assert_no_secrets(response)
    alice_user.refresh_from_db()
    assert alice_user.check_password("fresh-pw") and alice_user.email == "a2@example.com"
    assert events("user.update").get().detail == {"target": "alice", "changed": ["email", "password"]}


def test_user_cannot_make_themself_admin_or_touch_others(alice, alice_user, bob_user):
    assert alice.patch("/api/v1/users/alice/", {"is_admin": True}, format="json").status_code == 403
    assert alice.patch("/api/v1/users/alice/", {"is_active": False}, format="json").status_code == 403
    assert alice.patch("/api/v1/users/bob/", {"password": "pwned"}, format="json").status_code == 403
    assert alice.delete("/api/v1/users/bob/").status_code == 403
    assert alice.delete("/api/v1/users/alice/").status_code == 403
    alice_user.refresh_from_db()
    bob_user.refresh_from_db()
    assert not alice_user.is_superuser and alice_user.is_active and bob_user.check_password("bob-pw")
    assert events("user.update", "denied").count() == 3
    assert events("user.delete", "denied").count() == 2
    # Sending back an unchanged is_admin (a GET-modify-PATCH round trip) is fine.
    assert alice.patch("/api/v1/users/alice/", {"is_admin": False, "email": "x@example.com"}, format="json").status_code == 200


def test_admin_promotes_and_demotes(admin, alice_user):
    assert admin.patch("/api/v1/users/alice/", {"is_admin": True}, format="json").json()["is_admin"] is True
    alice_user.refresh_from_db()
    assert alice_user.is_superuser and alice_user.is_staff
    assert admin.patch("/api/v1/users/alice/", {"is_admin": False}, format="json").status_code == 200
    alice_user.refresh_from_db()
    assert not alice_user.is_superuser and not alice_user.is_staff


def test_username_cannot_change(admin, alice_user):
    response = admin.patch("/api/v1/users/alice/", {"username": "alicia"}, format="json")
    assert response.status_code == 400
    assert admin.patch("/api/v1/users/alice/", {"username": "alice"}, format="json").status_code == 200


def test_put_is_not_offered(admin, alice_user):
    assert admin.put("/api/v1/users/alice/", {"username": "alice"}, format="json").status_code == 405


def test_admin_deletes_user(admin, alice_user):
    ApiToken.issue(alice_user, "ci")
    assert admin.delete("/api/v1/users/alice/").status_code == 204
    assert not User.objects.filter(username="alice").exists()
    assert not ApiToken.objects.exists()
    assert events("user.delete").get().detail == {"target": "alice"}


def test_last_superuser_cannot_remove_itself(admin, admin_user):
    for attempt in (lambda: admin.delete("/api/v1/users/root/"),
                    lambda: admin.patch("/api/v1/users/root/", {"is_admin": False}, format="json"),
                    lambda: admin.patch("/api/v1/users/me/", {"is_active": False}, format="json")):
        response = attempt()
        assert response.status_code == 400, response.content
        assert "last active superuser" in response.json()["error"]["message"]
    admin_user.refresh_from_db()
    assert admin_user.is_superuser and admin_user.is_active
    User.objects.create_superuser("root2", "", "x")
    assert admin.delete("/api/v1/users/root/").status_code == 204


# --- teams ---------------------------------------------------------------------------------


def test_admin_creates_team_with_members(admin, alice_user, bob_user):
    response = admin.post("/api/v1/teams/", {"name": "devs", "members": ["bob", "ALICE"]}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["members"] == ["alice", "bob"]
    assert set(Team.objects.get(name="devs").members.all()) == {alice_user, bob_user}
    assert events("team.create").get().detail == {"target": "devs", "members": ["alice", "bob"]}


def test_unknown_members_are_400(admin, alice_user):
    response = admin.post("/api/v1/teams/", {"name": "devs", "members": ["alice", "ghost", "phantom"]}, format="json")
    assert response.status_code == 400
    assert "ghost, phantom" in response.json()["error"]["message"]
    assert not Team.objects.exists()


@pytest.mark.parametrize("name", ["", "   ", "a/b", "tab\there", "x" * 151])
def test_bad_team_names_are_400(admin, name):
    assert admin.post("/api/v1/teams/", {"name": name}, format="json").status_code == 400


def test_team_names_are_trimmed(admin):
    assert admin.post("/api/v1/teams/", {"name": " Release Managers "}, format="json").json()["name"] == "Release Managers"


def test_team_names_are_unique_ignoring_case(admin):
    assert admin.post("/api/v1/teams/", {"name": "Release Managers"}, format="json").status_code == 201
    assert admin.post("/api/v1/teams/", {"name": "release managers"}, format="json").status_code == 400


def test_anyone_reads_teams_only_admin_writes(admin, alice, alice_user):
    team = Team.objects.create(name="devs")
    team.members.add(alice_user)
    assert [(t["name"], t["members"]) for t in alice.get("/api/v1/teams/").json()["results"]] == [("devs", ["alice"])]
    assert alice.get("/api/v1/teams/devs/").json()["members"] == ["alice"]
    assert alice.post("/api/v1/teams/", {"name": "mine"}, format="json").status_code == 403
    assert alice.patch("/api/v1/teams/devs/", {"members": []}, format="json").status_code == 403
    assert alice.delete("/api/v1/teams/devs/").status_code == 403
    assert list(team.members.all()) == [alice_user]
    assert {e.action for e in AuditEvent.objects.filter(outcome="denied")} == {"team.create", "team.update", "team.delete"}


def test_admin_updates_and_deletes_team(admin, alice_user, bob_user):
    Team.objects.create(name="devs").members.add(alice_user)
    response = admin.patch("/api/v1/teams/devs/", {"members": ["bob"]}, format="json")
    assert response.status_code == 200 and response.json()["members"] == ["bob"]
    response = admin.patch("/api/v1/teams/devs/", {"name": "developers"}, format="json")
    assert response.json() == {**response.json(), "name": "developers", "members": ["bob"]}
    assert admin.get("/api/v1/teams/devs/").status_code == 404
    assert admin.delete("/api/v1/teams/developers/").status_code == 204
    assert not Team.objects.exists()
    assert events("team.update").count() == 2 and events("team.delete").get().detail == {"target": "developers"}


def test_user_shows_its_teams(admin, alice_user):
    Team.objects.create(name="devs").members.add(alice_user)
    assert admin.get("/api/v1/users/alice/").json()["teams"] == ["devs"]


# --- tokens --------------------------------------------------------------------------------


def test_issue_token_shows_secret_once(alice, alice_user):
    response = alice.post("/api/v1/tokens/", {"name": "laptop"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token"].startswith("pky_") and body["name"] == "laptop" and body["user"] == "alice"
    assert body["expires_at"] is None and body["last_used"] is None and body["created"]
    assert body["prefix"] == body["token"][:8]
    assert ApiToken.objects.get(pk=body["id"]).key_hash != body["token"]
    listed = alice.get("/api/v1/tokens/")
    assert [t["id"] for t in listed.json()["results"]] == [body["id"]]
    assert body["token"] not in listed.content.decode() and "token" not in listed.json()["results"][0]
    assert_no_secrets(listed)
    event = events("token.create").get()
    assert event.actor == "alice" and event.detail == {"target": "alice", "token_id": body["id"], "name": "laptop",
                                               "repositories": ["*"], "role": "manage"}
    # The new secret works, and its use shows up in last_used.
    assert client_for("alice", body["token"]).get("/api/v1/users/me/").status_code == 200
    assert alice.get(f"/api/v1/tokens/{body['id']}/").json()["last_used"] is not None


def test_token_expiry(alice):
    future = (timezone.now() + timedelta(days=30)).isoformat()
    response = alice.post("/api/v1/tokens/", {"name": "month", "expires_at": future}, format="json")
    assert response.status_code == 201 and response.json()["expires_at"]
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    response = alice.post("/api/v1/tokens/", {"name": "old", "expires_at": past}, format="json")
    assert response.status_code == 400
    assert "expires_at" in response.json()["error"]["fields"]


def test_token_needs_a_name(alice):
    assert alice.post("/api/v1/tokens/", {}, format="json").status_code == 400


def test_tokens_list_only_own_and_admin_may_ask_for_others(admin, alice, alice_user, bob_user):
    ApiToken.issue(alice_user, "a")
    ApiToken.issue(bob_user, "b")
    assert [t["name"] for t in alice.get("/api/v1/tokens/").json()["results"]] == ["a"]
    assert alice.get("/api/v1/tokens/?user=bob").status_code == 403
    assert alice.get("/api/v1/tokens/?user=alice").status_code == 200
    assert admin.get("/api/v1/tokens/").json()["results"] == []
    assert [t["name"] for t in admin.get("/api/v1/tokens/?user=bob").json()["results"]] == ["b"]
    assert admin.get("/api/v1/tokens/?user=ghost").status_code == 404


def test_revoke_own_token_not_others(admin, alice, alice_user, bob_user):
    mine, _ = ApiToken.issue(alice_user, "a")
    theirs, _ = ApiToken.issue(bob_user, "b")
    assert alice.delete(f"/api/v1/tokens/{theirs.pk}/").status_code == 404
    assert alice.delete(f"/api/v1/tokens/{mine.pk}/").status_code == 204
    assert alice.delete(f"/api/v1/tokens/{mine.pk}/").status_code == 404
    assert admin.delete(f"/api/v1/tokens/{theirs.pk}/").status_code == 204
    assert not ApiToken.objects.exists()
    assert [e.actor for e in events("token.delete").order_by("id")] == ["alice", "root"]


def test_admin_issues_token_for_another_user(admin, alice, bob_user):
    response = admin.post("/api/v1/tokens/", {"name": "ci", "user": "BOB"}, format="json")
    assert response.status_code == 201 and response.json()["user"] == "bob"
    assert client_for("x", response.json()["token"]).get("/api/v1/users/me/").json()["username"] == "bob"
    assert alice.post("/api/v1/tokens/", {"name": "ci", "user": "bob"}, format="json").status_code == 403
    assert admin.post("/api/v1/tokens/", {"name": "ci", "user": "ghost"}, format="json").status_code == 400
    assert ApiToken.objects.filter(user=bob_user).count() == 1


# --- schema --------------------------------------------------------------------------------


def test_schema_lists_account_paths(admin):
    response = admin.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200, response.content[:500]
    paths = response.json()["paths"]
    for path in ("/api/v1/users/", "/api/v1/users/{username}/", "/api/v1/users/me/", "/api/v1/teams/",
                 "/api/v1/teams/{name}/", "/api/v1/tokens/", "/api/v1/tokens/{id}/"):
        assert path in paths
    created = paths["/api/v1/tokens/"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    assert created.endswith("/NewToken")


def test_database_refuses_usernames_differing_only_in_case(alice_user):
    # The API checks first; this unique index is what stops two concurrent creates both passing that check.
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("ALICE", "", "x")
