"""twine's legacy upload (POST to the repository URL): validate, stream, verify, store, audit.

Steps, in order:
1. `deploy` on the repository the client named; the file lands in its deploy target
   (itself if local, `deploy_to` of a virtual; remote repositories refuse uploads);
2. Content-Length checked against PACKYARD_MAX_UPLOAD_BYTES before any byte is read, and an
   upload handler that stops the multipart parse past the limit (chunked bodies);
3. the form: action, name, version, filetype; the file name must parse and agree with them;
4. the file is staged in chunks (hashing while writing), sent digests are verified;
5. a wheel's METADATA is extracted and stored as its own Asset (`<file>.metadata`);
6. same file name already stored: identical bytes -> 200, different -> 400 "File already exists"
   (the reference index's answer; twine --skip-existing recognises it by the phrase).
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.files.uploadhandler import FileUploadHandler
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from packaging.version import InvalidVersion, Version

from formats.base import (
    Asset, DigestMismatch, HttpError, InvalidName, TooLarge, audit, check_path, write_target,
    stage_bytes, stage_chunks,
)

from . import metadata as md

CONTENT_TYPES = {".whl": "application/zip", ".zip": "application/zip", ".tar.gz": "application/gzip"}
# Room for the form fields around the file (descriptions can be long READMEs).
FORM_ALLOWANCE = 16 * 1024 * 1024


class _UploadTooLarge(Exception):
    pass


class _LimitHandler(FileUploadHandler):
    """Counts file bytes while Django parses the multipart body and stops past the limit."""

    def __init__(self, limit: int, request=None):
        super().__init__(request)
        self.limit = limit
        self.seen = 0

    def receive_data_chunk(self, raw_data, start):
        self.seen += len(raw_data)
        if self.seen > self.limit:
            raise _UploadTooLarge()
        return raw_data

    def file_complete(self, file_size):
        return None


def handle_upload(request, repository) -> HttpResponse:
    target = write_target(request, repository, "pypi.upload")
    try:
        return _store(request, repository, target)
    except HttpError as exc:
        audit.record(request, "pypi.upload", repository=target, outcome="invalid",
                     status=exc.status, message=exc.message)
        raise


def _store(request, repository, target) -> HttpResponse:
    limit = settings.PACKYARD_MAX_UPLOAD_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HttpError(400, "invalid Content-Length") from None
    if length > limit + FORM_ALLOWANCE:
        raise HttpError(413, f"upload exceeds the {limit}-byte limit")
    request.upload_handlers.insert(0, _LimitHandler(limit, request))
    try:
        form, upload = request.POST, request.FILES.get("content")
    except _UploadTooLarge:
        raise HttpError(413, f"upload exceeds the {limit}-byte limit") from None
    except RequestDataTooBig:
        raise HttpError(413, "form fields are too large") from None
    except (MultiPartParserError, TooManyFieldsSent) as exc:
        raise HttpError(400, f"malformed multipart body: {exc}") from None
    action = form.get(":action", "")
    if action != "file_upload":
        raise HttpError(400, f"unsupported :action {action!r} (only file_upload)" if action else "missing :action")
    name, version_text, filetype = form.get("name", "").strip(), form.get("version", "").strip(), form.get("filetype", "")
    if not md.valid_name(name):
        raise HttpError(400, f"invalid project name {name!r}")
    project = md.normalize(name)
    try:
        version = Version(version_text)
    except InvalidVersion:
        raise HttpError(400, f"invalid version {version_text!r}") from None
    if upload is None:
        raise HttpError(400, "missing file part 'content'")
    filename = upload.name or ""
    if not md.valid_filename(filename):
        raise HttpError(400, f"invalid file name {filename!r}")
    if filetype not in md.FILETYPES:
        raise HttpError(400, f"unsupported filetype {filetype!r} (sdist or bdist_wheel)")
    if not filename.endswith(md.FILETYPES[filetype]):
        raise HttpError(400, f"file name {filename} does not match filetype {filetype}")
    try:
        file_project, file_version = md.parse_filename(filename)
    except md.BadDistribution as exc:
        raise HttpError(400, str(exc)) from None
    if file_project != project:
        raise HttpError(400, f"file name {filename} does not belong to project {name}")
    if file_version != version:
        raise HttpError(400, f"file name {filename} does not match version {version_text}")
    path = f"files/{project}/{filename}"
    try:
        check_path(path)
    except InvalidName as exc:
        raise HttpError(400, str(exc)) from None
    try:
        staged = stage_chunks(upload.chunks(), max_bytes=limit)
    except TooLarge as exc:
        raise HttpError(413, str(exc)) from None
    with staged:
        try:
            staged.verify(sha256=form.get("sha256_digest"), md5=form.get("md5_digest"),
                          blake2b_256=form.get("blake2_256_digest"))
        except DigestMismatch as exc:
            raise HttpError(400, str(exc)) from None
        existing = _existing(target, path, staged)
        if existing is not None:
            audit.record(request, "pypi.upload", repository=target, path=path, identical=True)
            return existing
        core = None
        if filename.endswith(".whl"):
            try:
                core = md.wheel_metadata(staged.path, project)
            except md.BadDistribution as exc:
                raise HttpError(400, str(exc)) from None
        requires_python = " ".join(form.get("requires_python", "").split()) or (md.requires_python(core) if core else "")
        blob = staged.commit()
    meta = {
        "filename": filename, "requires_python": requires_python, "yanked": False,
        "summary": form.get("summary", "")[:512], "filetype": filetype,
        "md5": staged.hexdigests.get("md5", ""), "blake2b_256": staged.hexdigests.get("blake2b_256", ""),
    }
    core_blob = None
    if core is not None:
        with stage_bytes(core) as core_staged:
            core_blob = core_staged.commit()
        meta["core_metadata_sha256"] = core_blob.sha256
    user = request.packyard_user.get_username() if request.packyard_user.is_authenticated else ""
    ext = next(e for e in CONTENT_TYPES if filename.endswith(e))
    try:
        with transaction.atomic():
            Asset.objects.create(repository=target, path=path, blob=blob, package=project, version=version_text,
                                 content_type=CONTENT_TYPES[ext], meta=meta, uploaded_by=user)
            if core_blob is not None:
                Asset.objects.update_or_create(
                    repository=target, path=path + ".metadata",
                    defaults={"blob": core_blob, "package": project, "version": version_text,
                              "content_type": "text/plain; charset=utf-8", "meta": {"kind": "core-metadata"},
                              "uploaded_by": user},
                )
    except IntegrityError:
        # A concurrent upload of the same file name won the race; judge against what it stored.
        response = _existing(target, path, staged)
        if response is not None:
            return response
        raise
    audit.record(request, "pypi.upload", repository=target, path=path, sha256=blob.sha256, size=blob.size,
                 via=repository.name if repository.pk != target.pk else "")
    return HttpResponse("OK\n", content_type="text/plain; charset=utf-8")


def _existing(target, path: str, staged):
    asset = Asset.objects.filter(repository=target, path=path).select_related("blob").first()
    if asset is None:
        return None
    if asset.blob.sha256 == staged.sha256:
        return HttpResponse("OK (file already present with identical content)\n", content_type="text/plain; charset=utf-8")
    filename = path.rsplit("/", 1)[-1]
    blake = asset.meta.get("blake2b_256", "")
    raise HttpError(400, f"File already exists ('{filename}', with blake2_256 hash '{blake}'). "
                         "A file name can be used once; upload a new version instead.")
