"""Listings: tags of an image (n/last pagination, Link), the catalog, and the referrers API.

Tags are sorted lexically and `tags` is always a list. A virtual repository lists the union of
its members' tags; a remote one the upstream's list (its cached tags when the upstream is
down). The catalog lists `REPO/IMAGE` for every Docker repository the caller may read, narrowed
to its API token's scopes when it uses one (a virtual shows its members' images under its own
name). Referrers are the manifests whose `subject` is the digest, as an OCI index; unknown
subjects give an empty index, not a 404.
"""
from __future__ import annotations

import json
import re
from urllib.parse import urlencode

from django.db.models import Q
from django.http import HttpResponse

from formats.base import Repository, members
from repositories.permissions import readable

from . import remote
from .errors import API_VERSION, DockerError, check_digest
from .models import Manifest, Tag
from .parse import IMAGE_TYPES, OCI_INDEX


def _json(payload: dict, content_type: str = "application/json", headers: dict | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(payload), content_type=content_type)
    for key, value in {**API_VERSION, **(headers or {})}.items():
        response[key] = value
    return response


_PAGE_SIZE = re.compile(r"[0-9]{1,18}")


def _page(request, items: list[str], path: str) -> tuple[list[str], dict]:
    """Apply n/last to a sorted list; a Link header when more follow."""
    last = request.GET.get("last", "")
    if last:
        items = [i for i in items if i > last]
    n_text = request.GET.get("n")
    if n_text is None or n_text == "":
        return items, {}
    # ASCII digits only, at most 18 of them: str.isdigit() also takes '²', which int() refuses,
    # and int() refuses more than 4,300 digits; both were 500s.
    if not _PAGE_SIZE.fullmatch(n_text):
        raise DockerError(400, "PAGINATION_NUMBER_INVALID", "n must be a non-negative integer", {"n": n_text[:50]})
    n = int(n_text)
    if n == 0:
        return [], {}
    page = items[:n]
    headers = {}
    if len(items) > n:
        headers["Link"] = f'<{path}?{urlencode({"n": n, "last": page[-1]})}>; rel="next"'
    return page, headers


def tags_list(ctx) -> HttpResponse:
    names: set[str] = set()
    known = False
    for member in members(ctx.repository):
        local = set(Tag.objects.filter(repository=member, image=ctx.image).values_list("name", flat=True))
        if member.kind == "remote":
            upstream = remote.tags(member, ctx.image)
            if upstream is not None:
                local = set(upstream)
                known = True
        known = known or bool(local) or Manifest.objects.filter(repository=member, image=ctx.image).exists()
        names |= local
    if not known:
        raise DockerError(404, "NAME_UNKNOWN", "repository name not known to registry", {"name": ctx.name})
    page, headers = _page(ctx.request, sorted(names), f"/v2/{ctx.name}/tags/list")
    return _json({"name": ctx.name, "tags": page}, headers=headers)


def catalog(request, principal) -> HttpResponse:
    # Through an API token (Basic, or a JWT issued for one) only what the token may read is listed:
    # the owner's rights narrowed to the token's repositories.
    repos = readable(principal.user, Repository.objects.filter(format="docker"), token=principal.api_token)
    names: set[str] = set()
    for repo in repos:
        for member in members(repo):
            images = Manifest.objects.filter(repository=member).values_list("image", flat=True).distinct()
            names.update(f"{repo.name}/{image}" for image in images)
    page, headers = _page(request, sorted(names), "/v2/_catalog")
    return _json({"repositories": page}, headers=headers)


def referrers(ctx, digest: str) -> HttpResponse:
    check_digest(digest)
    wanted = ctx.request.GET.get("artifactType", "")
    rows = Manifest.objects.filter(Q(repository__in=members(ctx.repository)), image=ctx.image, subject_digest=digest)
    entries, seen = [], set()
    for manifest in rows.order_by("created", "digest"):
        if manifest.digest in seen:
            continue
        seen.add(manifest.digest)
        artifact_type = manifest.artifact_type or (manifest.config_media_type if manifest.media_type in IMAGE_TYPES else "")
        if wanted and artifact_type != wanted:
            continue
        entry = {"mediaType": manifest.media_type, "digest": manifest.digest, "size": manifest.size}
        if artifact_type:
            entry["artifactType"] = artifact_type
        if manifest.annotations:
            entry["annotations"] = manifest.annotations
        entries.append(entry)
    headers = {"OCI-Filters-Applied": "artifactType"} if wanted else {}
    return _json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, OCI_INDEX, headers)
