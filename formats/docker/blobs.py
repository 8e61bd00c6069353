"""Blob endpoints: GET/HEAD/DELETE /v2/<name>/blobs/<digest>, uploads and cross-repository mounts.

Uploads (OCI 1.1 "push"), all ending in a blob linked into the image as an Asset:
- POST .../blobs/uploads/?digest=D with the whole blob: staged while hashing, verified, 201;
- POST .../blobs/uploads/?mount=D&from=OTHER: 201 when the caller may pull OTHER and it has the
  blob, else an ordinary session (202) as the spec asks;
- POST starts a session (an UploadSession row + a temp file), PATCH appends chunks (a chunked
  body with no Content-Length is read to EOF from wsgi.input; a Content-Range that does not
  start where the file ends is 416), GET tells the progress, PUT ?digest=D closes it (verified,
  DIGEST_INVALID on mismatch), DELETE cancels. Abandoned sessions are reaped by core GC.
Every PATCH hashes while writing, continuing the hash of the bytes before it when this process
holds it (`_running`), so neither docker's one-stream PATCH nor a chunked push needs a second
read of the file at PUT time; only a PATCH that lands on another worker than the one before it
makes the PUT re-read the file.
A HEAD that finds a blob restarts its link's GC grace period (store.confirm_link): a push that
skips the blob relies on the link until its manifest arrives. A blob DELETE holds the image lock.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
import uuid
from collections import OrderedDict

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

from artifacts.ingest import CHUNK, iter_file, temp_dir
from artifacts.locks import named_lock
from artifacts.models import Blob, UploadSession
from formats.base import (
    ChunkedError, DigestMismatch, FlushBehind, Staged, TooLarge, UpstreamMissing, UpstreamUnavailable, audit, base_url, find_repository,
    fast_chunks, members, serve_blob, stage_chunks,
)

from . import auth, remote, store
from .errors import API_VERSION, DockerError, check_digest, check_name

# At most 19 ASCII digits (every offset below 10**19): a longer number is no upload offset, and
# int() of more than 4300 digits raises ValueError, which was a 500. It now fails to match: 416.
_RANGE = re.compile(r"^(?:bytes[ =])?([0-9]{1,19})-([0-9]{1,19})$")

# sha256 states of open uploads whose bytes all went through this process, by session id, with
# the byte count each covers. Python cannot save a hash state to resume elsewhere, but a client
# sends its PATCHes on one kept-alive connection, so usually to the same worker. Bounded: a
# forgotten entry costs only a re-read at PUT.
_RUNNING: OrderedDict[str, tuple[int, "hashlib._Hash"]] = OrderedDict()
_RUNNING_MAX = 256
_RUNNING_LOCK = threading.Lock()


def _running(session_id: str, size: int):
    """This process's hash of exactly the first `size` bytes of the upload, taken out; or None."""
    with _RUNNING_LOCK:
        held = _RUNNING.pop(session_id, None)
    if size == 0:
        return hashlib.sha256()
    return held[1] if held and held[0] == size else None


def _forget(session_id: str) -> None:
    with _RUNNING_LOCK:
        _RUNNING.pop(session_id, None)


def _keep_running(session_id: str, size: int, hasher) -> None:
    with _RUNNING_LOCK:
        _RUNNING[session_id] = (size, hasher)
        while len(_RUNNING) > _RUNNING_MAX:
            _RUNNING.popitem(last=False)


def resolve_blob(repository, image: str, digest: str, missing=()):
    """The first member's Asset holding the blob (remote members fetch it), or None.

    `missing`: pks of remote members whose upstream just answered that it has no such blob.
    """
    unavailable = []
    for member in members(repository):
        asset = store.find_blob(member, image, digest)
        if asset is not None:
            return asset
        if member.kind == "remote" and member.pk not in missing:
            try:
                return remote.blob(member, image, digest)
            except UpstreamMissing:
                continue
            except UpstreamUnavailable as exc:
                unavailable.append(f"{member.name}: {exc}")
    if unavailable:
        raise DockerError(502, "UNAVAILABLE", "upstream unavailable (" + "; ".join(unavailable) + ")")
    return None


