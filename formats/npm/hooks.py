"""Management hooks the REST API calls: format settings, version delete, package listing."""
from __future__ import annotations

from django.db import transaction

from formats.base import Asset, deploy_target

from . import docs, names
from .models import NpmPackage

SETTINGS = {"dependency_confusion_guard": bool}


def validate_settings(format_settings: dict) -> dict:
    if not isinstance(format_settings, dict):
        raise ValueError("npm settings must be an object")
    unknown = set(format_settings) - set(SETTINGS)
    if unknown:
        raise ValueError(f"unknown npm settings: {', '.join(sorted(unknown))} (known: {', '.join(SETTINGS)})")
    for key, kind in SETTINGS.items():
        if key in format_settings and not isinstance(format_settings[key], kind):
            raise ValueError(f"npm.{key} must be a boolean")
    return {k: format_settings[k] for k in SETTINGS if k in format_settings}


def delete_version(repository, package: str, version: str) -> int:
    target = deploy_target(repository) if repository.kind == "virtual" else repository
    if target is None:
        return 0
    with transaction.atomic():
        deleted, _ = Asset.objects.filter(repository=target, package=package, version=version).delete()
        record = NpmPackage.objects.select_for_update().filter(repository=target, name=package).first()
        if record is not None and deleted:
            remaining = set(Asset.objects.filter(repository=target, package=package).values_list("version", flat=True))
            tags = {t: v for t, v in record.dist_tags.items() if v in remaining}
            if remaining and "latest" not in tags:
                tags["latest"] = names.highest(remaining)
            record.dist_tags, record.rev = tags, record.rev + 1
            record.save()
    return deleted


def packages(repository) -> list[dict]:
    out: dict[str, dict] = {}
    rows = Asset.objects.filter(repository=repository).select_related("blob").order_by("package", "created")
    for asset in rows:
        if not asset.package:
            continue
        pkg = out.setdefault(asset.package, {"name": asset.package, "versions": {}})
        ver = pkg["versions"].setdefault(asset.version, {"version": asset.version, "files": []})
        manifest = (asset.meta or {}).get("manifest") or {}
        ver["files"].append({
            "filename": asset.path.rsplit("/", 1)[-1], "path": asset.path, "size": asset.blob.size,
            "sha256": asset.blob.sha256, "integrity": (manifest.get("dist") or {}).get("integrity", "")
            or (asset.meta or {}).get("integrity", ""), "deprecated": manifest.get("deprecated", ""),
            "created": asset.created.isoformat(), "uploaded_by": asset.uploaded_by,
        })
        if docs.is_tarball(asset):
            ver["deprecated"] = manifest.get("deprecated", "")
    return [{"name": p["name"], "versions": list(p["versions"].values())} for p in out.values()]
