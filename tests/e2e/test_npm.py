"""End to end: the real npm (node 20, npm 11) against `packyard serve`: login, publish, dist-tags,
deprecate, unpublish, and installs through a virtual merging a local repository with a remote whose
upstream is a second Packyard, including `npm ci` with an empty cache after the upstream went away;
pnpm 12 and yarn 1 (installed into .tools/ by `make tools`) install the same project through the virtual."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.servers import PackyardServer

from .npmclient import Npm, login_token, make_package, make_project, nerf

PNPM = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / ".bin" / "pnpm"
YARN = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / ".bin" / "yarn"
PASSWORDS = {"npm-alice": "alice-npm-pw", "npm-bob": "bob-npm-pw"}


@pytest.fixture(scope="module")
def site(packyard):
    for user, password in PASSWORDS.items():
        packyard.ensure_user(user, password)
    packyard.create_repo("npm-e2e", "npm")
    packyard.grant("npm-e2e", "delete", user="npm-alice")
    packyard.grant("npm-e2e", "read", user="npm-bob")
    return packyard


def registry(server, repo: str) -> str:
    return f"{server.url}/repository/{repo}/"


def client(server, repo: str, user: str) -> Npm:
    url = registry(server, repo)
    return Npm(url, {url: login_token(url, user, PASSWORDS[user])})


def test_login_whoami_logout(site):
    url = registry(site, "npm-e2e")
    bad = requests.put(f"{url}-/user/org.couchdb.user:npm-alice", json={"name": "npm-alice", "password": "nope"})
    assert bad.status_code == 401 and "WWW-Authenticate" in bad.headers and "error" in bad.json()
    token = login_token(url, "npm-alice", PASSWORDS["npm-alice"])
    npm = Npm(url, {url: token})
    assert npm.ok("whoami").strip() == "npm-alice"
    npm.ok("ping")
    tokens = site.api("GET", "tokens/", auth=("npm-alice", PASSWORDS["npm-alice"])).json()
    listed = tokens["results"] if isinstance(tokens, dict) else tokens
    assert any(t["name"] == "npm login" for t in listed)
    npm.ok("logout")
    # npm dropped the token from its config; the server revoked it.
    assert "_authToken" not in (npm.home / ".npmrc").read_text()
    assert Npm(url, {url: token}).run("whoami").returncode != 0
    assert requests.get(f"{url}-/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_token_list_create_revoke(site):
    url = registry(site, "npm-e2e")
    npm = client(site, "npm-e2e", "npm-bob")
    listed = json.loads(npm.ok("token", "list", "--json"))
    assert listed and all(set(t) >= {"key", "token", "created", "readonly"} for t in listed)
    # npm 11 takes the confirmation password from --password (else it prompts).
    assert npm.run("token", "create", "--password", "wrong", "--json").returncode != 0
    created = json.loads(npm.ok("token", "create", "--password", PASSWORDS["npm-bob"], "--name", "ci", "--json"))
    secret = created["token"]
    assert secret.startswith("pky_") and "key" not in created
    assert Npm(url, {url: secret}).ok("whoami").strip() == "npm-bob"
    listed = json.loads(npm.ok("token", "list", "--json"))
    mine = [t for t in listed if t["name"] == "ci"]
    assert len(mine) == 1 and secret.startswith(mine[0]["token"])
    # Revoke by the short id `npm token list` shows, then check the secret is dead everywhere.
    assert "Removed 1 token" in npm.ok("token", "revoke", mine[0]["id"])
    assert requests.get(f"{url}-/whoami", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert not [t for t in json.loads(npm.ok("token", "list", "--json")) if t["name"] == "ci"]
    assert npm.run("token", "create", "--password", PASSWORDS["npm-bob"], "--cidr", "10.0.0.0/8").returncode != 0


def test_publish_view_tags_deprecate_unpublish(site, tmp_path):
    alice = client(site, "npm-e2e", "npm-alice")
    for name, version in [("e2e-plain", "1.0.0"), ("e2e-plain", "1.1.0"), ("@e2e/scoped", "2.0.0")]:
        alice.ok("publish", cwd=make_package(tmp_path, name, version))
    view = json.loads(alice.ok("view", "e2e-plain", "--json"))
    assert view["version"] == "1.1.0" and set(view["versions"]) == {"1.0.0", "1.1.0"}
    assert view["dist"]["tarball"].startswith(registry(site, "npm-e2e"))
    assert json.loads(alice.ok("view", "@e2e/scoped", "version", "--json")) == "2.0.0"

    # Publishing over an existing version is refused; the stored tarball is unchanged.
    before = requests.get(view["dist"]["tarball"], auth=site.admin).content
    clash = alice.run("publish", cwd=make_package(tmp_path / "other", "e2e-plain", "1.1.0", text="changed"))
    assert clash.returncode != 0 and "cannot publish over" in clash.stderr, clash.stderr
    assert requests.get(view["dist"]["tarball"], auth=site.admin).content == before

    # A reader may not publish.
    bob = client(site, "npm-e2e", "npm-bob")
    refused = bob.run("publish", cwd=make_package(tmp_path, "e2e-bob", "1.0.0"))
    assert refused.returncode != 0 and "may not deploy" in refused.stderr, refused.stderr

    alice.ok("dist-tag", "add", "e2e-plain@1.0.0", "stable")
    assert "stable: 1.0.0" in alice.ok("dist-tag", "ls", "e2e-plain")
    alice.ok("dist-tag", "rm", "e2e-plain", "stable")
    assert "stable" not in alice.ok("dist-tag", "ls", "e2e-plain")

    alice.ok("deprecate", "e2e-plain@1.0.0", "use 1.1.0")
    assert json.loads(alice.ok("view", "e2e-plain@1.0.0", "deprecated", "--json")) == "use 1.1.0"

    alice.ok("unpublish", "e2e-plain@1.0.0")
    assert json.loads(alice.ok("view", "e2e-plain", "versions", "--json")) in (["1.1.0"], "1.1.0")
    alice.ok("unpublish", "@e2e/scoped", "--force")
    assert alice.run("view", "@e2e/scoped").returncode != 0
    assert requests.get(f"{registry(site, 'npm-e2e')}@e2e%2fscoped", auth=site.admin).status_code == 404


@pytest.fixture(scope="module")
def upstream():
    server = PackyardServer(worker=False, workers=1)
    server.create_repo("public", "npm", anonymous_read=True)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def virtual(site, upstream, tmp_path_factory):
    """npm-e2e-all = [npm-e2e (local, deploy_to), npm-e2e-remote -> the second Packyard]; answers its registry URL."""
    tmp_path = tmp_path_factory.mktemp("virtual")
    public = registry(upstream, "public")
    publisher = Npm(public, {public: login_token(public, "admin", upstream.admin[1])})
    publisher.ok("publish", cwd=make_package(tmp_path / "up", "e2e-leaf", "3.0.0"))
    publisher.ok("publish", cwd=make_package(tmp_path / "up", "e2e-mid", "2.0.0", {"e2e-leaf": "^3.0.0"}))
    # The same name as a local package, with a higher version: the guard must keep the local one.
    publisher.ok("publish", cwd=make_package(tmp_path / "up", "e2e-inhouse", "99.0.0", text="evil"))

    site.create_repo("npm-e2e-remote", "npm", "remote", upstream_url=public, metadata_ttl=3600)
    site.create_repo("npm-e2e-all", "npm", "virtual", members=["npm-e2e", "npm-e2e-remote"], deploy_to="npm-e2e")
    site.grant("npm-e2e-all", "deploy", user="npm-alice")
    # (npm itself looks at the packument before publishing: the in-house name must exist locally first.)
    client(site, "npm-e2e", "npm-alice").ok("publish", cwd=make_package(tmp_path / "local", "e2e-inhouse", "1.0.0",
                                                                        {"e2e-mid": "^2.0.0"}))
    return registry(site, "npm-e2e-all")


PROJECT = {"e2e-inhouse": "*", "e2e-mid": "^2.0.0"}


def client_home(tmp_path, tool: str, virtual: str, extra: str = ""):
    """A HOME for another npm client: an .npmrc with the virtual and npm-alice's token, and an
    environment with none of the caller's npm/pnpm/yarn settings."""
    home = tmp_path / f"{tool}-home"
    home.mkdir()
    (home / ".npmrc").write_text(f"registry={virtual}\n{nerf(virtual)}:_authToken="
                                 f"{login_token(virtual, 'npm-alice', PASSWORDS['npm-alice'])}\n{extra}")
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith(("npm_config_", "pnpm_", "yarn_"))}
    return home, {**env, "HOME": str(home), "CI": "true"}


