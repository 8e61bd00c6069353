"""Manifest endpoints: PUT / GET / HEAD / DELETE /v2/<name>/manifests/<tag or digest>.

PUT, in order: a 4 MiB cap (413); parse (MANIFEST_INVALID); digest of the exact bytes, which must
equal a digest reference (DIGEST_INVALID); every config/layer blob and every index entry must be
in this repository's image (MANIFEST_BLOB_UNKNOWN / MANIFEST_UNKNOWN, one error per digest;
`subject` is never checked, referrers may come first); an immutable tag may not move; the bytes
are stored verbatim and the tag set; 201 with Docker-Content-Digest and OCI-Subject.
GET/HEAD return the stored bytes and media type whatever the Accept header says.
"""
from __future__ import annotations

import hashlib

from django.http import HttpResponse

from formats.base import UpstreamMissing, UpstreamUnavailable, audit, base_url, etag_matches, members, read_blob

from . import remote, store
from .blobs import body_chunks
from .errors import API_VERSION, TAG, DockerError, body, check_digest
from .models import Tag
from .parse import MAX_MANIFEST_BYTES, parse


def check_reference(reference: str) -> str:
    if ":" in reference:
        return check_digest(reference)
    if not TAG.match(reference):
        raise DockerError(400, "TAG_INVALID", "invalid tag", {"tag": reference[:200]})
    return reference


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
    target = ctx.write_target()
    data = _read_body(ctx.request)
    parsed = parse(data, ctx.request.headers.get("Content-Type", ""))
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if ":" in reference and reference != digest:
        raise DockerError(400, "DIGEST_INVALID", f"the manifest's digest is {digest}", {"digest": reference})
    blobs, children = store.missing_references(target, ctx.image, parsed)
    if blobs or children:
        errors = [body("MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", {"digest": d}) for d in blobs]
        errors += [body("MANIFEST_UNKNOWN", "manifest unknown", {"digest": d}) for d in children]
        first = errors[0]
        raise DockerError(400, first["code"], first["message"], first["detail"], more=errors[1:])
    tag = None if ":" in reference else reference
    if tag and target.format_settings().get("immutable_tags"):
        current = Tag.objects.filter(repository=target, image=ctx.image, name=tag).select_related("manifest").first()
        if current is not None and current.manifest.digest != digest:
            audit.record(ctx.request, "docker.push", repository=target, path=f"{ctx.image}:{tag}", outcome="denied",
                         reason="immutable tag")
            raise DockerError(409, "TAG_INVALID", f"tag {tag} is immutable in repository {target.name}",
                              {"tag": tag, "digest": current.manifest.digest})
    manifest = store.save_manifest(target, ctx.image, digest, data, parsed, ctx.username)
    if tag:
        store.set_tag(target, ctx.image, tag, manifest)
    audit.record(ctx.request, "docker.push", repository=target, path=f"{ctx.image}:{tag}" if tag else f"{ctx.image}@{digest}",
                 digest=digest, media_type=parsed.media_type,
                 via=ctx.repository.name if ctx.repository.pk != target.pk else "")
    response = HttpResponse(status=201)
    response["Content-Length"] = "0"
    response["Location"] = f"{base_url(ctx.request)}/v2/{ctx.name}/manifests/{digest}"
    response["Docker-Content-Digest"] = digest
    for key, value in API_VERSION.items():
        response[key] = value
    if parsed.subject:
        response["OCI-Subject"] = parsed.subject
    return response


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
