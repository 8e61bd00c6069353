"""Verdaccio 6.8.0 as the npm benchmarks' reference registry, installed into a temp folder and run on 127.0.0.1.

Its package.json overrides node-fetch to 2.7.0 (what installs cleanly on node 20 here). Storage
and htpasswd live in the same folder; no uplinks, so it serves exactly what was published to it;
reading needs a login, as Packyard's private repositories do, so both pay for authentication.
Tokens are JWTs (Verdaccio's recommended `security.api.jwt`): with its legacy tokens every request
re-checks the bcrypt password, which would make Verdaccio look several times slower than it need be.
"""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import requests

from tests.servers import free_port, stop_process, wait_for

VERSION = "6.8.0"
USER, PASSWORD = "bench", "bench-password"
CONFIG = """storage: {folder}/storage
auth:
  htpasswd:
    file: {folder}/htpasswd
    max_users: 10
uplinks: {{}}
packages:
  '@*/*':
    access: $authenticated
    publish: $authenticated
  '**':
    access: $authenticated
    publish: $authenticated
max_body_size: 100mb
security:
  api:
    jwt:
      sign:
        expiresIn: 7d
web:
  enable: false
log: {{type: stdout, format: json, level: error}}
"""


class Verdaccio:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text(json.dumps({
            "name": "verdaccio-bench", "private": True, "dependencies": {"verdaccio": VERSION},
            "overrides": {"node-fetch": "2.7.0"}}))
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, check=True,
                       capture_output=True, timeout=900)
        (folder / "config.yaml").write_text(CONFIG.format(folder=folder))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(folder / "verdaccio.log", "wb")
        self.process = subprocess.Popen(
            [str(folder / "node_modules" / ".bin" / "verdaccio"), "--config", str(folder / "config.yaml"),
             "--listen", f"127.0.0.1:{self.port}"], cwd=folder, stdout=self._log, stderr=subprocess.STDOUT)
        wait_for(self.url + "/-/ping")
        response = requests.put(f"{self.url}/-/user/org.couchdb.user:{USER}", timeout=30,
                                json={"name": USER, "password": PASSWORD, "type": "user", "roles": []})
        response.raise_for_status()
        self.token = response.json()["token"]

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()
        time.sleep(0.1)
