"""dist-tags (`-/package/<name>/dist-tags[/<tag>]`), search (`-/v1/search`) and audit forwarding.

dist-tags are read through the merged view (a virtual shows the first member's tags) and written
to the deploy target. Audit requests (`-/npm/v1/security/advisories/bulk` and
`.../audits/quick`, often gzip-encoded) go to the remote members' upstreams in order; the first
200 JSON answer is returned, else `{}`, which npm reports as "no advisories" without failing.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone as tz

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import JsonResponse

from formats.base import Asset, HttpError, audit, members, require, upstream_url

from . import body as bodies, docs, names, packument
from .models import NpmPackage
from .publish import target_of

AUDIT_LIMIT = 32 * 1024 * 1024


def dist_tags(request, repository, name: str, tag: str | None):
    names.check_name(name)
    if request.method in ("GET", "HEAD"):
        if tag is not None:
            raise HttpError(405, "GET the dist-tags map", {"Allow": "GET, PUT, DELETE"})
        require(request, "read", repository)
        doc = packument.merged(packument.state_of(repository, name))
        if doc is None:
            raise HttpError(404, "Not found")
        return JsonResponse(doc["dist-tags"])
    if tag is None or not names.TAG.match(tag) or names.looks_like_range(tag):
        raise HttpError(400, f"invalid dist-tag {tag!r}: tags may not look like versions or ranges")
    if request.method in ("PUT", "POST"):
        target = target_of(request, repository, "deploy", "npm.dist-tag")
        version = bodies.read_json(request, 64 * 1024)
        if not isinstance(version, str):
            raise HttpError(400, 'send the version as a JSON string, e.g. "1.0.0"')
        with transaction.atomic():
            record = _record(target, name)
            if not Asset.objects.filter(repository=target, package=name, version=version).exists():
                raise HttpError(404, f"version not found: {name}@{version}")
            record.dist_tags = {**record.dist_tags, tag: version}
            record.rev += 1
            record.save()
        audit.record(request, "npm.dist-tag", repository=target, path=name, tag=tag, version=version)
        return JsonResponse(record.dist_tags, status=201)
    if request.method == "DELETE":
        target = target_of(request, repository, "deploy", "npm.dist-tag")
        if tag == "latest":
            raise HttpError(400, "the latest tag cannot be removed")
        with transaction.atomic():
            record = _record(target, name)
            if tag not in record.dist_tags:
                raise HttpError(404, f"no dist-tag {tag} on {name}")
            record.dist_tags = {t: v for t, v in record.dist_tags.items() if t != tag}
            record.rev += 1
            record.save()
        audit.record(request, "npm.dist-tag", repository=target, path=name, tag=tag, removed=True)
        return JsonResponse(record.dist_tags)
    raise HttpError(405, f"{request.method} is not allowed here", {"Allow": "GET, PUT, DELETE"})


def _record(target, name: str):
    record = NpmPackage.objects.select_for_update().filter(repository=target, name=name).first()
    if record is None:
        raise HttpError(404, "Not found")
    return record


def search(request, repository):
    require(request, "read", repository)
    text = request.GET.get("text", "").strip().lower()
    words = [w for w in text.split() if ":" not in w]
    try:
        size = max(1, min(int(request.GET.get("size", 20)), 250))
        start = max(0, int(request.GET.get("from", 0)))
    except ValueError:
        raise HttpError(400, "size and from are numbers") from None
    repos = members(repository)
    query = Q(repository__in=repos) & ~Q(package="")
    for word in words:
        query &= Q(package__icontains=word)
    found = sorted(set(Asset.objects.filter(query).values_list("package", flat=True)))
    objects = []
    for name in found[start:start + size]:
        doc = docs.merge([docs.local_doc(m, name) for m in repos if m.kind == "local"])
        if doc is None:
            continue
        latest = doc["dist-tags"].get("latest", "")
        manifest = doc["versions"].get(latest, {})
        objects.append({"package": {
            "name": name, "version": latest, "description": doc["info"].get("description") or manifest.get("description", ""),
            "keywords": manifest.get("keywords") or [], "date": doc["time"].get(latest, doc["time"].get("modified", "")),
            "links": {}, "publisher": {"username": (manifest.get("_npmUser") or {}).get("name", "")},
            "maintainers": [],
        }, "score": {"final": 1.0, "detail": {"quality": 1.0, "popularity": 1.0, "maintenance": 1.0}},
            "searchScore": 1.0})
    return JsonResponse({"objects": objects, "total": len(found), "time": datetime.now(tz.utc).strftime("%a %b %d %Y %H:%M:%S GMT+0000")})


def security(request, repository, endpoint: str):
    """Forward an audit request to the remote members' upstreams; `{}` when none answers."""
    require(request, "read", repository)
    try:
        data = bodies.read_bytes(request, AUDIT_LIMIT)
    except HttpError:
        return JsonResponse({})
    for member in members(repository):
        if member.kind != "remote" or not member.upstream_url:
            continue
        url = upstream_url(member, f"-/npm/v1/security/{endpoint}")
        auth = (member.upstream_username, member.upstream_password) if member.upstream_username else None
        try:
            answer = requests.post(url, data=data, headers={"Content-Type": "application/json", "User-Agent": "packyard"},
                                   auth=auth, timeout=(10, settings.PACKYARD_UPSTREAM_TIMEOUT))
            if answer.status_code == 200:
                return JsonResponse(json.loads(answer.content), safe=False)
        except (requests.RequestException, ValueError):
            continue
    return JsonResponse({})
