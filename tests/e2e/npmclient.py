"""Run the real npm the way users do: a private HOME, cache and userconfig per client, and tiny package folders."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import requests

NPM = shutil.which("npm") or "npm"


def login_token(registry: str, username: str, password: str) -> str:
    """The request `npm login --auth-type=legacy` sends; answers the token npm would keep."""
    response = requests.put(f"{registry}-/user/org.couchdb.user:{username}", timeout=30,
                            json={"_id": f"org.couchdb.user:{username}", "name": username, "password": password,
                                  "type": "user", "roles": [], "date": "2026-01-01T00:00:00.000Z"})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def nerf(url: str) -> str:
    parsed = urlparse(url)
    return f"//{parsed.netloc}{parsed.path}"


class Npm:
    def __init__(self, registry: str, tokens: dict | None = None):
        self.home = Path(tempfile.mkdtemp(prefix="npm-home-"))
        self.registry = registry
        self.cache = self.home / "cache"
        self.write_rc(tokens or {})

    def write_rc(self, tokens: dict) -> None:
        lines = [f"registry={self.registry}"] + [f"{nerf(url)}:_authToken={token}" for url, token in tokens.items()]
        (self.home / ".npmrc").write_text("\n".join(lines) + "\n")

    def fresh_cache(self) -> None:
        shutil.rmtree(self.cache, ignore_errors=True)

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.lower().startswith("npm_config_")}
        env.update({"HOME": str(self.home), "npm_config_cache": str(self.cache),
                    "npm_config_userconfig": str(self.home / ".npmrc"), "npm_config_registry": self.registry,
                    "npm_config_update_notifier": "false", "npm_config_fund": "false",
                    "npm_config_loglevel": "warn", "npm_config_fetch_retries": "0"})
        return env

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([NPM, *args], cwd=cwd or self.home, env=self.env(), capture_output=True, text=True,
                              timeout=300)

    def ok(self, *args: str, cwd: Path | None = None) -> str:
        done = self.run(*args, cwd=cwd)
        assert done.returncode == 0, f"npm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout


def make_package(root: Path, name: str, version: str, dependencies: dict | None = None, text: str = "") -> Path:
    folder = root / f"{name.replace('/', '__')}-{version}"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"name": name, "version": version, "description": f"{name} for tests", "main": "index.js",
                "license": "MIT", "dependencies": dependencies or {}}
    (folder / "package.json").write_text(json.dumps(manifest, indent=2))
    (folder / "index.js").write_text(f"module.exports = {json.dumps(f'{name}@{version}{text}')};\n")
    return folder


def make_project(root: Path, dependencies: dict) -> Path:
    folder = root / "project"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps({"name": "app", "version": "1.0.0", "private": True,
                                                     "dependencies": dependencies}, indent=2))
    return folder
