"""LDAP login in-process (Django test client) against a real slapd: users, teams, admins, refresh, bad input.

The directory is tests/ldap_server.py's: dana, erik (developers; erik also qa), fay (packyard-admins).
"""
from __future__ import annotations

import base64
import time
from datetime import timedelta

import ldap
import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts import ldap as directory
from accounts.auth import check_credentials
from accounts.models import ApiToken, DirectoryAccount, ServiceAccount, Team
from packyard import auth_settings
from repositories.models import AuditEvent, Grant, Repository
from repositories.permissions import can
from tests.ldap_server import BIND_DN, BIND_PW, GROUPS, USERS, HungServer, group_dn

pytestmark = pytest.mark.django_db
User = get_user_model()
ME = "/api/v1/users/me/"


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def me(username: str, password: str):
    return Client().get(ME, HTTP_AUTHORIZATION=basic(username, password))


def use_directory(settings, server_env: dict) -> None:
    for key, value in auth_settings.ldap_settings(server_env).items():
        setattr(settings, key, value)


@pytest.fixture
def directory_on(slapd, settings):
    use_directory(settings, slapd.env())
    return slapd


def test_first_login_creates_the_user_with_profile_and_teams(directory_on):
    response = me("dana", USERS["dana"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["username"] == "dana" and body["email"] == "dana@example.org"
    assert body["teams"] == ["developers"] and body["directory"] is True and body["is_admin"] is False
    user = User.objects.get(username="dana")
    assert not user.has_usable_password() and user.first_name == "Dana"
    assert DirectoryAccount.objects.get(user=user).dn == "uid=dana,ou=people,dc=example,dc=org"
    assert Team.objects.get(name="developers").directory_dn == group_dn("developers")


def test_login_name_ignores_case_and_maps_to_one_user(directory_on):
    assert me("Dana", USERS["dana"]).status_code == 200
    assert me("DANA", USERS["dana"]).status_code == 200
    assert list(User.objects.filter(username__iexact="dana").values_list("username", flat=True)) == ["dana"]


def test_admin_group_makes_superusers(directory_on):
    assert me("fay", USERS["fay"]).json()["is_admin"] is True
    assert me("erik", USERS["erik"]).json()["is_admin"] is False


def test_team_role_gives_directory_members_access(directory_on):
    repo = Repository.objects.create(name="ldap-inproc", format="pypi", kind="local")
    Grant.objects.create(repository=repo, team=Team.objects.create(name="qa"), role="deploy")
    erik, _ = check_credentials("erik", USERS["erik"])
    dana, _ = check_credentials("dana", USERS["dana"])
    # A hand-made team with the group's name became its mirror; membership follows the directory.
    assert Team.objects.get(name="qa").directory_dn == group_dn("qa")
    assert can(erik, "deploy", repo) and not can(dana, "read", repo)


def test_mirroring_off_only_fills_existing_teams(slapd, settings):
    use_directory(settings, slapd.env(PACKYARD_LDAP_MIRROR_GROUPS="false"))
    Team.objects.create(name="qa")
    assert me("erik", USERS["erik"]).json()["teams"] == ["qa"]
    assert not Team.objects.filter(name="developers").exists()


def test_hand_made_memberships_of_local_teams_survive_sync(directory_on):
    user, _ = check_credentials("dana", USERS["dana"])
    Team.objects.create(name="release-managers").members.add(user)
    DirectoryAccount.objects.filter(user=user).update(synced_at=timezone.now() - timedelta(days=1))
    assert directory.refresh_if_stale(user)
    assert sorted(user.teams.values_list("name", flat=True)) == ["developers", "release-managers"]


def test_group_change_applies_after_the_cache_time_tokens_included(directory_on):
    user, _ = check_credentials("erik", USERS["erik"])
    _, raw = ApiToken.issue(user, "ci")
    directory_on.remove_member("developers", "erik")
    try:
        assert sorted(user.teams.values_list("name", flat=True)) == ["developers", "qa"]  # cached for now
        DirectoryAccount.objects.filter(user=user).update(synced_at=timezone.now() - timedelta(seconds=301))
        assert Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {raw}").json()["teams"] == ["qa"]
    finally:
        directory_on.add_member("developers", "erik")


def test_user_gone_from_directory_loses_logins_and_tokens(directory_on, settings):
    user, _ = check_credentials("gus", USERS["gus"])
    _, raw = ApiToken.issue(user, "ci")
    DirectoryAccount.objects.filter(user=user).update(synced_at=timezone.now() - timedelta(seconds=301))
    # "Disabled" as a directory expresses it: the user filter no longer matches them.
    use_directory(settings, directory_on.env(PACKYARD_LDAP_USER_FILTER="(&(uid=%(user)s)(!(uid=gus)))"))
    assert Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert me("gus", USERS["gus"]).status_code == 401


def test_registry_tokens_refresh_the_directory_too(directory_on):
    """A Docker registry JWT (issued for minutes) is checked against the directory once the cache time passed."""
    repo = Repository.objects.create(name="dk-ldap-inproc", format="docker", kind="local")
    Grant.objects.create(repository=repo, team=Team.objects.create(name="developers"), role="deploy")
    token = Client().get("/v2/token", {"service": "packyard", "scope": "repository:dk-ldap-inproc/app:pull,push"},
                         HTTP_AUTHORIZATION=basic("dana", USERS["dana"])).json()["token"]
    upload = "/v2/dk-ldap-inproc/app/blobs/uploads/"
    assert Client().post(upload, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 202
    directory_on.remove_member("developers", "dana")
    try:
        assert Client().post(upload, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 202  # cached for now
        DirectoryAccount.objects.filter(user__username="dana").update(synced_at=timezone.now() - timedelta(seconds=301))
        refused = Client().post(upload, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert refused.status_code == 401 and refused.json()["errors"][0]["code"] == "DENIED"
    finally:
        directory_on.add_member("developers", "dana")


@pytest.mark.parametrize("username,password", [
    ("dana", "wrong"), ("dana", ""), ("nobody", "whatever"), ("*", USERS["dana"]), ("*", "*"),
    ("dana)(uid=*", USERS["dana"]), ("*)(uid=*))(|(uid=*", "x"), ("dana\\00", USERS["dana"]), ("dana\x00", USERS["dana"]),
    ("d*", USERS["dana"]), ("x" * 300, "x"),
])
def test_bad_credentials_and_injection_are_401_and_grant_nothing(directory_on, username, password):
    response = me(username, password)
    assert response.status_code == 401, response.content
    assert not User.objects.exists() and not Team.objects.exists()
    assert AuditEvent.objects.filter(action="login", outcome="denied").count() == 1


def test_search_filter_escapes_the_login_name(directory_on):
    """django-auth-ldap escapes %(user)s (RFC 4515): '*' is a literal asterisk, not a wildcard."""
    conn = ldap.initialize(directory_on.uri)
    conn.simple_bind_s(BIND_DN, BIND_PW)
    search = django_settings.AUTH_LDAP_USER_SEARCH
    assert len(search.execute(conn, {"user": "dana"})) == 1
    for name in ("*", "d*", "dana)(uid=*", "*)(|(uid=*", "dana\\00", "dana\x00"):
        assert search.execute(conn, {"user": name}) == [], name
    unescaped = conn.search_s(search.base_dn, ldap.SCOPE_SUBTREE, "(uid=*)")
    assert len(unescaped) == len(USERS)  # what an unescaped '*' would have matched


def test_local_accounts_come_first_and_are_never_taken_over(directory_on):
    User.objects.create_user("dana", "", "local-pw")
    assert me("dana", "local-pw").status_code == 200
    assert me("dana", USERS["dana"]).status_code == 401  # a local password account never asks the directory
    assert not DirectoryAccount.objects.exists()


def test_service_accounts_never_log_in_through_the_directory(directory_on):
    bot = User.objects.create_user("erik")
    bot.set_unusable_password()
    bot.save()
    ServiceAccount.objects.create(user=bot)
    assert me("erik", USERS["erik"]).status_code == 401
    _, raw = ApiToken.issue(bot, "ci")
    assert Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_directory_down_is_503_fast_and_local_accounts_still_work(slapd, settings):
    User.objects.create_superuser("root", "", "root-pw")
    use_directory(settings, slapd.env(PACKYARD_LDAP_SERVER_URI="ldap://127.0.0.1:1", PACKYARD_LDAP_TIMEOUT="2"))
    started = time.monotonic()
    response = me("dana", USERS["dana"])
    assert response.status_code == 503 and response.json()["error"]["code"] == "directory_unavailable"
    assert me("root", "root-pw").status_code == 200
    assert time.monotonic() - started < 3
    assert AuditEvent.objects.filter(action="login", outcome="error", actor="dana").exists()


def test_directory_that_hangs_answers_within_the_timeout(slapd, settings):
    hung = HungServer()
    try:
        User.objects.create_superuser("root", "", "root-pw")
        use_directory(settings, slapd.env(PACKYARD_LDAP_SERVER_URI=hung.uri, PACKYARD_LDAP_TIMEOUT="1"))
        started = time.monotonic()
        assert me("dana", USERS["dana"]).status_code == 503
        assert time.monotonic() - started < 4
        again = time.monotonic()
        assert me("dana", USERS["dana"]).status_code == 503  # remembered as down: no second wait
        assert me("root", "root-pw").status_code == 200
        assert time.monotonic() - again < 0.5
    finally:
        hung.stop()


def test_settings_reject_unknown_group_types_and_attribute_fields():
    with pytest.raises(ValueError):
        auth_settings.ldap_settings({"PACKYARD_LDAP_SERVER_URI": "ldap://x", "PACKYARD_LDAP_GROUP_TYPE": "nested"})
    with pytest.raises(ValueError):
        auth_settings.ldap_settings({"PACKYARD_LDAP_SERVER_URI": "ldap://x", "PACKYARD_LDAP_ATTR_MAP": '{"is_superuser": "x"}'})
    built = auth_settings.ldap_settings({"PACKYARD_LDAP_SERVER_URI": "ldap://x", "PACKYARD_LDAP_GROUP_SEARCH_BASE": GROUPS,
                                         "PACKYARD_LDAP_GROUP_TYPE": "posixGroup"})
    assert "posixGroup" in built["AUTH_LDAP_GROUP_SEARCH"].filterstr
    assert auth_settings.ldap_settings({})["AUTH_LDAP_SERVER_URI"] == ""
