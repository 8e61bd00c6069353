"""Credentials on the API (accounts.drf over accounts.auth): Basic password, Basic token, Bearer token, session.

Real database, real Django test client; the checks go through /api/v1/users/me/.
"""
from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.auth import check_credentials
from accounts.models import ApiToken
from repositories.models import AuditEvent

pytestmark = pytest.mark.django_db
ME = "/api/v1/users/me/"


def basic(username: str, password: str, encoding: str = "utf-8") -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode(encoding)).decode()


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", "alice@example.com", "alice-pw")


def get_me(authorization: str | None = None, client: Client | None = None):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    return (client or Client()).get(ME, **headers)


def denied_logins():
    return AuditEvent.objects.filter(action="login", outcome="denied")


def test_valid_password(alice):
    response = get_me(basic("alice", "alice-pw"))
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "alice"


def test_username_ignores_case(alice):
    assert get_me(basic("ALICE", "alice-pw")).status_code == 200


def test_wrong_password_is_401_with_challenge_and_audited(alice):
    response = get_me(basic("alice", "nope"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert response.json()["error"]["code"] == "authentication_failed"
    event = denied_logins().get()
    assert event.actor == "alice"
    assert event.address == "127.0.0.1"


def test_unknown_user_is_401_and_audited(alice):
    assert get_me(basic("mallory", "alice-pw")).status_code == 401
    assert denied_logins().get().actor == "mallory"


def test_no_credentials_is_401_with_challenge():
    response = get_me()
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert response.json()["error"]["code"] == "not_authenticated"
    assert not denied_logins().exists()  # asking anonymously is not a failed login


@pytest.mark.parametrize("header", ["Basic", "Basic !!!notbase64", "Basic " + base64.b64encode(b"nocolon").decode(),
                                    "Bearer", "Bearer not-a-token", "Digest abc"])
def test_malformed_or_unknown_schemes_are_401(alice, header):
    assert get_me(header).status_code == 401
    assert denied_logins().count() == 1


def test_latin1_basic_credentials():
    get_user_model().objects.create_user("jose", "", "contraseña")
    assert get_me(basic("jose", "contraseña", encoding="latin-1")).status_code == 200
    assert get_me(basic("jose", "contraseña")).status_code == 200


def test_token_as_basic_password_with_any_username(alice):
    _, raw = ApiToken.issue(alice, "ci")
    for username in ("alice", "__token__", ""):
        response = get_me(basic(username, raw))
        assert response.status_code == 200, (username, response.content)
        assert response.json()["username"] == "alice"


def test_bearer_token(alice):
    _, raw = ApiToken.issue(alice, "npm")
    response = get_me(f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()["username"] == "alice"


def test_token_use_sets_last_used(alice):
    token, raw = ApiToken.issue(alice, "ci")
    assert token.last_used is None
    before = timezone.now()
    assert get_me(f"Bearer {raw}").status_code == 200
    token.refresh_from_db()
    assert token.last_used is not None and token.last_used >= before


def test_expired_token_is_401(alice):
    token, raw = ApiToken.issue(alice, "old", expires_at=timezone.now() + timedelta(hours=1))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert get_me(f"Bearer {raw}").status_code == 401
    assert get_me(basic("alice", raw)).status_code == 401
    assert denied_logins().count() == 2


def test_revoked_token_is_401(alice):
    token, raw = ApiToken.issue(alice, "gone")
    assert get_me(f"Bearer {raw}").status_code == 200
    response = Client().delete(f"/api/v1/tokens/{token.pk}/", HTTP_AUTHORIZATION=basic("alice", "alice-pw"))
    assert response.status_code == 204
    assert get_me(f"Bearer {raw}").status_code == 401
    assert get_me(basic("alice", raw)).status_code == 401


def test_inactive_user_is_401_by_password_and_token(alice):
    _, raw = ApiToken.issue(alice, "ci")
    assert get_me(basic("alice", "alice-pw")).status_code == 200  # also warms the password cache
    alice.is_active = False
    alice.save()
    assert get_me(basic("alice", "alice-pw")).status_code == 401
    assert get_me(f"Bearer {raw}").status_code == 401


def test_changed_password_stops_working_at_once(alice):
    assert get_me(basic("alice", "alice-pw")).status_code == 200  # cached as verified
    response = Client().patch(ME, {"password": "new-pw"}, content_type="application/json",
                              HTTP_AUTHORIZATION=basic("alice", "alice-pw"))
    assert response.status_code == 200, response.content
    assert get_me(basic("alice", "alice-pw")).status_code == 401
    assert get_me(basic("alice", "new-pw")).status_code == 200


def test_password_that_looks_like_a_token(alice):
    alice.set_password("pky_not_really_a_token")
    alice.save()
    assert get_me(basic("alice", "pky_not_really_a_token")).status_code == 200


def test_user_without_password_logs_in_only_with_tokens():
    bot = get_user_model().objects.create_user("ci-bot")
    _, raw = ApiToken.issue(bot, "pipeline")
    assert get_me(basic("ci-bot", "")).status_code == 401
    assert get_me(basic("ci-bot", raw)).status_code == 200


def test_check_credentials(alice):
    token, raw = ApiToken.issue(alice, "ci")
    assert check_credentials("alice", "alice-pw") == (alice, None)
    assert check_credentials("__token__", raw) == (alice, token)
    assert check_credentials("alice", "wrong") == (None, None)
    assert check_credentials("alice", raw + "x") == (None, None)
    assert check_credentials("", "") == (None, None)


def test_session_login_works_and_writes_need_csrf(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert get_me(client=client).status_code == 200
    response = client.post("/api/v1/tokens/", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
