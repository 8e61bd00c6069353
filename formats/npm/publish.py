"""Writes to a local npm registry: publish, metadata edits (deprecate, dist-tags, unpublish) and deletes.

`PUT <name>` with a .tgz attachment is a publish: one new version, verified (body.py), stored as
an Asset whose meta keeps the version manifest; publishing over an existing version is refused
with 403 and the stored tarball stays. Without an attachment (`PUT <name>` or `PUT <name>/-rev/R`)
it is a metadata edit: it may change `deprecated` and dist-tags and may remove versions (that
needs the `delete` role) but never add one. `DELETE <name>/-/<file>/-rev/R` removes a tarball,
`DELETE <name>/-rev/R` the whole package. Writes through a virtual go to its deploy_to member.
"""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.http import JsonResponse

from formats.base import Asset, HttpError, audit, require, write_target

from . import body as bodies, docs, names
from .models import NpmPackage

KEEP_OUT = ("readme", "_attachments", "_rev")


def target_of(request, repository, action: str, event: str):
    """The local repository a write lands in, after the role check on the repository asked."""
    return write_target(request, repository, event, action=action)


def _user(request) -> str:
    user = request.packyard_user
    return user.get_username() if user.is_authenticated else ""


def _record(target, name: str, lock: bool = True):
    rows = NpmPackage.objects.filter(repository=target, name=name)
    return (rows.select_for_update() if lock else rows).first()


def put_package(request, repository, name: str) -> JsonResponse:
    target = target_of(request, repository, "deploy", "npm.publish")
    try:
        doc = bodies.read_json(request, bodies.publish_limit())
        if not isinstance(doc, dict):
            raise HttpError(400, "expected a package document")
        sent = doc.get("name") or doc.get("_id")
        if sent != name:
            raise HttpError(400, f"the document names {sent!r} but the URL names {name!r}")
        attachment = bodies.tgz_attachment(doc)
        if attachment is None:
            return _edit(request, repository, target, name, doc)
        return _publish(request, repository, target, name, doc, attachment[1])
    except HttpError as exc:
        audit.record(request, "npm.publish", repository=target, path=name, outcome="invalid", status=exc.status,
                     message=exc.message)
        raise


def _publish(request, repository, target, name, doc, attachment) -> JsonResponse:
    names.check_name(name, new=True)
    versions = doc.get("versions")
    if not isinstance(versions, dict) or len(versions) != 1:
        raise HttpError(400, "a publish carries exactly one version")
    version, manifest = next(iter(versions.items()))
    if not names.valid_version(version) or not isinstance(manifest, dict):
        raise HttpError(400, f"invalid version {version!r}")
    if manifest.get("name") != name or manifest.get("version") != version:
        raise HttpError(400, f"the version document names {manifest.get('name')}@{manifest.get('version')}, not {name}@{version}")
    path = names.tarball_path(name, version)
    if Asset.objects.filter(repository=target, path=path).exists():
        raise _exists(version)
    dist = manifest.get("dist") if isinstance(manifest.get("dist"), dict) else {}
    with bodies.stage_attachment(attachment) as staged:
        bodies.verify(staged, dist)
        packed = bodies.tarball_manifest(staged.path)
        if packed.get("name") != name or packed.get("version") != version:
            raise HttpError(400, f"the tarball's package.json is {packed.get('name')}@{packed.get('version')}, not {name}@{version}")
        blob = staged.commit()
    stored = {k: v for k, v in manifest.items() if k not in KEEP_OUT}
    stored["dist"] = {k: v for k, v in dist.items() if k != "tarball"}
    stored["dist"]["shasum"], stored["dist"]["integrity"] = staged.hexdigests["sha1"], _sri(staged)
    stored["_npmUser"] = {"name": _user(request)}
    tags = {t: v for t, v in (doc.get("dist-tags") or {}).items() if v == version and isinstance(t, str)} or {"latest": version}
    try:
        with transaction.atomic():
            record = _record(target, name)
            if record is None:
                record = NpmPackage.objects.create(repository=target, name=name)
                record = _record(target, name)
            if version in record.info.get("unpublished", []):
                raise _exists(version)
            Asset.objects.create(repository=target, path=path, blob=blob, package=name, version=version,
                                 content_type="application/octet-stream", uploaded_by=_user(request),
                                 meta={"kind": "npm-tarball", "manifest": stored})
            info = dict(record.info)
            info.update({k: doc[k] for k in docs.HOISTED if k in doc and k != "users"})
            if manifest.get("readme") and not doc.get("readme"):
                info["readme"] = manifest["readme"]
            record.info, record.rev = info, record.rev + 1
            record.dist_tags = {**record.dist_tags, **tags}
            record.save()
    except IntegrityError:
        raise _exists(version) from None
    audit.record(request, "npm.publish", repository=target, path=path, sha256=blob.sha256, size=blob.size,
                 via=repository.name if repository.pk != target.pk else "")
    return JsonResponse({"ok": True, "id": name, "rev": docs.rev_string(record.rev, name)}, status=201)


