"""Package documents from indexed rows: one repository's view of a package, and their merge.

A "doc" is the registry-neutral middle form every source produces and the renderer reads:
    {"name", "dist-tags", "versions": {version: manifest with dist.tarball = path under the repo},
     "time": {version: iso, "created", "modified"}, "info": {description, readme, ...}, "rev"}
Tarball paths stay relative until rendering, so the same doc serves any repository URL.
"""
from __future__ import annotations

import hashlib

from formats.base import Asset

from . import names
from .models import NpmPackage

HOISTED = ("description", "readme", "readmeFilename", "maintainers", "keywords", "license", "homepage",
           "repository", "author", "bugs", "contributors", "users")


def iso(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def rev_string(number: int, name: str) -> str:
    return f"{number}-{hashlib.md5(f'{name}:{number}'.encode()).hexdigest()}"


def is_tarball(asset) -> bool:
    return (asset.meta or {}).get("kind") == "npm-tarball"


def local_doc(repository, name: str) -> dict | None:
    """The package as a local repository holds it, or None."""
    record = NpmPackage.objects.filter(repository=repository, name=name).first()
    assets = [a for a in Asset.objects.filter(repository=repository, package=name).order_by("created", "id")
              if is_tarball(a)]
    if record is None and not assets:
        return None
    versions, time = {}, {}
    for asset in assets:
        manifest = dict((asset.meta or {}).get("manifest") or {})
        manifest["dist"] = {**(manifest.get("dist") or {}), "tarball": asset.path}
        versions[asset.version] = manifest
        time[asset.version] = iso(asset.created)
    dist_tags = dict(record.dist_tags) if record else {}
    dist_tags = {t: v for t, v in dist_tags.items() if v in versions}
    if versions and "latest" not in dist_tags:
        dist_tags["latest"] = names.highest(versions)
    created = record.created if record else assets[0].created
    modified = record.modified if record else assets[-1].modified
    time.update({"created": iso(created), "modified": iso(modified)})
    return {"name": name, "dist-tags": dist_tags, "versions": versions, "time": time,
            "info": dict(record.info) if record else {}, "rev": rev_string(record.rev if record else 1, name)}


def merge(docs: list[dict]) -> dict | None:
    """Members' docs in order: versions merged, the first member having a version wins it; dist-tags,
    info and _rev come from the first member having the package."""
    docs = [d for d in docs if d is not None]
    if not docs:
        return None
    if len(docs) == 1:
        return docs[0]
    first = docs[0]
    out = {"name": first["name"], "dist-tags": dict(first["dist-tags"]), "versions": {}, "time": {},
           "info": first["info"], "rev": first["rev"]}
    for doc in docs:
        for version, manifest in doc["versions"].items():
            if version not in out["versions"]:
                out["versions"][version] = manifest
                if version in doc["time"]:
                    out["time"][version] = doc["time"][version]
    times = [d["time"] for d in docs]
    out["time"]["created"] = min((t.get("created") for t in times if t.get("created")), default="")
    out["time"]["modified"] = max((t.get("modified") for t in times if t.get("modified")), default="")
    if "latest" not in out["dist-tags"] and out["versions"]:
        out["dist-tags"]["latest"] = names.highest(out["versions"])
    return out
