"""Synthetic npm packages for the benchmarks: tarballs, the documents `npm publish` sends, big packuments.

PackageSet(n) is n packages `bench-pkg-NNN`, each published as 1.0.0, 1.1.0 and 2.0.0, wired into a
tree (package i depends on `^1.0.0` of packages 3i+1..3i+3), so a project that depends on the first
few reaches all n and npm has to resolve ranges against multi-version packuments, as in real life.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import tarfile

VERSIONS = ("1.0.0", "1.1.0", "2.0.0")


def tarball(manifest: dict, payload_kib: int) -> bytes:
    rng = random.Random(f"{manifest['name']}@{manifest['version']}")
    # Text that compresses about as well as real JavaScript does (roughly 3:1).
    words = ["function", "return", "const", "module", "exports", "require", "value", "this", "null", "=>", "{", "}"]
    body = " ".join(rng.choice(words) + str(rng.randrange(1000)) for _ in range(payload_kib * 150))
    files = {"package/package.json": json.dumps(manifest, indent=2).encode(),
             "package/index.js": f"module.exports = {json.dumps(manifest['name'] + '@' + manifest['version'])};\n".encode(),
             "package/lib/body.js": f"/* {body} */\n".encode(),
             "package/README.md": f"# {manifest['name']}\n\nSynthetic package for benchmarks.\n".encode()}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(data), 499162500, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def publish_doc(name: str, version: str, dependencies: dict | None = None, payload_kib: int = 8) -> dict:
    """The PUT body of `npm publish` (libnpmpublish): one version, its tarball as a base64 attachment."""
    manifest = {"name": name, "version": version, "description": f"{name} synthetic", "main": "index.js",
                "license": "MIT", "dependencies": dependencies or {}, "scripts": {"test": "node index.js"}}
    data = tarball(manifest, payload_kib)
    filename = f"{name.rsplit('/', 1)[-1]}-{version}.tgz"
    dist = {"integrity": "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode(),
            "shasum": hashlib.sha1(data).hexdigest(), "tarball": f"http://localhost/{name}/-/{filename}"}
    full = {**manifest, "_id": f"{name}@{version}", "readme": f"# {name}", "_nodeVersion": "20.0.0",
            "_npmVersion": "11.0.0", "dist": dist}
    return {"_id": name, "name": name, "description": manifest["description"], "dist-tags": {"latest": version},
            "versions": {version: full}, "access": None, "readme": f"# {name}",
            "_attachments": {filename: {"content_type": "application/octet-stream",
                                        "data": base64.b64encode(data).decode(), "length": len(data)}}}


class PackageSet:
    def __init__(self, count: int):
        self.count = count

    def name(self, i: int) -> str:
        return f"bench-pkg-{i:03d}"

    def dependencies(self, i: int) -> dict:
        return {self.name(j): "^1.0.0" for j in (3 * i + 1, 3 * i + 2, 3 * i + 3) if j < self.count}

    def publish_docs(self) -> list[dict]:
        return [publish_doc(self.name(i), v, self.dependencies(i)) for i in range(self.count) for v in VERSIONS]

    def project_dependencies(self) -> dict:
        # The root of the tree plus a handful of direct ones, as an app lists its top-level needs.
        return {self.name(i): "^1.0.0" for i in range(min(10, self.count))}


def big_packument(name: str, base_url: str, versions: int) -> dict:
    """A public registry's packument with many versions (about 1 KB each, like a busy real package)."""
    docs = {}
    for i in range(versions):
        v = f"{i // 100}.{i % 100}.0"
        docs[v] = {"name": name, "version": v, "description": "a package with a long history", "main": "index.js",
                   "license": "MIT", "_id": f"{name}@{v}", "scripts": {"test": "mocha", "build": "tsc -p ."},
                   "dependencies": {f"dep-{j}": f"^{j}.{i % 7}.0" for j in range(8)},
                   "devDependencies": {"mocha": "^10.0.0", "typescript": "^5.0.0"},
                   "engines": {"node": ">=18"}, "_npmVersion": "10.0.0", "_nodeVersion": "20.0.0",
                   "dist": {"tarball": f"{base_url}/{name}/-/{name}-{v}.tgz", "shasum": hashlib.sha1(v.encode()).hexdigest(),
                            "integrity": "sha512-" + base64.b64encode(hashlib.sha512(v.encode()).digest()).decode()}}
    time = {v: "2020-01-01T00:00:00.000Z" for v in docs}
    return {"_id": name, "name": name, "_rev": "1-0", "dist-tags": {"latest": max(docs, key=lambda s: tuple(map(int, s.split("."))))},
            "versions": docs, "time": {"created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-02T00:00:00.000Z", **time},
            "readme": "# a package with a long history\n" * 50}