def _stream_from_remote(ctx, digest: str, missing: set):
    """A response streaming the blob from the first remote member that must fetch it, or None.

    Adds to `missing` the remote members whose upstream lacks the blob, so that resolve_blob does
    not ask them again.
    """
    for member in members(ctx.repository):
        if store.find_blob(member, ctx.image, digest) is not None:
            return None
        if member.kind != "remote":
            continue
        try:
            streamed = remote.stream_blob(member, ctx.image, digest)
        except UpstreamMissing:
            missing.add(member.pk)
            continue
        except UpstreamUnavailable:
            return None  # resolve_blob reports it, or finds a later member
        if streamed is None:
            return None  # fetched by another request meanwhile: serve it from storage
        tee, size = streamed
        response = StreamingHttpResponse(tee, content_type="application/octet-stream")
        if size is not None:
            response["Content-Length"] = str(size)
        for key, value in {**API_VERSION, "Docker-Content-Digest": digest}.items():
            response[key] = value
        return response
    return None


def get_blob(ctx, digest: str) -> HttpResponse:
    check_digest(digest)
    missing: set = set()
    if ctx.request.method == "GET" and ctx.repository.kind != "local":
        streamed = _stream_from_remote(ctx, digest, missing)
        if streamed is not None:
            return streamed
    asset = resolve_blob(ctx.repository, ctx.image, digest, missing)
    # A HEAD is how a push learns it may skip a blob; the link must then outlive GC's grace
    # period until the manifest arrives (store.confirm_link). GETs are pulls: untouched.
    if asset is None or (ctx.request.method == "HEAD" and not store.confirm_link(asset)):
        raise DockerError(404, "BLOB_UNKNOWN", "blob unknown to registry", {"digest": digest})
    return serve_blob(ctx.request, asset.blob, extra_headers={"Docker-Content-Digest": digest, **API_VERSION})


def delete_blob(ctx, digest: str) -> HttpResponse:
    check_digest(digest)
    target = ctx.write_target()
    with store.image_lock(target.pk, ctx.image):  # not between a push's link check and its save
        asset = store.find_blob(target, ctx.image, digest)
        if asset is None:
            raise DockerError(404, "BLOB_UNKNOWN", "blob unknown to registry", {"digest": digest})
        asset.delete()
    audit.record(ctx.request, "docker.blob.delete", repository=target, path=store.blob_path(ctx.image, digest))
    return _empty(202, {"Docker-Content-Digest": digest})


def _empty(status: int, headers: dict) -> HttpResponse:
    response = HttpResponse(status=status)
    response["Content-Length"] = "0"
    for key, value in {**API_VERSION, **headers}.items():
        response[key] = value
    return response


def _blob_created(ctx, digest: str) -> HttpResponse:
    return _empty(201, {"Location": f"{base_url(ctx.request)}/v2/{ctx.name}/blobs/{digest}",
                        "Docker-Content-Digest": digest})


def body_chunks(request):
    """The request body in chunks: Content-Length bytes, or a chunked body read to EOF."""
    length = request.META.get("CONTENT_LENGTH")
    if length not in (None, ""):
        try:
            remaining = int(length)
        except ValueError:
            raise DockerError(400, "SIZE_INVALID", "invalid Content-Length") from None
        while remaining > 0:
            chunk = request.read(min(CHUNK, remaining))
            if not chunk:
                raise DockerError(400, "SIZE_INVALID", "the body ended before Content-Length bytes")
            remaining -= len(chunk)
            yield chunk
        return
    if "chunked" not in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return  # neither a length nor chunked: HTTP says the body is empty
    fast = fast_chunks(request)
    if fast is not None:
        try:
            yield from fast
        except ChunkedError as exc:
            raise DockerError(400, "BLOB_UPLOAD_INVALID", f"malformed chunked body: {exc}") from None
        return
    # Django sizes request.body from CONTENT_LENGTH and would read nothing of a chunked body.
    stream = request.environ["wsgi.input"]
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        yield chunk


