"""npm's token API (`-/npm/v1/tokens`) over Packyard API tokens: list, create with password, revoke."""
from __future__ import annotations

import json

import pytest

from accounts.models import ApiToken

from .helpers import PASSWORD, basic

pytestmark = pytest.mark.django_db
URL = "/repository/npm-local/-/npm/v1/tokens"


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def create(client, auth: dict, **body):
    return client.post(URL, data=json.dumps(body), content_type="application/json", **auth)


def test_create_list_revoke(client, local, alice, make_user):
    _, login = ApiToken.issue(alice, "npm login")
    assert client.get(URL).status_code == 401
    assert create(client, bearer(login), password="wrong").status_code == 401
    # A token is not a password: it cannot confirm minting another token.
    assert create(client, bearer(login), password=login).status_code == 401
    assert create(client, bearer(login), password=PASSWORD, cidr_whitelist=["10.0.0.0/8"]).status_code == 400
    assert create(client, bearer(login), password=PASSWORD, expires=0).status_code == 400

    made = create(client, bearer(login), password=PASSWORD, readonly=True, expires=30, name="ci")
    assert made.status_code == 200, made.content
    new = made.json()
    assert new["token"].startswith("pky_") and new["readonly"] is True and new["expires"]
    assert ApiToken.objects.get(key_hash=new["key"]).role == "read"

    listed = client.get(URL, **bearer(login)).json()
    assert listed["total"] == 2 and listed["urls"] == {}
    row = next(t for t in listed["objects"] if t["key"] == new["key"])
    assert new["token"].startswith(row["token"]) and len(row["token"]) < 12 and row["name"] == "ci"

    # Someone else's key is not theirs to revoke.
    bob = make_user("bob")
    _, bobs = ApiToken.issue(bob, "npm login")
    assert client.delete(f"{URL}/token/{new['key']}", **bearer(bobs)).status_code == 404
    assert client.delete(f"{URL}/token/{new['key']}", **bearer(login)).status_code == 204
    # `npm token revoke <secret>` sends the secret itself.
    assert client.delete(f"{URL}/token/{login}", **basic("alice")).status_code == 204
    assert not ApiToken.objects.filter(user=alice).exists()
