"""repositories.hotcache: per-process copies of repositories, members, roles, users and tokens.

In-process: a repeated request reads only the file's Asset from the database; every kind of change
(grant, team membership, repository settings, virtual members, password, token revocation,
including writes that send no signals) shows on the very next request; outside a request nothing
is cached. End to end: a `packyard serve` with several worker processes, where a change made
through the REST API (answered by one worker) must hold at once on every worker.
"""
from __future__ import annotations

import base64
import os

import pytest
import requests
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiToken, Team
from repositories import hotcache
from repositories.models import Grant, Repository, VirtualMember
from repositories.resolve import find_repository

PATH = "org/example/hot/1.0/hot-1.0.jar"
JAR = b"PK\x03\x04 not really a jar"


def basic(username: str, password: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@pytest.fixture
def setup(db):
    User = get_user_model()
    alice = User.objects.create_user("alice", password="alice-pw")
    deployer = User.objects.create_user("deployer", password="deployer-pw")
    local = Repository.objects.create(name="hot-local", format="maven", kind="local")
    Grant.objects.create(repository=local, user=deployer, role="deploy")
    put = Client().put(f"/repository/hot-local/{PATH}", data=JAR, content_type="application/java-archive",
                       **basic("deployer", "deployer-pw"))
    assert put.status_code == 201, put.content
    virtual = Repository.objects.create(name="hot-virtual", format="maven", kind="virtual")
    VirtualMember.objects.create(virtual=virtual, member=local, position=0)
    grant = Grant.objects.create(repository=virtual, user=alice, role="read")
    return {"alice": alice, "local": local, "virtual": virtual, "grant": grant}


def fetch(who=("alice", "alice-pw"), repo="hot-virtual"):
    return Client().get(f"/repository/{repo}/{PATH}", **(basic(*who) if who else {}))


def test_a_repeated_request_reads_only_the_asset(setup):
    assert fetch().status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = fetch()
    assert response.status_code == 200 and b"".join(response.streaming_content) == JAR
    assert len(queries.captured_queries) == 1, [q["sql"] for q in queries.captured_queries]
    assert "repositories_asset" in queries.captured_queries[0]["sql"]


def test_grants_and_team_membership_apply_on_the_next_request(setup):
    assert fetch().status_code == 200
    setup["grant"].delete()
    assert fetch().status_code == 403
    team = Team.objects.create(name="readers")
    Grant.objects.create(repository=setup["virtual"], team=team, role="read")
    assert fetch().status_code == 403
    team.members.add(setup["alice"])
    assert fetch().status_code == 200
    team.members.remove(setup["alice"])
    assert fetch().status_code == 403


def test_repository_settings_and_members_apply_on_the_next_request(setup):
    assert fetch(who=None).status_code == 401
    virtual = setup["virtual"]
    virtual.anonymous_read = True
    virtual.save()
    assert fetch(who=None).status_code == 200
    VirtualMember.objects.filter(virtual=virtual).delete()
    assert fetch(who=None).status_code == 404
    VirtualMember.objects.bulk_create([VirtualMember(virtual=virtual, member=setup["local"], position=0)])
    hotcache.bump()  # as repositories.api.serializers does after its bulk_create
    assert fetch(who=None).status_code == 200
    virtual.delete()
    assert fetch(who=None).status_code == 404


def test_passwords_deactivation_and_tokens_apply_on_the_next_request(setup):
    alice = setup["alice"]
    token, raw = ApiToken.issue(alice, "ci", repositories=["hot-virtual"], role="read")
    assert fetch(("alice", raw)).status_code == 200
    token.delete()
    assert fetch(("alice", raw)).status_code == 401
    alice.set_password("new-pw")
    alice.save()
    assert fetch().status_code == 401
    assert fetch(("alice", "new-pw")).status_code == 200
    alice.is_active = False
    alice.save()
    assert fetch(("alice", "new-pw")).status_code == 401


def test_a_write_during_a_request_stops_that_request_using_its_table(setup):
    hotcache.begin_request()
    try:
        assert find_repository("hot-virtual").anonymous_read is False
        Repository.objects.filter(name="hot-virtual").update(anonymous_read=True)
        assert find_repository("hot-virtual").anonymous_read is False  # no signal: still the copy
        hotcache.bump()
        assert find_repository("hot-virtual").anonymous_read is True
    finally:
        hotcache.end_request()


def test_outside_a_request_the_database_answers(setup):
    with CaptureQueriesContext(connection) as queries:
        find_repository("hot-virtual")
        find_repository("hot-virtual")
    assert len(queries.captured_queries) == 2


def test_the_stamp_changes_on_every_bump(setup):
    seen = {hotcache._stamp()}
    for _ in range(20):
        hotcache.reset()
        seen.add(hotcache._stamp())
    assert len(seen) == 21


# --- across the worker processes of one `packyard serve` -----------------------------------------


@pytest.fixture(scope="module")
def served():
    from tests.servers import PackyardServer

    server = PackyardServer(workers=3)
    yield server
    server.stop()


def test_changes_through_the_api_hold_at_once_on_every_worker(served):
    served.create_user("hot-alice", "hot-alice-pw")
    served.create_user("hot-deployer", "hot-deployer-pw")
    served.create_repo("hot-local", "maven")
    served.create_repo("hot-virtual", "maven", kind="virtual", members=["hot-local"])
    served.grant("hot-local", "deploy", user="hot-deployer")
    put = requests.put(f"{served.url}/repository/hot-local/{PATH}", data=JAR, auth=("hot-deployer", "hot-deployer-pw"),
                       timeout=30)
    assert put.status_code == 201, put.text
    grant = served.grant("hot-virtual", "read", user="hot-alice")
    url = f"{served.url}/repository/hot-virtual/{PATH}"

    def statuses(auth=("hot-alice", "hot-alice-pw")) -> set[int]:
        # New connections, so the requests spread over the workers; each fills its own copies.
        return {requests.get(url, auth=auth, timeout=30, headers={"Connection": "close"}).status_code
                for _ in range(30)}

    assert statuses() == {200}
    assert served.api("DELETE", f"repositories/hot-virtual/permissions/{grant['id']}/").status_code == 204
    assert statuses() == {403}
    served.grant("hot-virtual", "read", user="hot-alice")
    assert statuses() == {200}
    assert served.api("PATCH", "repositories/hot-virtual/", json={"members": []}).status_code == 200
    assert statuses() == {404}
    assert served.api("PATCH", "repositories/hot-virtual/", json={"members": ["hot-local"], "anonymous_read": True}
                      ).status_code == 200
    assert statuses(auth=None) == {200}
    assert served.api("PATCH", "users/hot-alice/", json={"is_active": False}).status_code == 200
    assert statuses() == {401}
    assert os.path.exists(served.home / "hotcache.stamp") or os.environ.get("PACKYARD_REDIS_URL")