def start_upload(ctx) -> HttpResponse:
    target = ctx.write_target()
    query = ctx.request.GET
    if query.get("mount"):
        mounted = _mount(ctx, target, query["mount"], query.get("from", ""))
        if mounted is not None:
            return mounted
    digest = query.get("digest")
    if digest:
        check_digest(digest)
        try:
            staged = stage_chunks(body_chunks(ctx.request), algorithms=("sha256",))
        except TooLarge as exc:
            raise DockerError(413, "SIZE_INVALID", str(exc)) from None
        with staged:
            try:
                staged.verify(sha256=digest.split(":", 1)[1])
            except DigestMismatch as exc:
                raise DockerError(400, "DIGEST_INVALID", str(exc), {"digest": digest}) from None
            blob = staged.commit()
        store.link_blob(target, ctx.image, blob, ctx.username)
        return _blob_created(ctx, digest)
    session_id = uuid.uuid4().hex
    path = os.path.join(temp_dir(), f"docker-upload-{session_id}")
    open(path, "wb").close()
    UploadSession.objects.create(id=session_id, repository=target.name, temp_path=path, size=0,
                                 state={"image": ctx.image, "user": ctx.username, "hashed": 0, "sha256": ""})
    return _session_response(ctx, 202, session_id, 0)


def _mount(ctx, target, digest: str, source_name: str):
    try:
        check_digest(digest)
        repo_name, image = check_name(auth.strip_host(source_name))
    except DockerError:
        return None
    source = find_repository(repo_name, "docker")
    if source is None or not auth.allowed(ctx.principal, "pull", source, f"{repo_name}/{image}"):
        return None  # not readable by the caller: an ordinary upload, never a hint it exists
    asset = next((a for a in (store.find_blob(m, image, digest) for m in members(source)) if a is not None), None)
    if asset is None:
        return None
    # Under the lock GC holds to delete a blob: once linked here the blob is referenced again and
    # GC's re-check keeps it; if GC took it since the lookup, the client uploads it instead.
    with named_lock(f"blob:{asset.blob.pk}"):
        if not Blob.objects.filter(pk=asset.blob.pk).exists():
            return None
        store.link_blob(target, ctx.image, asset.blob, ctx.username)
    audit.record(ctx.request, "docker.blob.mount", repository=target, path=store.blob_path(ctx.image, digest),
                 source=f"{repo_name}/{image}")
    return _blob_created(ctx, digest)


def _session_headers(ctx, session_id: str, size: int) -> dict:
    return {"Location": f"{base_url(ctx.request)}/v2/{ctx.name}/blobs/uploads/{session_id}",
            "Range": f"0-{max(size - 1, 0)}", "Docker-Upload-UUID": session_id}


def _session_response(ctx, status: int, session_id: str, size: int) -> HttpResponse:
    return _empty(status, _session_headers(ctx, session_id, size))


