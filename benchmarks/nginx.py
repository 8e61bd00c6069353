"""Start nginx (Debian's package) over a folder on a free 127.0.0.1 port, as a reference server."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from tests.servers import free_port

CONF = """
{user}
daemon off;
worker_processes 2;
pid {run}/nginx.pid;
error_log {run}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  types {{ application/octet-stream whl; text/html html; }}
  default_type application/octet-stream;
  client_body_temp_path {run}/body;
  proxy_temp_path {run}/proxy;
  fastcgi_temp_path {run}/fastcgi;
  uwsgi_temp_path {run}/uwsgi;
  scgi_temp_path {run}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    autoindex on;
    location / {{ index index.html; }}
  }}
}}
"""


class Nginx:
    def __init__(self, root: Path):
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.run_dir = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = self.run_dir / "nginx.conf"
        # As root, nginx's workers would drop to `nobody` and could not read our private temp folders.
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(CONF.format(user=user, run=self.run_dir, port=self.port, root=Path(root).resolve()))
        self.process = subprocess.Popen([binary, "-c", str(conf), "-p", str(self.run_dir)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                requests.get(self.url + "/", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start: " + (self.run_dir / "error.log").read_text())

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.run_dir, ignore_errors=True)
