"""Manifest endpoints: PUT / GET / HEAD / DELETE /v2/<name>/manifests/<tag or digest>.

PUT, in order: the reference and any `?tag=` parameters (TAG_INVALID; tag parameters only with a
digest reference, at most MAX_TAGS); a 4 MiB cap (413); parse (MANIFEST_INVALID); digest of the
exact bytes, which must equal a digest reference (DIGEST_INVALID); every config/layer blob and
every index entry must be in this repository's image (MANIFEST_BLOB_UNKNOWN / MANIFEST_UNKNOWN,
one error per digest; `subject` is never checked, referrers may come first); no immutable tag
may move (409, and then no tag is set); the bytes are stored verbatim and the tags set; 201 with
Docker-Content-Digest, OCI-Subject, and OCI-Tag listing the tags a `?tag=` push applied. The
steps from the blob check to the tags hold the image lock (store.image_lock), as DELETE does.
GET/HEAD return the stored bytes and media type whatever the Accept header says.
"""
from __future__ import annotations

import hashlib

from django.db import transaction
from django.http import HttpResponse

from formats.base import UpstreamMissing, UpstreamUnavailable, audit, base_url, etag_matches, members, read_blob

from . import remote, store
from .blobs import body_chunks
from .errors import API_VERSION, TAG, DockerError, body, check_digest
from .models import Tag
from .parse import MAX_MANIFEST_BYTES, parse


# The spec asks for at least 10; a cap bounds the rows and audit events one request can write.
MAX_TAGS = 100


def check_reference(reference: str) -> str:
    if ":" in reference:
        return check_digest(reference)
    return check_tag(reference)


def check_tag(tag: str) -> str:
    if not TAG.match(tag):
        raise DockerError(400, "TAG_INVALID", "invalid tag", {"tag": tag[:200]})
    return tag


def requested_tags(request, reference: str) -> list[str]:
    """The tags a PUT sets: the tag reference, or the `?tag=` parameters of a digest push (OCI end-7b).

    All are validated before anything is stored, so one bad tag leaves the repository unchanged.
    """
    extra = request.GET.getlist("tag")
    if ":" not in reference:
        if extra:
            # The spec defines tag parameters only for pushes by digest; a 201 that skipped them
            # would leave tags unset that the client asked for.
            raise DockerError(400, "UNSUPPORTED", "tag parameters are accepted only when pushing by digest",
                              {"reference": reference[:200]})
        return [reference]
    tags = list(dict.fromkeys(extra))
    if len(tags) > MAX_TAGS:
        raise DockerError(414, "UNSUPPORTED", f"at most {MAX_TAGS} tag parameters per request")
    for tag in tags:
        check_tag(tag)
    return tags


def resolve(repository, image: str, reference: str):
    """The first member's Manifest for the reference (remote members ask their upstream), or None."""
    unavailable = []
    for member in members(repository):
        if member.kind == "remote":
            try:
                return remote.manifest(member, image, reference)
            except UpstreamMissing:
                continue
            except UpstreamUnavailable as exc:
                unavailable.append(f"{member.name}: {exc}")
                continue
        found = store.find_manifest(member, image, reference)
        if found is not None:
            return found
    if unavailable:
        raise DockerError(502, "UNAVAILABLE", "upstream unavailable (" + "; ".join(unavailable) + ")")
    return None


def get_manifest(ctx, reference: str) -> HttpResponse:
    check_reference(reference)
    manifest = resolve(ctx.repository, ctx.image, reference)
    if manifest is None:
        raise DockerError(404, "MANIFEST_UNKNOWN", "manifest unknown", {"name": ctx.name, "reference": reference})
    headers = {**API_VERSION, "Docker-Content-Digest": manifest.digest, "ETag": f'"{manifest.digest}"'}
    if etag_matches(ctx.request, headers["ETag"]):
        response = HttpResponse(status=304)
    elif ctx.request.method == "HEAD":
        response = HttpResponse(content_type=manifest.media_type)
        response["Content-Length"] = str(manifest.size)
    else:
        data = read_blob(manifest.blob)
        response = HttpResponse(data, content_type=manifest.media_type)
        response["Content-Length"] = str(len(data))
    for key, value in headers.items():
        response[key] = value
    return response


