"""Builders for PyPI tests: hand-made wheels and sdists, the form twine sends, Basic auth headers."""
from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile

PASSWORD = "pw-for-tests"


@dataclass
class Dist:
    filename: str
    content: bytes
    name: str
    version: str
    filetype: str
    metadata: bytes = b""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def core_metadata(name: str, version: str, requires_python: str | None) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", "Summary: a test project"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    return ("\n".join(lines) + "\n\nLong description.\n").encode()


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(name: str, version: str, requires_python: str | None = None, payload: bytes = b"") -> Dist:
    dist = name.replace("-", "_").replace(".", "_").lower()
    info = f"{dist}-{version}.dist-info"
    meta = core_metadata(name, version, requires_python)
    files = {
        f"{dist}/__init__.py": b"VALUE = 1\n" + payload,
        f"{info}/METADATA": meta,
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "\n".join(_record_line(p, d) for p, d in files.items()) + f"\n{info}/RECORD,,\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{info}/RECORD", record)
    return Dist(f"{dist}-{version}-py3-none-any.whl", buf.getvalue(), name, version, "bdist_wheel", meta)


def build_sdist(name: str, version: str, requires_python: str | None = None) -> Dist:
    dist = name.replace("-", "_").replace(".", "_").lower()
    root = f"{dist}-{version}"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = core_metadata(name, version, requires_python)
        info = tarfile.TarInfo(f"{root}/PKG-INFO")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return Dist(f"{root}.tar.gz", buf.getvalue(), name, version, "sdist")


def form_for(dist: Dist, **overrides) -> dict:
    """The multipart fields twine 6 sends for a distribution file."""
    form = {
        ":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1",
        "name": dist.name, "version": dist.version, "filetype": dist.filetype,
        "pyversion": "py3" if dist.filetype == "bdist_wheel" else "source",
        "summary": "a test project", "sha256_digest": dist.sha256,
        "md5_digest": hashlib.md5(dist.content).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(dist.content, digest_size=32).hexdigest(),
        "classifiers": ["Programming Language :: Python :: 3", "License :: OSI Approved :: MIT License"],
        "requires_dist": ["requests>=2", "click"],
        "content": SimpleUploadedFile(dist.filename, dist.content, content_type="application/octet-stream"),
    }
    for key, value in overrides.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    return form


def basic(username: str, password: str = PASSWORD) -> dict:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}