def assert_project_runs(project) -> None:
    script = "console.log(require('e2e-inhouse') + ' ' + require('e2e-mid'))"
    out = subprocess.run(["node", "-e", script], cwd=project, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "e2e-inhouse@1.0.0 e2e-mid@2.0.0", out.stderr


def test_pnpm_installs_through_virtual(site, virtual, tmp_path):
    assert PNPM.exists(), "pnpm is missing: `make tools` installs it into .tools/"
    project = make_project(tmp_path, PROJECT)
    # pnpm reads auth from an .npmrc; everything else it would keep is pointed into the test's own folders.
    home, env = client_home(tmp_path, "pnpm", virtual)
    env.update({"XDG_CACHE_HOME": str(home / "cache"), "XDG_DATA_HOME": str(home / "data"),
                "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state")})
    done = subprocess.run([str(PNPM), "install", "--registry", virtual, "--store-dir", str(home / "store"),
                           "--npmrc-auth-file", str(home / ".npmrc"), "--reporter", "append-only"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"pnpm install failed:\n{done.stdout}\n{done.stderr}"
    lock = (project / "pnpm-lock.yaml").read_text()
    assert "e2e-inhouse@1.0.0" in lock and "e2e-leaf@3.0.0" in lock and "99.0.0" not in lock
    assert_project_runs(project)


def test_yarn_classic_installs_through_virtual(site, virtual, tmp_path):
    assert YARN.exists(), "yarn is missing: `make tools` installs it into .tools/"
    project = make_project(tmp_path, PROJECT)
    # yarn 1 reads the registry and its _authToken from ~/.npmrc, as npm does, but sends the token
    # on package requests only with always-auth (docs/formats/npm.md).
    home, env = client_home(tmp_path, "yarn", virtual, extra=f"{nerf(virtual)}:always-auth=true\n")
    env["XDG_CONFIG_HOME"] = str(home / "config")
    done = subprocess.run([str(YARN), "install", "--non-interactive", "--no-progress", "--cache-folder",
                           str(home / "cache"), "--registry", virtual], cwd=project, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"yarn install failed:\n{done.stdout}\n{done.stderr}"
    lock = (project / "yarn.lock").read_text()
    assert '"e2e-inhouse@*"' in lock or "e2e-inhouse@*" in lock, lock
    assert 'version "1.0.0"' in lock and 'version "3.0.0"' in lock and "99.0.0" not in lock, lock
    # Every tarball yarn fetched and locked came from the virtual, never from a member or the upstream.
    resolved = [line.split('"')[1] for line in lock.splitlines() if line.strip().startswith("resolved ")]
    assert len(resolved) == 3 and all(url.startswith(virtual) for url in resolved), resolved
    assert_project_runs(project)


def test_install_through_virtual_then_ci_without_upstream(site, upstream, virtual, tmp_path):
    alice = client(site, "npm-e2e-all", "npm-alice")
    # A publish through the virtual lands in its deploy_to member.
    alice.ok("publish", cwd=make_package(tmp_path / "local", "@e2e/via-virtual", "1.0.0"))
    listing = site.api("GET", "repositories/npm-e2e/packages/").json()
    listed = {p["name"] for p in (listing["results"] if isinstance(listing, dict) else listing)}
    assert {"e2e-inhouse", "@e2e/via-virtual"} <= listed

    project = make_project(tmp_path, PROJECT)
    alice.ok("install", cwd=project)
    lock = json.loads((project / "package-lock.json").read_text())
    resolved = {k: v["resolved"] for k, v in lock["packages"].items() if k}
    assert all(url.startswith(registry(site, "npm-e2e-all")) for url in resolved.values()), resolved
    assert lock["packages"]["node_modules/e2e-inhouse"]["version"] == "1.0.0"
    assert set(resolved) == {"node_modules/e2e-inhouse", "node_modules/e2e-mid", "node_modules/e2e-leaf"}

    upstream.stop()
    shutil.rmtree(project / "node_modules")
    alice.fresh_cache()
    alice.ok("ci", cwd=project)
    assert (project / "node_modules" / "e2e-leaf" / "index.js").read_text().count("e2e-leaf@3.0.0") == 1
