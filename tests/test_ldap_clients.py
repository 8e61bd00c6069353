"""Directory users through the other real clients: npm (the real `npm login`, whoami, publish), mvn
(settings.xml <server> with the directory password) and podman/skopeo (login, push, /v2/token).

Each directory user here is in the `developers` group of tests/ldap_server.py; the group's team is
created by hand beforehand (it becomes the group's mirror at the first login) and granted `deploy`
on the repositories. Then the user leaves the group in slapd and, once PACKYARD_LDAP_CACHE_SECONDS
have passed, the same client credentials (npm token, mvn password, docker login and its registry
tokens) no longer write. Users: dana (npm), ivan (mvn), erik (podman).
"""
from __future__ import annotations

import base64
import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.maven_projects import M2, PLUGINS, mvn
from tests.e2e.npmclient import NPM, Npm, make_package, nerf
from tests.e2e.test_docker import Podman, skopeo
from tests.ldap_server import USERS
from tests.ociimages import make_image, write_layout
from tests.servers import PackyardServer, require_tool

CACHE = 1
TEAM = "developers"


@pytest.fixture(scope="module")
def server(slapd):
    started = PackyardServer(extra_env=slapd.env(PACKYARD_LDAP_CACHE_SECONDS=str(CACHE)))
    # The team exists before any of its members logged in; the group's first sighting adopts it.
    created = started.api("POST", "teams/", json={"name": TEAM})
    assert created.status_code == 201, created.text
    yield started
    started.stop()


def past_cache() -> None:
    time.sleep(CACHE + 1.2)  # the group cache and the remembered password both run out


class left_group:
    """`with left_group(slapd, uid):` the user is out of `developers` in the directory, and back afterwards."""

    def __init__(self, slapd, uid: str):
        self.slapd, self.uid = slapd, uid

    def __enter__(self):
        self.slapd.remove_member(TEAM, self.uid)
        past_cache()

    def __exit__(self, *exc):
        self.slapd.add_member(TEAM, self.uid)


# --- npm -------------------------------------------------------------------------------------------


def npm_login(npm: Npm, username: str, password: str, timeout: float = 60) -> tuple[int, str]:
    """The real `npm login --auth-type=legacy`, answering its Username/Password prompts on a terminal."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: npm on the terminal pty.fork made
        os.execve(NPM, [NPM, "login", "--auth-type=legacy", "--registry", npm.registry], npm.env())
    answers = [("username:", username), ("password:", password)]
    seen, out = "", b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: npm exited and closed the terminal
                break
            if not chunk:
                break
            out += chunk
            seen += chunk.decode(errors="replace").lower()
            if answers and answers[0][0] in seen:
                seen = seen.split(answers[0][0], 1)[1]
                os.write(fd, (answers.pop(0)[1] + "\r").encode())
        else:
            os.kill(pid, 9)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def test_npm_login_whoami_publish_as_a_directory_user(server, slapd, tmp_path):
    server.create_repo("npm-dir", "npm")
    server.grant("npm-dir", "deploy", team=TEAM)
    url = f"{server.url}/repository/npm-dir/"
    npm = Npm(url)

    code, out = npm_login(npm, "dana", "wrong-password")
    assert code != 0 and "_authToken" not in (npm.home / ".npmrc").read_text(), out
    code, out = npm_login(npm, "dana", USERS["dana"])
    assert code == 0, out
    rc = (npm.home / ".npmrc").read_text()
    assert f"{nerf(url)}:_authToken=pky_" in rc, rc
    token = rc.split(":_authToken=", 1)[1].split()[0]
    assert npm.ok("whoami").strip() == "dana"
    npm.ok("publish", cwd=make_package(tmp_path, "dir-pkg", "1.0.0"))
    assert json.loads(npm.ok("view", "dir-pkg", "version", "--json")) == "1.0.0"
    me = server.api("GET", "users/me/", auth=("dana", USERS["dana"])).json()
    assert me["directory"] is True and me["teams"] == [TEAM]

    with left_group(slapd, "dana"):
        # The token npm keeps still names dana, but the team's role went with the group.
        assert npm.ok("whoami").strip() == "dana"
        refused = npm.run("publish", cwd=make_package(tmp_path, "dir-pkg", "1.1.0"))
        assert refused.returncode != 0 and "may not" in refused.stderr, refused.stderr
        read = requests.get(f"{url}dir-pkg", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert read.status_code == 403, read.text
        # A fresh login still works (dana is in the directory) but brings no right back.
        code, out = npm_login(Npm(url), "dana", USERS["dana"])
        assert code == 0, out
    past_cache()
    npm.ok("publish", cwd=make_package(tmp_path, "dir-pkg", "1.1.0"))


# --- mvn -------------------------------------------------------------------------------------------


def _pom(version: str, deploy_url: str) -> str:
    plugins = "".join(f"<plugin><artifactId>{a}</artifactId><version>{PLUGINS[a]}</version></plugin>"
                      for a in ("maven-install-plugin", "maven-deploy-plugin"))
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.example.ldap</groupId><artifactId>dir-parent</artifactId><version>{version}</version>
  <packaging>pom</packaging>
  <distributionManagement><repository><id>packyard-dir</id><url>{deploy_url}</url></repository></distributionManagement>
  <build><plugins>{plugins}</plugins></build>
</project>
"""


