"""Build real, installable wheels and sdists without network or build backends (for tests and benchmarks)."""
from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
import zipfile
from pathlib import Path


def _safe(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def metadata_text(name: str, version: str, requires: list[str] | None = None, requires_python: str | None = None,
                  summary: str = "A test package") -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", f"Summary: {summary}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires or []]
    return "\n".join(lines) + "\n\n"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def make_wheel(folder: Path, name: str, version: str, requires: list[str] | None = None,
               requires_python: str | None = None, payload_bytes: int = 0) -> Path:
    """A pure-Python wheel with one module `<safe name>` whose VERSION is `version`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    safe = _safe(name)
    dist_info = f"{safe}-{version}.dist-info"
    files = {
        f"{safe}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": metadata_text(name, version, requires, requires_python).encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: packyard-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n",
    }
    if payload_bytes:
        files[f"{safe}/payload.bin"] = (hashlib.sha256(name.encode()).digest() * (payload_bytes // 32 + 1))[:payload_bytes]
    record = [_record_line(p, d) for p, d in files.items()] + [f"{dist_info}/RECORD,,"]
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = folder / f"{safe}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for p, d in files.items():
            zf.writestr(p, d)
    return path


def make_sdist(folder: Path, name: str, version: str) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{_safe(name)}-{version}"
    path = folder / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for member, data in {
            f"{base}/PKG-INFO": metadata_text(name, version).encode(),
            f"{base}/setup.py": b"from setuptools import setup\nsetup()\n",
        }.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def write_simple_index(root: Path, dists: list[Path]) -> Path:
    """A PEP 503 folder (root/simple/<project>/index.html, files in root/files/) with relative links."""
    root = Path(root)
    by_project: dict[str, list[Path]] = {}
    files_dir = root / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    for dist in dists:
        project = re.sub(r"[-_.]+", "-", dist.name.split("-")[0]).lower()
        target = files_dir / dist.name
        if dist.resolve() != target.resolve():
            target.write_bytes(dist.read_bytes())
        by_project.setdefault(project, []).append(target)
    simple = root / "simple"
    simple.mkdir(parents=True, exist_ok=True)
    links = []
    for project, paths in sorted(by_project.items()):
        (simple / project).mkdir(exist_ok=True)
        anchors = "".join(
            f'<a href="../../files/{p.name}#sha256={hashlib.sha256(p.read_bytes()).hexdigest()}">{p.name}</a><br>\n'
            for p in sorted(paths)
        )
        (simple / project / "index.html").write_text(
            f"<!DOCTYPE html><html><head><title>Links for {project}</title></head><body>\n{anchors}</body></html>\n")
        links.append(f'<a href="{project}/">{project}</a><br>')
    (simple / "index.html").write_text("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")
    return simple