def _sri(staged) -> str:
    import base64

    return "sha512-" + base64.b64encode(bytes.fromhex(staged.hexdigests["sha512"])).decode()


def _exists(version: str) -> HttpError:
    return HttpError(403, f"You cannot publish over the previously published versions: {version}.")


def _edit(request, repository, target, name, doc) -> JsonResponse:
    versions = doc.get("versions")
    if not isinstance(versions, dict):
        raise HttpError(400, "a metadata edit carries the package's versions")
    with transaction.atomic():
        record = _record(target, name)
        assets = {a.version: a for a in Asset.objects.select_for_update().filter(repository=target, package=name)
                  if docs.is_tarball(a)}
        if record is None and not assets:
            raise HttpError(404, "Not found")
        added = set(versions) - set(assets)
        if added:
            raise HttpError(400, f"a metadata edit cannot add versions ({', '.join(sorted(added))}); publish them")
        removed = set(assets) - set(versions)
        if removed:
            require(request, "delete", repository)
        changed = []
        for version, asset in assets.items():
            if version in removed:
                continue
            new = (versions[version] or {}).get("deprecated") if isinstance(versions[version], dict) else None
            meta = dict(asset.meta)
            manifest = dict(meta.get("manifest") or {})
            if (new or "") != (manifest.get("deprecated") or ""):
                if new:
                    manifest["deprecated"] = str(new)[:4096]
                else:
                    manifest.pop("deprecated", None)
                meta["manifest"] = manifest
                asset.meta = meta
                asset.save(update_fields=["meta", "modified"])
                changed.append(version)
        Asset.objects.filter(pk__in=[assets[v].pk for v in removed]).delete()
        remaining = set(assets) - removed
        if record is None:
            record = NpmPackage.objects.create(repository=target, name=name)
        tags = doc.get("dist-tags") if isinstance(doc.get("dist-tags"), dict) else record.dist_tags
        record.dist_tags = _fix_tags({t: v for t, v in tags.items() if v in remaining}, remaining)
        record.info = {**record.info, "unpublished": sorted(set(record.info.get("unpublished", [])) | removed)}
        record.rev += 1
        record.save()
    for version in sorted(removed):
        audit.record(request, "npm.unpublish", repository=target, path=names.tarball_path(name, version))
    if changed:
        audit.record(request, "npm.deprecate", repository=target, path=name, versions=changed)
    if not removed and not changed:
        audit.record(request, "npm.edit", repository=target, path=name)
    return JsonResponse({"ok": True, "id": name, "rev": docs.rev_string(record.rev, name)}, status=201)


def _fix_tags(tags: dict, remaining: set) -> dict:
    if remaining and tags.get("latest") not in remaining:
        tags["latest"] = names.highest(remaining)
    return tags


def delete_tarball(request, repository, name: str, filename: str) -> JsonResponse:
    target = target_of(request, repository, "delete", "npm.unpublish")
    path = f"{name}/-/{filename}"
    with transaction.atomic():
        record = _record(target, name)
        asset = Asset.objects.filter(repository=target, path=path).first()
        if record is None and asset is None:
            raise HttpError(404, "Not found")
        if asset is not None:
            asset.delete()
            remaining = set(Asset.objects.filter(repository=target, package=name).values_list("version", flat=True))
            if record is not None:
                record.dist_tags = _fix_tags({t: v for t, v in record.dist_tags.items() if v in remaining}, remaining)
                record.info = {**record.info, "unpublished": sorted({*record.info.get("unpublished", []), asset.version})}
        if record is not None:
            record.rev += 1
            record.save()
    audit.record(request, "npm.unpublish", repository=target, path=path, removed=asset is not None)
    return JsonResponse({"ok": True})


def delete_package(request, repository, name: str) -> JsonResponse:
    target = target_of(request, repository, "delete", "npm.unpublish")
    with transaction.atomic():
        files, _ = Asset.objects.filter(repository=target, package=name).delete()
        records, _ = NpmPackage.objects.filter(repository=target, name=name).delete()
    if not files and not records:
        raise HttpError(404, "Not found")
    audit.record(request, "npm.unpublish", repository=target, path=name, files=files)
    return JsonResponse({"ok": True})
