"""Token authentication: challenges, the token endpoint's grants, JWT checks, Basic and API tokens on /v2/."""
from __future__ import annotations

import jwt
from django.conf import settings

from accounts.models import ApiToken
from repositories.models import AuditEvent

from .conftest import basic, bearer


def token_for(client, scopes, auth=None, **extra):
    r = client.get("/v2/token", {"service": "packyard", "scope": scopes}, **(auth or {}))
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["token"] == body["access_token"] and body["expires_in"] >= 60 and body["issued_at"].endswith("Z")
    return body["token"]


def access_of(token):
    return jwt.decode(token, settings.SECRET_KEY, algorithms=["HS256"], audience="packyard")["access"]


def test_base_challenges_anonymous_and_accepts_basic(client, dk):
    r = client.get("/v2/")
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == 'Bearer realm="http://testserver/v2/token",service="packyard"'
    assert r["Docker-Distribution-API-Version"] == "registry/2.0"
    assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert client.get("/v2/", **basic("alice")).status_code == 200
    bad = client.get("/v2/", **basic("alice", "wrong"))
    assert bad.status_code == 401 and "Bearer realm" in bad["WWW-Authenticate"]
    assert AuditEvent.objects.filter(action="login", outcome="denied", actor="alice").exists()


def test_token_grants_the_subset_the_roles_allow(client, dk, make_user):
    make_user("carol")
    scope = "repository:dk/app:pull,push,delete"
    assert access_of(token_for(client, [scope], basic("alice")))[0]["actions"] == ["pull", "push", "delete"]
    assert access_of(token_for(client, [scope], basic("bob")))[0]["actions"] == ["pull"]
    assert access_of(token_for(client, [scope], basic("carol")))[0]["actions"] == []
    assert access_of(token_for(client, [scope]))[0]["actions"] == []  # anonymous, private repository
    star = access_of(token_for(client, ["repository:dk/app:*"], basic("bob")))
    assert star == [{"type": "repository", "name": "dk/app", "actions": ["pull"]}]


def test_token_scopes_with_host_prefix_and_several_scopes(client, dk, make_repo, alice):
    make_repo("other", grants={alice: "read"})
    token = token_for(client, ["repository:127.0.0.1:5000/dk/a/b:pull,push", "repository:other/x:pull"], basic("alice"))
    assert access_of(token) == [
        {"type": "repository", "name": "dk/a/b", "actions": ["pull", "push"]},
        {"type": "repository", "name": "other/x", "actions": ["pull"]},
    ]
    # the OAuth2 POST form, with space-separated scopes
    r = client.post("/v2/token", {"grant_type": "password", "username": "alice", "password": "pw-for-tests",
                                  "scope": "repository:dk/a:pull repository:other/x:push", "service": "packyard"})
    assert r.status_code == 200
    assert [a["actions"] for a in access_of(r.json()["access_token"])] == [["pull"], []]


def test_token_rejects_bad_credentials_and_accepts_api_tokens(client, dk, alice):
    assert client.get("/v2/token", {"scope": "repository:dk/a:pull"}, **basic("alice", "nope")).status_code == 401
    _, raw = ApiToken.issue(alice, "ci")
    token = token_for(client, ["repository:dk/a:pull,push"], basic("alice", raw))
    assert access_of(token)[0]["actions"] == ["pull", "push"]


def test_bearer_tokens_are_checked_on_every_request(client, dk, push):
    from tests.ociimages import make_image

    assert push("dk/app", make_image()).status_code == 201
    read = token_for(client, ["repository:dk/app:pull"], basic("bob"))
    assert client.get("/v2/", **bearer(read)).status_code == 200
    assert client.head("/v2/dk/app/manifests/latest", **bearer(read)).status_code == 200
    # the token names dk/app only: another image needs a new token
    other = client.get("/v2/dk/other/tags/list", **bearer(read))
    assert other.status_code == 401
    assert other["WWW-Authenticate"].endswith('scope="repository:dk/other:pull",error="insufficient_scope"')
    # bob's token holds no push: a fresh challenge with the scope, so the client may ask again
    denied = client.post("/v2/dk/app/blobs/uploads/", **bearer(read))
    assert denied.status_code == 401
    assert 'scope="repository:dk/app:pull,push",error="insufficient_scope"' in denied["WWW-Authenticate"]
    assert denied.json()["errors"][0]["code"] == "DENIED"
    # forged or expired tokens are refused
    forged = jwt.encode({"sub": "alice", "access": [{"type": "repository", "name": "dk/app", "actions": ["push"]}],
                         "iss": "packyard", "aud": "packyard", "iat": 1, "exp": 9999999999}, "not-the-key-but-long-enough-for-hs256-xx", "HS256")
    r = client.get("/v2/dk/app/tags/list", **bearer(forged))
    assert r.status_code == 401 and 'error="invalid_token"' in r["WWW-Authenticate"]
    expired = jwt.encode({"sub": "bob", "access": [], "iss": "packyard", "aud": "packyard", "iat": 1, "exp": 2},
                         settings.SECRET_KEY, "HS256")
    assert client.get("/v2/", **bearer(expired)).status_code == 401


def test_basic_credentials_on_v2_get_403_without_the_role(client, dk, make_user):
    make_user("carol")
    r = client.get("/v2/dk/app/tags/list", **basic("carol"))
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED"
    anonymous = client.get("/v2/dk/app/tags/list")
    assert anonymous.status_code == 401
    assert 'scope="repository:dk/app:pull"' in anonymous["WWW-Authenticate"]
    assert client.get("/v2/nope/app/tags/list", **basic("carol")).json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_anonymous_read_repositories_serve_anonymous_tokens(client, make_repo, push, alice):
    from tests.ociimages import make_image

    make_repo("pub", anonymous_read=True, grants={alice: "deploy"})
    assert push("pub/app", make_image()).status_code == 201
    token = token_for(client, ["repository:pub/app:pull,push"])
    assert access_of(token)[0]["actions"] == ["pull"]
    assert client.get("/v2/pub/app/manifests/latest", **bearer(token)).status_code == 200


def test_token_endpoint_answers_throttled_logins_with_429(client, dk, settings):
    settings.PACKYARD_LOGIN_MAX_FAILURES = 2
    settings.PACKYARD_LOGIN_MAX_FAILURES_PER_ADDRESS = 10
    settings.PACKYARD_LOGIN_LOCKOUT_SECONDS = 60
    for _ in range(2):
        assert client.get("/v2/token", {"service": "packyard"}, **basic("alice", "guess")).status_code == 401
    refused = client.get("/v2/token", {"service": "packyard"}, **basic("alice"))
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    form = client.post("/v2/token", {"grant_type": "password", "username": "alice", "password": "x", "service": "packyard"})
    assert form.status_code == 429