def _read_body(request) -> bytes:
    length = request.META.get("CONTENT_LENGTH")
    if length and length.isdigit() and int(length) > MAX_MANIFEST_BYTES:
        raise DockerError(413, "SIZE_INVALID", f"manifests are limited to {MAX_MANIFEST_BYTES} bytes")
    data = bytearray()
    for chunk in body_chunks(request):
        data += chunk
        if len(data) > MAX_MANIFEST_BYTES:
            raise DockerError(413, "SIZE_INVALID", f"manifests are limited to {MAX_MANIFEST_BYTES} bytes")
    return bytes(data)


def put_manifest(ctx, reference: str) -> HttpResponse:
    check_reference(reference)
    tags = requested_tags(ctx.request, reference)
    target = ctx.write_target()
    data = _read_body(ctx.request)
    parsed = parse(data, ctx.request.headers.get("Content-Type", ""))
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if ":" in reference and reference != digest:
        raise DockerError(400, "DIGEST_INVALID", f"the manifest's digest is {digest}", {"digest": reference})
    # From the link check to the saved references, under the image lock that delete_manifest and
    # GC hold while they unlink (store's module doc): otherwise a layer checked here could be
    # unlinked before the save, leaving a stored manifest whose layer is BLOB_UNKNOWN. The tags
    # are set inside too, so an immutable tag's check and its move cannot interleave either.
    with store.image_lock(target.pk, ctx.image):
        blobs, children = store.missing_references(target, ctx.image, parsed)
        if blobs or children:
            errors = [body("MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", {"digest": d}) for d in blobs]
            errors += [body("MANIFEST_UNKNOWN", "manifest unknown", {"digest": d}) for d in children]
            first = errors[0]
            raise DockerError(400, first["code"], first["message"], first["detail"], more=errors[1:])
        if tags and target.format_settings().get("immutable_tags"):
            _refuse_moves(ctx, target, tags, digest)
        manifest = store.save_manifest(target, ctx.image, digest, data, parsed, ctx.username)
        with transaction.atomic():  # all of a multi-tag push's tags, or none of them
            for tag in tags:
                store.set_tag(target, ctx.image, tag, manifest)
    via = ctx.repository.name if ctx.repository.pk != target.pk else ""
    for path in [f"{ctx.image}:{tag}" for tag in tags] or [f"{ctx.image}@{digest}"]:
        audit.record(ctx.request, "docker.push", repository=target, path=path, digest=digest,
                     media_type=parsed.media_type, via=via)
    response = HttpResponse(status=201)
    response["Content-Length"] = "0"
    response["Location"] = f"{base_url(ctx.request)}/v2/{ctx.name}/manifests/{digest}"
    response["Docker-Content-Digest"] = digest
    for key, value in API_VERSION.items():
        response[key] = value
    if parsed.subject:
        response["OCI-Subject"] = parsed.subject
    if tags and ":" in reference:
        # One field with a comma-separated list equals one field per tag (RFC 9110, 5.3); tags
        # cannot contain commas.
        response["OCI-Tag"] = ", ".join(tags)
    return response


def _refuse_moves(ctx, target, tags: list[str], digest: str) -> None:
    """409 naming every tag that already points at other content; one denied audit event each."""
    current = {t.name: t for t in Tag.objects.filter(repository=target, image=ctx.image, name__in=tags)
               .select_related("manifest")}
    moved = [current[name] for name in tags if name in current and current[name].manifest.digest != digest]
    if not moved:
        return
    for tag in moved:
        audit.record(ctx.request, "docker.push", repository=target, path=f"{ctx.image}:{tag.name}",
                     outcome="denied", reason="immutable tag")
    errors = [body("TAG_INVALID", f"tag {t.name} is immutable in repository {target.name}",
                   {"tag": t.name, "digest": t.manifest.digest}) for t in moved]
    first = errors[0]
    raise DockerError(409, first["code"], first["message"], first["detail"], more=errors[1:])


def delete_manifest(ctx, reference: str) -> HttpResponse:
    check_reference(reference)
    target = ctx.write_target()
    if ":" in reference:
        found = store.delete_manifest(target, ctx.image, reference)
    else:
        found = store.delete_tag(target, ctx.image, reference)
    if not found:
        raise DockerError(404, "MANIFEST_UNKNOWN", "manifest unknown", {"name": ctx.name, "reference": reference})
    audit.record(ctx.request, "docker.delete", repository=target, path=f"{ctx.image}{'@' if ':' in reference else ':'}{reference}")
    response = HttpResponse(status=202)
    response["Content-Length"] = "0"
    for key, value in API_VERSION.items():
        response[key] = value
    return response
