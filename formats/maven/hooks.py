"""Management hooks the REST API and the scheduler call: settings, package listing, deletes, cleanup.

Settings (`{"maven": {...}}` on a repository):
    version_policy   release | snapshot | mixed (default mixed): what a local repository accepts
    allow_redeploy   false (default): a deployed release file can never be replaced
    snapshot_keep    0 (default: keep all) or N: keep the newest N timestamped builds per
                     SNAPSHOT version; older builds are removed by the cleanup task
Packages are `groupId:artifactId`; versions are version directories (base versions for snapshots).
Since metadata is generated from rows, deleting rows is all a delete or a cleanup has to do,
besides dropping the plugin prefixes of an artifact left with no file (delete.forget_plugins).
"""
from __future__ import annotations

from django.db import transaction

from formats.base import Asset

from . import versions as mv
from .delete import forget_plugins

POLICIES = ("release", "snapshot", "mixed")
DEFAULTS = {"version_policy": "mixed", "allow_redeploy": False, "snapshot_keep": 0}


def validate_settings(kind: str, block: dict) -> dict:
    if not isinstance(block, dict):
        raise ValueError("maven settings must be an object")
    unknown = sorted(set(block) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown maven setting(s): {', '.join(unknown)} (known: {', '.join(DEFAULTS)})")
    out = {**DEFAULTS, **block}
    if out["version_policy"] not in POLICIES:
        raise ValueError(f"maven.version_policy must be one of {', '.join(POLICIES)}")
    if not isinstance(out["allow_redeploy"], bool):
        raise ValueError("maven.allow_redeploy must be true or false")
    keep = out["snapshot_keep"]
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise ValueError("maven.snapshot_keep must be a whole number >= 0 (0 keeps every build)")
    if "snapshot_keep" not in block:
        del out["snapshot_keep"]  # the block shows only what CONTRACT.md fixes unless cleanup is asked for
    return out


def packages(repository) -> list[dict]:
    out: dict[str, dict] = {}
    rows = Asset.objects.filter(repository=repository, meta__kind="file").exclude(package="").select_related("blob")
    for asset in rows.order_by("package", "path"):
        pkg = out.setdefault(asset.package, {"name": asset.package, "versions": {}})
        ver = pkg["versions"].setdefault(asset.version, {"version": asset.version, "files": []})
        ver["files"].append({
            "filename": asset.path.rsplit("/", 1)[-1], "path": asset.path, "size": asset.blob.size,
            "sha256": asset.blob.sha256, "sha1": (asset.meta or {}).get("sha1", ""),
            "created": asset.created.isoformat(), "uploaded_by": asset.uploaded_by,
        })
    result = []
    for pkg in out.values():
        group, _, artifact = pkg["name"].partition(":")
        ordered = [pkg["versions"][v] for v in mv.ordered(pkg["versions"])]
        result.append({"name": pkg["name"], "group_id": group, "artifact_id": artifact, "versions": ordered})
    return result


def delete_version(repository, package: str, version: str) -> int:
    package = package.replace("/", ":") if ":" not in package else package
    with transaction.atomic():
        deleted, _ = Asset.objects.filter(repository=repository, package=package, version=version).delete()
        if deleted:
            forget_plugins(repository, {package})
    return deleted


def cleanup_snapshots(repository) -> int:
    """Remove timestamped builds beyond the newest `snapshot_keep` per SNAPSHOT version; returns files removed."""
    keep = repository.format_settings().get("snapshot_keep", 0)
    if not keep:
        return 0
    rows = Asset.objects.filter(repository=repository, meta__kind="file", version__endswith="-SNAPSHOT")
    builds: dict[tuple, dict[tuple, list]] = {}
    for pk, package, version, meta in rows.values_list("pk", "package", "version", "meta"):
        if meta.get("timestamp"):
            builds.setdefault((package, version), {}).setdefault((meta["timestamp"], meta.get("build", 0)), []).append(pk)
    doomed = []
    for by_build in builds.values():
        for build in sorted(by_build, reverse=True)[keep:]:
            doomed += by_build[build]
    if doomed:
        Asset.objects.filter(pk__in=doomed).delete()
    return len(doomed)