def _settings(path: Path, username: str, password: str) -> Path:
    # Plugins resolve from the machine's warm ~/.m2 as a file:// repository (read, never written);
    # only the deploy goes to Packyard, with the directory password from <server>.
    path.write_text(f"""<settings>
  <mirrors><mirror><id>warm-m2</id><mirrorOf>*</mirrorOf><url>{M2.as_uri()}</url></mirror></mirrors>
  <servers><server><id>packyard-dir</id><username>{username}</username><password>{password}</password></server></servers>
</settings>
""")
    return path


def test_mvn_deploy_with_directory_password_in_settings(server, slapd, tmp_path):
    require_tool("mvn")
    server.create_repo("m2-dir", "maven", maven={"version_policy": "release"})
    server.grant("m2-dir", "deploy", team=TEAM)
    deploy_url = f"{server.url}/repository/m2-dir/"
    local = tmp_path / "m2-local"  # one local repository: the plugins are copied from file:// once

    def deploy(version: str, password: str) -> subprocess.CompletedProcess:
        project = tmp_path / f"dir-parent-{version}"
        project.mkdir(exist_ok=True)
        (project / "pom.xml").write_text(_pom(version, deploy_url))
        return mvn(project, _settings(tmp_path / "settings.xml", "ivan", password), "deploy", local_repo=local)

    wrong = deploy("0.9", "not-ivans-password")
    assert wrong.returncode != 0 and "401" in wrong.stdout + wrong.stderr, wrong.stdout + wrong.stderr
    done = deploy("1.0", USERS["ivan"])
    assert done.returncode == 0, done.stdout + done.stderr
    pom = requests.get(f"{deploy_url}org/example/ldap/dir-parent/1.0/dir-parent-1.0.pom", auth=("ivan", USERS["ivan"]),
                       timeout=30)
    assert pom.status_code == 200 and b"<packaging>pom</packaging>" in pom.content

    with left_group(slapd, "ivan"):
        refused = deploy("1.1", USERS["ivan"])
        assert refused.returncode != 0 and "403" in refused.stdout + refused.stderr, refused.stdout + refused.stderr
    past_cache()
    again = deploy("1.1", USERS["ivan"])
    assert again.returncode == 0, again.stdout + again.stderr


# --- podman, skopeo and /v2/token ------------------------------------------------------------------


def token_actions(server, username: str, password: str, scope: str) -> tuple[str, list[str]]:
    response = requests.get(f"{server.url}/v2/token", params={"service": "packyard", "scope": scope},
                            auth=(username, password), timeout=30)
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == username
    return token, claims["access"][0]["actions"]


def test_podman_login_push_and_token_endpoint_as_a_directory_user(server, slapd, tmp_path):
    require_tool("podman")
    server.create_repo("dk-dir", "docker")
    server.grant("dk-dir", "deploy", team=TEAM)
    host = f"127.0.0.1:{server.port}"
    layout = write_layout(tmp_path / "layout", {"v1": make_image(layers=2), "v2": make_image({"two.txt": b"2\n"})})
    erik = f"erik:{USERS['erik']}"
    scope = "repository:dk-dir/app:pull,push"

    _, actions = token_actions(server, "erik", USERS["erik"], scope)
    assert sorted(actions) == ["pull", "push"]
    podman = Podman()
    try:
        assert podman("login", "--tls-verify=false", "-u", "erik", "-p", "wrong", host).returncode != 0
        done = podman("login", "--tls-verify=false", "-u", "erik", "-p", USERS["erik"], host)
        assert done.returncode == 0, done.stderr
        done = podman("pull", f"oci:{layout}:v1")
        assert done.returncode == 0, done.stderr
        image = done.stdout.strip().splitlines()[-1]
        done = podman("tag", image, f"{host}/dk-dir/app:v1")
        assert done.returncode == 0, done.stderr
        done = podman("push", "--tls-verify=false", f"{host}/dk-dir/app:v1")
        assert done.returncode == 0, done.stderr
        info = skopeo("inspect", "--creds", erik, "--tls-verify=false", f"docker://{host}/dk-dir/app:v1")
        assert info.returncode == 0 and len(json.loads(info.stdout)["Layers"]) == 2, info.stderr
        pushed = server.api("GET", "repositories/dk-dir/packages/").json()
        entries = pushed["results"] if isinstance(pushed, dict) else pushed
        assert next(p for p in entries if p["name"] == "app")["versions"][0]["pushed_by"] == "erik"
        held, _ = token_actions(server, "erik", USERS["erik"], scope)  # a registry token issued while in the group

        with left_group(slapd, "erik"):
            # A registry token issued before is not honoured past the cache time: its first use
            # (before any password of erik's reaches the server) reads the directory again.
            upload = requests.post(f"{server.url}/v2/dk-dir/app/blobs/uploads/",
                                   headers={"Authorization": f"Bearer {held}"}, timeout=30)
            assert upload.status_code in (401, 403), upload.text
            # The token endpoint still knows erik (still in the directory) but grants nothing.
            _, actions = token_actions(server, "erik", USERS["erik"], scope)
            assert actions == []
            done = podman("push", "--tls-verify=false", f"{host}/dk-dir/app:v1", f"{host}/dk-dir/app:again")
            assert done.returncode != 0
            done = skopeo("copy", "--dest-creds", erik, "--dest-tls-verify=false", f"oci:{layout}:v2",
                          f"docker://{host}/dk-dir/app:v2")
            assert done.returncode != 0 and ("denied" in done.stderr or "unauthorized" in done.stderr), done.stderr
        past_cache()
        done = skopeo("copy", "--dest-creds", erik, "--dest-tls-verify=false", f"oci:{layout}:v2",
                      f"docker://{host}/dk-dir/app:v2")
        assert done.returncode == 0, done.stderr
    finally:
        podman.close()
