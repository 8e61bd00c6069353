"""`mvn deploy`: HTTP PUT of files, checksums and metadata into a local repository.

Steps, in order (nothing is stored unless every check passes):
1. `deploy` on the repository the client named; the file lands in its deploy target (itself,
   or a virtual's deploy_to); a remote refuses with 405;
2. the path must follow the Maven layout (layout.parse), else 400;
3. the target's version policy: a SNAPSHOT into a `release` repository, or a release into a
   `snapshot` repository -> 400;
4. a release file already stored -> 409 unless `allow_redeploy` (snapshots and metadata are
   always overwritable); checked before the body is read, so a refused redeploy costs nothing;
5. the body is streamed in chunks (sized, or chunked de-chunked by gunicorn) to a temp file
   while md5/sha1/sha256/sha512 are computed, past PACKYARD_MAX_UPLOAD_BYTES -> 413;
6. checksum uploads are compared with the stored file's digest (mismatch -> 400) and not stored:
   checksums are always served from the computed digests;
7. maven-metadata.xml uploads must be well-formed, but only plugin prefixes (group level) are
   kept from them: artifact and snapshot metadata are generated from the stored files.
"""
from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse

from formats.base import Asset, HttpError, TooLarge, audit, stage_bytes, stage_chunks, write_target

from . import layout, metadata as md, remote

ALGORITHMS = ("md5", "sha1", "sha256", "sha512")
CHUNK = 1024 * 1024


def handle_put(request, repository, path: str) -> HttpResponse:
    target = write_target(request, repository, "maven.deploy", path=path)
    try:
        try:
            mp = layout.parse(path)
        except layout.BadPath as exc:
            raise HttpError(400, f"invalid Maven path: {exc}") from None
        _check_policy(target, mp)
        _check_length(request)
        if mp.checksum:
            return _put_checksum(request, target, mp)
        if mp.kind == "metadata":
            return _put_metadata(request, target, mp)
        return _put_file(request, repository, target, mp)
    except HttpError as exc:
        audit.record(request, "maven.deploy", repository=target, path=path, outcome="invalid",
                     status=exc.status, message=exc.message)
        raise


def _check_policy(target, mp) -> None:
    policy = target.format_settings().get("version_policy", "mixed")
    if not mp.version:
        return  # artifact- and group-level metadata serve both kinds of version
    if policy == "release" and mp.snapshot:
        raise HttpError(400, f"repository {target.name} accepts release versions only; {mp.version} is a SNAPSHOT")
    if policy == "snapshot" and not mp.snapshot:
        raise HttpError(400, f"repository {target.name} accepts SNAPSHOT versions only; {mp.version} is a release")


def _check_length(request) -> None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HttpError(400, "invalid Content-Length") from None
    if length > settings.PACKYARD_MAX_UPLOAD_BYTES:
        raise HttpError(413, f"file exceeds the {settings.PACKYARD_MAX_UPLOAD_BYTES}-byte upload limit")


def body_chunks(request):
    # Django sizes its stream from Content-Length and reads nothing without one, so a chunked
    # body (gunicorn de-chunks it) is read from wsgi.input itself, to its end.
    stream = request if request.META.get("CONTENT_LENGTH") else request.environ["wsgi.input"]
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        yield chunk


def _read_small(request, limit: int) -> bytes:
    data = b""
    for chunk in body_chunks(request):
        data += chunk
        if len(data) > limit:
            raise HttpError(413, f"body larger than {limit} bytes")
    return data


def _user(request) -> str:
    user = request.packyard_user
    return user.get_username() if user.is_authenticated else ""


def _put_file(request, repository, target, mp) -> HttpResponse:
    overwrite = mp.snapshot or target.format_settings().get("allow_redeploy", False)
    if not overwrite and Asset.objects.filter(repository=target, path=mp.path).exists():
        raise HttpError(409, f"{mp.filename} is already deployed in {target.name} and releases cannot be redeployed")
    try:
        staged = stage_chunks(body_chunks(request), max_bytes=settings.PACKYARD_MAX_UPLOAD_BYTES, algorithms=ALGORITHMS)
    except TooLarge as exc:
        raise HttpError(413, str(exc)) from None
    with staged:
        blob = staged.commit()
    meta = {"kind": "file", "classifier": mp.classifier, "extension": mp.extension, "timestamp": mp.timestamp,
            "build": mp.build, "value": layout.snapshot_value(mp), **{a: staged.hexdigests[a] for a in ALGORITHMS}}
    fields = {"blob": blob, "package": mp.package, "version": mp.version, "content_type": layout.content_type(mp.filename),
              "meta": meta, "uploaded_by": _user(request)}
    try:
        with transaction.atomic():
            if overwrite:
                Asset.objects.update_or_create(repository=target, path=mp.path, defaults=fields)
            else:
                Asset.objects.create(repository=target, path=mp.path, **fields)
    except IntegrityError:
        raise HttpError(409, f"{mp.filename} is already deployed in {target.name} and releases cannot be redeployed") from None
    audit.record(request, "maven.deploy", repository=target, path=mp.path, sha256=blob.sha256, size=blob.size,
                 via=repository.name if repository.pk != target.pk else "")
    return HttpResponse(status=201)


def _put_checksum(request, target, mp) -> HttpResponse:
    text = _read_small(request, 4096).decode("ascii", errors="replace").strip().lower()
    sent = text.split()[0] if text else ""
    if not sent or any(c not in "0123456789abcdef" for c in sent):
        raise HttpError(400, f"{mp.filename}.{mp.checksum} is not a hex digest")
    if mp.kind == "metadata":
        # The client's checksum is of its own copy; Packyard serves its generated document's.
        return HttpResponse(status=201)
    asset = Asset.objects.filter(repository=target, path=mp.target).select_related("blob").first()
    if asset is None:
        raise HttpError(400, f"{mp.filename} is not stored in {target.name}; deploy it before its checksum")
    actual = remote.ensure_digests(asset).meta[mp.checksum]
    if sent != actual:
        raise HttpError(400, f"{mp.checksum} checksum mismatch for {mp.filename}: sent {sent}, stored file has {actual}")
    return HttpResponse(status=201)


def _put_metadata(request, target, mp) -> HttpResponse:
    try:
        doc = md.parse(_read_small(request, md.MAX_BYTES))
    except md.BadMetadata as exc:
        raise HttpError(400, str(exc)) from None
    if doc["artifactId"] and mp.level == "snapshot" and (doc["groupId"], doc["artifactId"]) != (mp.group, mp.artifact):
        raise HttpError(400, f"metadata names {doc['groupId']}:{doc['artifactId']}, the path {mp.package}")
    if doc["plugins"] and mp.level == "artifact":
        _keep_plugins(request, target, mp, doc["plugins"])
    return HttpResponse(status=201)


def _keep_plugins(request, target, mp, plugins: list[dict]) -> None:
    with transaction.atomic():
        existing = Asset.objects.select_for_update().filter(repository=target, path=mp.target).first()
        merged = {(p["artifactId"], p["prefix"]): p for p in (existing.meta.get("plugins", []) if existing else [])}
        merged.update({(p["artifactId"], p["prefix"]): p for p in plugins if p.get("artifactId")})
        listed = sorted(merged.values(), key=lambda p: p["artifactId"])
        body = md.render({**md.empty(), "plugins": listed})
        with stage_bytes(body) as staged:
            blob = staged.commit()
        Asset.objects.update_or_create(repository=target, path=mp.target, defaults={
            "blob": blob, "package": "", "version": "", "content_type": "text/xml",
            "meta": {"kind": "plugins", "plugins": listed}, "uploaded_by": _user(request)})
