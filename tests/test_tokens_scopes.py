"""Scoped API tokens, service accounts and login throttling, in-process (real database, Django test client)."""
from __future__ import annotations

import base64

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiToken, ServiceAccount
from repositories.models import AuditEvent, Grant, Repository
from repositories.permissions import can

pytestmark = pytest.mark.django_db
User = get_user_model()


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def api(authorization: str, address: str = "127.0.0.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


@pytest.fixture
def repos():
    a = Repository.objects.create(name="scope-a", format="pypi", kind="local")
    b = Repository.objects.create(name="scope-b", format="pypi", kind="local")
    return a, b


@pytest.fixture
def alice(repos):
    user = User.objects.create_user("alice", "", "alice-pw")
    for repo in repos:
        Grant.objects.create(repository=repo, user=user, role="delete")
    return user


def new_token(owner_auth: str, **body) -> dict:
    response = api(owner_auth).post("/api/v1/tokens/", {"name": "t", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_token_scopes_are_shown_and_cap_the_owner(alice, repos):
    a, b = repos
    body = new_token(basic("alice", "alice-pw"), repositories=["scope-a"], role="read")
    assert body["repositories"] == ["scope-a"] and body["role"] == "read"
    token = ApiToken.objects.get(pk=body["id"])
    assert can(alice, "read", a, token=token)
    assert not can(alice, "deploy", a, token=token)  # role read cannot upload
    assert not can(alice, "read", b, token=token)  # limited to repository A
    assert can(alice, "delete", b)  # the owner without the token still can
    listed = api(basic("alice", "alice-pw")).get("/api/v1/tokens/").json()["results"][0]
    assert listed["repositories"] == ["scope-a"] and listed["role"] == "read" and "last_used" in listed


def test_listings_through_a_scoped_token_show_only_its_repositories(alice, repos):
    raw = new_token(basic("alice", "alice-pw"), repositories=["scope-b"], role="read")["token"]
    listed = api(f"Bearer {raw}").get("/api/v1/repositories/").json()["results"]
    assert [r["name"] for r in listed] == ["scope-b"]
    assert len(api(basic("alice", "alice-pw")).get("/api/v1/repositories/").json()["results"]) == 2


def test_token_never_exceeds_its_owner(alice, repos):
    a, _ = repos
    body = new_token(basic("alice", "alice-pw"), role="manage")
    token = ApiToken.objects.get(pk=body["id"])
    assert can(alice, "delete", a, token=token) and not can(alice, "manage", a, token=token)


def test_scoped_token_through_the_pypi_client_url(alice, repos):
    raw = new_token(basic("alice", "alice-pw"), repositories=["scope-a"], role="read")["token"]
    assert Client().get("/repository/scope-a/simple/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    assert Client().get("/repository/scope-b/simple/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 403
    upload = Client().post("/repository/scope-a/", {":action": "file_upload"}, HTTP_AUTHORIZATION=basic("__token__", raw))
    assert upload.status_code == 403


def test_scoped_token_cannot_mint_tokens_or_administer(repos):
    User.objects.create_superuser("root", "", "root-pw")
    raw = new_token(basic("root", "root-pw"), repositories=["scope-a"], role="manage")["token"]
    client = api(f"Bearer {raw}")
    assert client.post("/api/v1/tokens/", {"name": "wider"}, format="json").status_code == 403
    assert client.post("/api/v1/users/", {"username": "x", "password": "y"}, format="json").status_code == 403
    assert client.post("/api/v1/repositories/", {"name": "made", "format": "pypi", "kind": "local"},
                       format="json").status_code == 403
    assert client.patch("/api/v1/users/me/", {"password": "taken"}, format="json").status_code == 403
    assert client.get("/api/v1/repositories/scope-a/").status_code == 200


@pytest.mark.parametrize("body", [{"repositories": []}, {"repositories": ["Bad Name"]}, {"role": "owner"}])
def test_bad_scopes_are_400(alice, body):
    response = api(basic("alice", "alice-pw")).post("/api/v1/tokens/", {"name": "t", **body}, format="json")
    assert response.status_code == 400, response.content


def test_service_account_holds_only_tokens(repos):
    User.objects.create_superuser("root", "", "root-pw")
    admin = api(basic("root", "root-pw"))
    created = admin.post("/api/v1/users/", {"username": "ci-bot", "service_account": True}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["service_account"] is True
    bot = User.objects.get(username="ci-bot")
    assert ServiceAccount.objects.filter(user=bot).exists() and not bot.has_usable_password()
    assert admin.post("/api/v1/users/", {"username": "bot2", "service_account": True, "password": "pw"},
                      format="json").status_code == 400
    assert admin.patch("/api/v1/users/ci-bot/", {"password": "now-a-person"}, format="json").status_code == 400
    token = admin.post("/api/v1/tokens/", {"name": "deploy", "user": "ci-bot", "repositories": ["scope-a"],
                                           "role": "deploy"}, format="json")
    assert token.status_code == 201, token.content
    Grant.objects.create(repository=repos[0], user=bot, role="deploy")
    assert api(f"Bearer {token.json()['token']}").get("/api/v1/users/me/").json()["username"] == "ci-bot"
    assert Client().get("/api/v1/users/me/", HTTP_AUTHORIZATION=basic("ci-bot", "")).status_code == 401


# --- throttling ----------------------------------------------------------------------------


@pytest.fixture
def low_limits(settings):
    settings.PACKYARD_LOGIN_MAX_FAILURES = 3
    settings.PACKYARD_LOGIN_MAX_FAILURES_PER_ADDRESS = 6
    settings.PACKYARD_LOGIN_LOCKOUT_SECONDS = 120


def test_failed_logins_lock_the_user_from_that_address_only(alice, low_limits):
    attacker = "10.0.0.66"
    for _ in range(3):
        assert api(basic("alice", "guess"), attacker).get("/api/v1/users/me/").status_code == 401
    refused = api(basic("alice", "alice-pw"), attacker).get("/api/v1/users/me/")
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 120
    # The owner, elsewhere, is not blocked by someone else's failures against their name.
    assert api(basic("alice", "alice-pw"), "10.0.0.7").get("/api/v1/users/me/").status_code == 200
    # Client URLs answer the same 429.
    pypi = Client(REMOTE_ADDR=attacker).get("/repository/scope-a/simple/", HTTP_AUTHORIZATION=basic("alice", "alice-pw"))
    assert pypi.status_code == 429 and pypi["Retry-After"]
    assert AuditEvent.objects.filter(action="login.lockout", actor="alice", address=attacker).count() == 1
    assert AuditEvent.objects.filter(action="login", outcome="throttled", address=attacker).count() == 2


def test_an_address_guessing_many_names_is_locked(alice, low_limits):
    for n in range(6):
        assert api(basic(f"user{n}", "guess"), "10.0.0.99").get("/api/v1/users/me/").status_code == 401
    assert api(basic("alice", "alice-pw"), "10.0.0.99").get("/api/v1/users/me/").status_code == 429
    assert api(basic("alice", "alice-pw"), "10.0.0.98").get("/api/v1/users/me/").status_code == 200


def test_success_resets_the_count_and_tokens_are_not_throttled(alice, low_limits):
    _, raw = ApiToken.issue(alice, "ci")
    for _ in range(2):  # 4 failures in all, but never 3 in a row for (alice, this address)
        for _ in range(2):
            assert api(basic("alice", "guess"), "10.0.0.6").get("/api/v1/users/me/").status_code == 401
        assert api(basic("alice", "alice-pw"), "10.0.0.6").get("/api/v1/users/me/").status_code == 200
    for _ in range(3):
        api(basic("alice", "guess"), "10.0.0.5").get("/api/v1/users/me/")
    assert api(basic("alice", "alice-pw"), "10.0.0.5").get("/api/v1/users/me/").status_code == 429
    assert api(f"Bearer {raw}", "10.0.0.5").get("/api/v1/users/me/").status_code == 200
