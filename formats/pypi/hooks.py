"""Management hooks the REST API calls: format settings, yank, version delete, package listing.

Package names are normalized (PEP 503) and versions compared as PEP 440 versions, so the API
accepts `My_Pkg 1.0.0` for files uploaded as `my-pkg 1.0`. Writes through a virtual go to its
deploy target. Every write bumps `Asset.modified`, which changes the simple pages' ETags.
"""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from formats.base import Asset, deploy_target

from . import index, metadata as md

SETTINGS = {"dependency_confusion_guard": bool}


def validate_settings(format_settings: dict) -> dict:
    if not isinstance(format_settings, dict):
        raise ValueError("pypi settings must be an object")
    unknown = set(format_settings) - set(SETTINGS)
    if unknown:
        raise ValueError(f"unknown pypi settings: {', '.join(sorted(unknown))} (known: {', '.join(SETTINGS)})")
    out = {}
    for key, kind in SETTINGS.items():
        if key in format_settings:
            if not isinstance(format_settings[key], kind):
                raise ValueError(f"pypi.{key} must be a boolean")
            out[key] = format_settings[key]
    return out


def _target(repository):
    return deploy_target(repository) if repository.kind == "virtual" else repository


def _version_assets(repository, package: str, version: str) -> list:
    target = _target(repository)
    if target is None:
        return []
    rows = Asset.objects.filter(repository=target, package=md.normalize(package))
    return [a for a in rows if md.same_version(a.version, version)]


def yank(repository, package: str, version: str, reason: str = "", yanked: bool = True) -> int:
    """Set (or clear) the PEP 592 yank on every file of the version; returns the files changed."""
    value = (reason.strip() or True) if yanked else False
    count = 0
    now = timezone.now()
    with transaction.atomic():
        for asset in _version_assets(repository, package, version):
            if index.is_core_metadata(asset):
                continue
            meta = dict(asset.meta or {})
            meta["yanked"] = value
            Asset.objects.filter(pk=asset.pk).update(meta=meta, modified=now)
            count += 1
    return count


def delete_version(repository, package: str, version: str) -> int:
    """Remove the version's files and their .metadata rows; returns the files removed (not counting .metadata)."""
    assets = _version_assets(repository, package, version)
    files = sum(1 for a in assets if not index.is_core_metadata(a))
    Asset.objects.filter(pk__in=[a.pk for a in assets]).delete()
    return files


def packages(repository) -> list[dict]:
    out: dict[str, dict] = {}
    rows = Asset.objects.filter(repository=repository).select_related("blob").order_by("package", "version", "path")
    for asset in rows:
        if index.is_core_metadata(asset) or not asset.package:
            continue
        pkg = out.setdefault(asset.package, {"name": asset.package, "versions": {}})
        ver = pkg["versions"].setdefault(asset.version, {"version": asset.version, "files": []})
        meta = asset.meta or {}
        ver["files"].append({
            "filename": asset.path.rsplit("/", 1)[-1], "path": asset.path, "size": asset.blob.size,
            "sha256": asset.blob.sha256, "yanked": meta.get("yanked", False) or False,
            "requires_python": meta.get("requires_python", ""), "created": asset.created.isoformat(),
            "uploaded_by": asset.uploaded_by,
        })
    return [{"name": p["name"], "versions": list(p["versions"].values())} for p in out.values()]
