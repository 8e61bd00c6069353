"""Builders for npm tests: hand-made tarballs, the document `npm publish` sends, Basic/Bearer headers."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile

PASSWORD = "pw-for-tests"


def tgz(name: str, version: str, payload: str = "", manifest: dict | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        files = {"package/package.json": json.dumps(manifest or {"name": name, "version": version}).encode(),
                 "package/index.js": f"module.exports = {json.dumps(name + '@' + version + payload)};\n".encode()}
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def publish_doc(name: str, version: str, data: bytes | None = None, tag: str = "latest", **manifest_extra) -> dict:
    data = tgz(name, version) if data is None else data
    manifest = {"name": name, "version": version, "description": "test package", "_id": f"{name}@{version}",
                "dependencies": {}, "readme": "# readme",
                "dist": {"integrity": integrity(data), "shasum": hashlib.sha1(data).hexdigest(),
                         "tarball": f"http://ignored/{name}/-/{name}-{version}.tgz"}, **manifest_extra}
    return {"_id": name, "name": name, "description": "test package", "dist-tags": {tag: version},
            "versions": {version: manifest}, "access": None,
            "_attachments": {f"{name}-{version}.tgz": {"content_type": "application/octet-stream",
                                                       "data": base64.b64encode(data).decode(), "length": len(data)}}}


def basic(username: str, password: str = PASSWORD) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def upstream_packument(name: str, base_url: str, versions: dict[str, bytes], latest: str | None = None) -> dict:
    """A packument as a public registry serves it, tarballs at <base_url>/tarballs/<file>."""
    short = name.rsplit("/", 1)[-1]
    return {
        "_id": name, "name": name, "_rev": "7-abc", "description": "from upstream",
        "dist-tags": {"latest": latest or max(versions)},
        "time": {"created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-02T00:00:00.000Z",
                 **{v: "2020-01-01T00:00:00.000Z" for v in versions}},
        "versions": {v: {"name": name, "version": v, "dependencies": {}, "scripts": {"postinstall": "true"},
                         "dist": {"tarball": f"{base_url}/tarballs/{short}-{v}.tgz", "integrity": integrity(data),
                                  "shasum": hashlib.sha1(data).hexdigest()}}
                     for v, data in versions.items()},
    }