def _session(ctx, target, session_id: str) -> UploadSession:
    session = UploadSession.objects.filter(id=session_id).first() if re.fullmatch(r"[0-9a-f]{32}", session_id) else None
    if session is None or session.repository != target.name or (session.state or {}).get("image") != ctx.image:
        raise DockerError(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", {"uuid": session_id[:64]})
    if not os.path.exists(session.temp_path):
        session.delete()
        raise DockerError(404, "BLOB_UPLOAD_INVALID", "the upload's data is gone; start again")
    return session


def _append(ctx, session: UploadSession) -> None:
    request = ctx.request
    content_range = request.headers.get("Content-Range")
    expected = None
    if content_range:
        match = _RANGE.match(content_range.strip())
        if not match or int(match.group(1)) != session.size or int(match.group(2)) < int(match.group(1)):
            raise DockerError(416, "RANGE_INVALID", f"the next chunk must start at byte {session.size}",
                              headers=_session_headers(ctx, session.id, session.size))
        expected = int(match.group(2)) - int(match.group(1)) + 1
        length = request.META.get("CONTENT_LENGTH")
        if length not in (None, "") and length != str(expected):
            raise DockerError(400, "SIZE_INVALID", "Content-Length does not match Content-Range")
    limit = settings.PACKYARD_MAX_UPLOAD_BYTES
    state = dict(session.state or {})
    hasher = _running(session.id, session.size)
    received = 0
    with open(session.temp_path, "ab") as out:
        behind = FlushBehind(out.fileno())  # the closing PUT's fsync then has only the tail to write
        try:
            for chunk in body_chunks(request):
                received += len(chunk)
                if session.size + received > limit:
                    raise DockerError(413, "SIZE_INVALID", f"blob exceeds the {limit}-byte upload limit")
                if hasher is not None:
                    hasher.update(chunk)
                out.write(chunk)
                behind.wrote(len(chunk))
            if expected is not None and received != expected:
                raise DockerError(400, "SIZE_INVALID", f"received {received} bytes, Content-Range said {expected}")
        except BaseException:
            # A chunk that failed half-way (a dropped connection, a bad length) is not part of the
            # upload: cut the file back so the client can resume from the Range it was last told.
            out.flush()
            out.truncate(session.size)
            raise
        finally:
            behind.finish()  # before the file is closed
    if received:
        session.size += received
    if hasher is not None:
        state.update(hashed=session.size, sha256=hasher.hexdigest())
        _keep_running(session.id, session.size, hasher)
    session.state = state
    session.updated = timezone.now()
    session.save(update_fields=["size", "state", "updated"])


def upload(ctx, session_id: str) -> HttpResponse:
    """PATCH / PUT / GET / DELETE on an upload session."""
    target = ctx.write_target()
    method = ctx.request.method
    with named_lock(f"docker-upload:{session_id[:64]}", timeout=600, ttl=3600):
        session = _session(ctx, target, session_id)
        if method in ("GET", "HEAD"):
            return _session_response(ctx, 204, session.id, session.size)
        if method == "DELETE":
            _forget(session.id)
            os.unlink(session.temp_path)
            session.delete()
            return _empty(204, {"Docker-Upload-UUID": session.id})
        if method == "PATCH":
            _append(ctx, session)
            return _session_response(ctx, 202, session.id, session.size)
        if method == "PUT":
            return _finish(ctx, target, session)
    raise DockerError(405, "UNSUPPORTED", f"{method} is not allowed on an upload",
                      headers={"Allow": "GET, PATCH, PUT, DELETE"})


def _finish(ctx, target, session: UploadSession) -> HttpResponse:
    digest = ctx.request.GET.get("digest", "")
    try:
        check_digest(digest)
    except DockerError:
        _discard(session)
        raise
    _append(ctx, session)
    _forget(session.id)
    state = session.state or {}
    if state.get("hashed") == session.size and state.get("sha256"):
        hexdigest = state["sha256"]
    else:
        hasher = hashlib.sha256()
        with open(session.temp_path, "rb") as fh:
            for chunk in iter_file(fh):
                hasher.update(chunk)
        hexdigest = hasher.hexdigest()
    if f"sha256:{hexdigest}" != digest:
        _discard(session)
        raise DockerError(400, "DIGEST_INVALID", f"the uploaded bytes have digest sha256:{hexdigest}",
                          {"digest": digest})
    with open(session.temp_path, "rb+") as fh:
        os.fsync(fh.fileno())  # durable before a database row names it
    staged = Staged(session.temp_path, session.size, {"sha256": hexdigest})
    with staged:
        blob = staged.commit()
    session.delete()
    store.link_blob(target, ctx.image, blob, state.get("user", ctx.username))
    return _blob_created(ctx, digest)


def _discard(session: UploadSession) -> None:
    _forget(session.id)
    if os.path.exists(session.temp_path):
        os.unlink(session.temp_path)
    session.delete()
