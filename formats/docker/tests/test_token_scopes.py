"""API-token scopes on the registry: Basic with an API token, and the JWTs /v2/token issues for one.

A token scoped to some repositories and a highest role must never reach further than that on /v2/,
whether it is sent as the Basic password on every request or traded for a registry JWT first: the
catalog lists only what the token may read, the token endpoint grants only what its scope allows,
and a JWT stops working as soon as the API token it came from is deleted or expires (not up to
TOKEN_SECONDS later). Disabled owners lose their JWTs too.
"""
from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import ApiToken
from tests.ociimages import make_image

from .conftest import basic, bearer
from .test_auth import access_of, token_for


@pytest.fixture
def two_repos(make_repo, alice, push):
    """alice may deploy to "aa" and "bb", each holding one image."""
    make_repo("aa", grants={alice: "deploy"})
    make_repo("bb", grants={alice: "deploy"})
    assert push("aa/app", make_image()).status_code == 201
    assert push("bb/app", make_image()).status_code == 201


def catalog(client, auth: dict) -> list[str]:
    r = client.get("/v2/_catalog", **auth)
    assert r.status_code == 200, r.content
    return r.json()["repositories"]


def test_basic_with_a_scoped_api_token_lists_only_its_repositories(client, alice, two_repos):
    assert catalog(client, basic("alice")) == ["aa/app", "bb/app"]
    _, raw = ApiToken.issue(alice, "ci", repositories=["aa"], role="read")
    assert catalog(client, basic("alice", raw)) == ["aa/app"]
    _, everything = ApiToken.issue(alice, "all")
    assert catalog(client, basic("alice", everything)) == ["aa/app", "bb/app"]


def test_jwt_from_a_scoped_api_token_lists_only_its_repositories(client, alice, two_repos):
    _, raw = ApiToken.issue(alice, "ci", repositories=["aa"], role="read")
    token = token_for(client, ["registry:catalog:*"], basic("alice", raw))
    assert catalog(client, bearer(token)) == ["aa/app"]
    # a password's JWT still lists everything its user may read
    assert catalog(client, bearer(token_for(client, ["registry:catalog:*"], basic("alice")))) == ["aa/app", "bb/app"]


def test_token_endpoint_grants_only_what_the_api_token_scope_allows(client, alice, two_repos):
    _, raw = ApiToken.issue(alice, "ci", repositories=["aa"], role="deploy")
    token = token_for(client, ["repository:aa/app:pull,push", "repository:bb/app:pull,push"], basic("alice", raw))
    assert [entry["actions"] for entry in access_of(token)] == [["pull", "push"], []]
    # the OAuth2 POST form applies the same scope
    r = client.post("/v2/token", {"grant_type": "password", "username": "alice", "password": raw,
                                  "scope": "repository:bb/app:push repository:aa/app:*", "service": "packyard"})
    assert r.status_code == 200
    assert [entry["actions"] for entry in access_of(r.json()["access_token"])] == [[], ["pull", "push"]]
    # and the JWT cannot push outside the scope either
    denied = client.post("/v2/bb/app/blobs/uploads/", **bearer(token))
    assert denied.status_code == 401 and 'error="insufficient_scope"' in denied["WWW-Authenticate"]


def test_jwt_from_a_read_scoped_api_token_cannot_push(client, alice, two_repos):
    _, raw = ApiToken.issue(alice, "puller", repositories=["*"], role="read")
    token = token_for(client, ["repository:aa/app:pull,push"], basic("alice", raw))
    assert access_of(token)[0]["actions"] == ["pull"]
    assert client.head("/v2/aa/app/manifests/latest", **bearer(token)).status_code == 200
    denied = client.post("/v2/aa/app/blobs/uploads/", **bearer(token))
    assert denied.status_code == 401
    assert 'scope="repository:aa/app:pull,push",error="insufficient_scope"' in denied["WWW-Authenticate"]
    # the same through Basic with the token: alice may deploy, the token may not
    assert client.post("/v2/aa/app/blobs/uploads/", **basic("alice", raw)).status_code == 403


def test_jwt_names_its_api_token_by_id_never_by_secret(client, alice, two_repos):
    api_token, raw = ApiToken.issue(alice, "ci", repositories=["aa"], role="read")
    token = token_for(client, ["repository:aa/app:pull"], basic("alice", raw))
    claims = jwt.decode(token, settings.SECRET_KEY, algorithms=["HS256"], audience="packyard")
    assert claims["api_token"] == api_token.pk
    assert raw not in token and raw[4:] not in str(claims) and api_token.key_hash not in str(claims)
    password_claims = jwt.decode(token_for(client, ["repository:aa/app:pull"], basic("alice")), settings.SECRET_KEY,
                                 algorithms=["HS256"], audience="packyard")
    assert "api_token" not in password_claims


@pytest.mark.parametrize("how", ["deleted", "expired"])
def test_jwt_stops_working_when_its_api_token_is_revoked(client, alice, two_repos, how):
    api_token, raw = ApiToken.issue(alice, "ci", repositories=["aa"], role="deploy")
    token = token_for(client, ["repository:aa/app:pull,push", "registry:catalog:*"], basic("alice", raw))
    assert client.get("/v2/aa/app/tags/list", **bearer(token)).status_code == 200
    if how == "deleted":
        r = client.delete(f"/api/v1/tokens/{api_token.pk}/", **basic("alice"))
        assert r.status_code == 204, r.content
    else:
        api_token.expires_at = timezone.now() - timedelta(seconds=1)
        api_token.save()
    for method, path in (("get", "/v2/aa/app/tags/list"), ("post", "/v2/aa/app/blobs/uploads/"),
                         ("get", "/v2/_catalog"), ("get", "/v2/")):
        r = getattr(client, method)(path, **bearer(token))
        assert r.status_code == 401, (path, r.content)
        assert r["WWW-Authenticate"].startswith('Bearer realm="http://testserver/v2/token"')
        assert 'error="invalid_token"' in r["WWW-Authenticate"]
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    # and no new JWT from it
    assert client.get("/v2/token", {"service": "packyard", "scope": "repository:aa/app:pull"},
                      **basic("alice", raw)).status_code == 401


def test_jwt_naming_another_users_api_token_is_refused(client, alice, bob, two_repos):
    """A JWT binds its user and its API token; a token id of someone else (a stale or crafted claim) is refused."""
    bobs, _ = ApiToken.issue(bob, "bob's")
    now = int(timezone.now().timestamp())
    crafted = jwt.encode({"iss": "packyard", "aud": "packyard", "sub": "alice", "iat": now, "exp": now + 60,
                          "api_token": bobs.pk, "access": [{"type": "repository", "name": "aa/app", "actions": ["pull"]}]},
                         settings.SECRET_KEY, "HS256")
    r = client.get("/v2/aa/app/tags/list", **bearer(crafted))
    assert r.status_code == 401 and 'error="invalid_token"' in r["WWW-Authenticate"]


@pytest.mark.parametrize("with_api_token", [False, True])
def test_jwt_of_a_disabled_user_stops_working(client, alice, two_repos, with_api_token):
    secret = ApiToken.issue(alice, "ci")[1] if with_api_token else None
    token = token_for(client, ["repository:aa/app:pull"], basic("alice", secret) if secret else basic("alice"))
    assert client.get("/v2/aa/app/tags/list", **bearer(token)).status_code == 200
    alice.is_active = False
    alice.save()
    r = client.get("/v2/aa/app/tags/list", **bearer(token))
    assert r.status_code == 401 and 'error="invalid_token"' in r["WWW-Authenticate"]
