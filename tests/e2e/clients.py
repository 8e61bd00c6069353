"""Run the real clients (twine, pip) the way users do, isolated from the machine's config and caches."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent


def _env(home: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "TWINE_"))}
    env.update({
        "HOME": home,
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def twine_upload(repository_url: str, files, username: str | None, password: str | None,
                 *extra: str) -> subprocess.CompletedProcess:
    home = tempfile.mkdtemp(prefix="twine-home-")
    cmd = [str(BIN / "twine"), "upload", "--repository-url", repository_url, "--non-interactive",
           "--disable-progress-bar", *extra]
    if username is not None:
        cmd += ["-u", username]
    if password is not None:
        cmd += ["-p", password]
    cmd += [str(f) for f in files]
    return subprocess.run(cmd, env=_env(home), capture_output=True, text=True, timeout=120)


class FreshVenv:
    """An empty virtualenv; packages go in with the test runner's pip via --python (no pip copy needed)."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="pip-venv-"))
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(self.dir)], check=True)
        self.python = self.dir / "bin" / "python"
        self.home = tempfile.mkdtemp(prefix="pip-home-")

    def pip_install(self, index_url: str, *requirements: str, extra: tuple = ()) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "pip", "--python", str(self.python), "install", "--index-url", index_url,
               "--no-cache-dir", "--disable-pip-version-check", *extra, *requirements]
        return subprocess.run(cmd, env=_env(self.home), capture_output=True, text=True, timeout=300)

    def run(self, code: str) -> str:
        return subprocess.run([str(self.python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def with_credentials(url: str, username: str, password: str) -> str:
    from urllib.parse import quote

    scheme, rest = url.split("://", 1)
    return f"{scheme}://{quote(username, safe='')}:{quote(password, safe='')}@{rest}"
