"""Directory users end to end: `packyard serve` with PACKYARD_LDAP_* against a real slapd, driven by the
API, twine and pip. The group cache is one second here, so directory changes show almost at once.

Users from tests/ldap_server.py: ivan (developers), hana (no group), fay (packyard-admins).
"""
from __future__ import annotations

import time

import pytest
import requests

from tests.e2e.clients import FreshVenv, twine_upload, with_credentials
from tests.ldap_server import USERS, HungServer
from tests.pydists import make_wheel
from tests.servers import PackyardServer

CACHE = 1


@pytest.fixture(scope="module")
def server(slapd):
    started = PackyardServer(extra_env=slapd.env(PACKYARD_LDAP_CACHE_SECONDS=str(CACHE)))
    yield started
    started.stop()


def as_user(uid: str) -> tuple[str, str]:
    return uid, USERS[uid]


def past_cache() -> None:
    time.sleep(CACHE + 1.2)  # the group cache and the remembered password both run out


def test_directory_user_publishes_and_installs_through_a_mapped_team(server, slapd, tmp_path):
    me = server.api("GET", "users/me/", auth=as_user("ivan"))
    assert me.status_code == 200, me.text
    assert me.json()["teams"] == ["developers"] and me.json()["directory"] is True
    server.create_repo("ldap-team", "pypi")
    simple = f"{server.url}/repository/ldap-team/simple/"
    assert requests.get(simple, auth=as_user("ivan"), timeout=30).status_code == 403
    server.grant("ldap-team", "deploy", team="developers")

    wheel = make_wheel(tmp_path, "ldap-pkg", "1.0")
    done = twine_upload(f"{server.url}/repository/ldap-team/", [wheel], *as_user("ivan"))
    assert done.returncode == 0, done.stdout + done.stderr
    venv = FreshVenv()
    installed = venv.pip_install(with_credentials(simple, *as_user("ivan")), "ldap-pkg")
    assert installed.returncode == 0, installed.stdout + installed.stderr

    token = server.api("POST", "tokens/", auth=as_user("ivan"), json={"name": "laptop"}).json()["token"]
    slapd.remove_member("developers", "ivan")
    try:
        past_cache()
        assert requests.get(simple, auth=as_user("ivan"), timeout=30).status_code == 403
        assert requests.get(simple, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 403
        assert server.api("GET", "users/me/", auth=as_user("ivan")).json()["teams"] == []
    finally:
        slapd.add_member("developers", "ivan")
    past_cache()
    assert requests.get(simple, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 200


def test_tokens_of_a_user_deleted_from_the_directory_stop_working(server, slapd):
    assert server.api("GET", "users/me/", auth=as_user("hana")).status_code == 200
    token = server.api("POST", "tokens/", auth=as_user("hana"), json={"name": "ci"}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{server.url}/api/v1/users/me/", headers=bearer, timeout=30).status_code == 200
    slapd.delete_user("hana")
    past_cache()
    assert requests.get(f"{server.url}/api/v1/users/me/", headers=bearer, timeout=30).status_code == 401
    assert server.api("GET", "users/me/", auth=as_user("hana")).status_code == 401


def test_admin_group_members_are_superusers(server):
    me = server.api("GET", "users/me/", auth=as_user("fay"))
    assert me.status_code == 200 and me.json()["is_admin"] is True
    created = server.api("POST", "repositories/", auth=as_user("fay"),
                         json={"name": "made-by-fay", "format": "pypi", "kind": "local"})
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("username,password", [
    ("ivan", "wrong"), ("nobody", "x"), ("*", USERS["ivan"]), ("ivan)(uid=*", USERS["ivan"]), ("ivan\\00", "x"),
])
def test_bad_directory_credentials_are_401_and_create_nobody(server, username, password):
    response = server.api("GET", "users/me/", auth=(username, password))
    assert response.status_code == 401, response.text
    names = [u["username"] for u in server.api("GET", "users/").json()["results"]]
    assert not any(n.startswith(("nobody", "*")) or "(" in n or "\\" in n for n in names)


def test_directory_that_hangs_never_slows_local_accounts():
    hung = HungServer()
    started = PackyardServer(worker=False, extra_env={
        "PACKYARD_LDAP_SERVER_URI": hung.uri, "PACKYARD_LDAP_USER_SEARCH_BASE": "ou=people,dc=example,dc=org",
        "PACKYARD_LDAP_TIMEOUT": "2"})
    try:
        clock = time.monotonic()
        assert started.api("GET", "users/me/").status_code == 200  # the local bootstrap admin
        assert time.monotonic() - clock < 2
        clock = time.monotonic()
        response = started.api("GET", "users/me/", auth=as_user("ivan"))
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "directory_unavailable"
        assert time.monotonic() - clock < 2 * 2 + 1.5
        started.create_repo("while-down", "pypi")
        pypi = requests.get(f"{started.url}/repository/while-down/simple/", auth=as_user("ivan"), timeout=30)
        assert pypi.status_code == 503
    finally:
        started.stop()
        hung.stop()
