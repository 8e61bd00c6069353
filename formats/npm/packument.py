"""Packument views: `GET <name>` (full or abbreviated) and `GET <name>/<version>`, with ETag, 304 and documents served from disk.

Serving steps:
1. `read` on the repository the client asked (a virtual's members' grants are not consulted);
2. the state: row aggregates of the local members + the cached packument of each remote member
   (fetched when its TTL ran out); it gives the ETag. The dependency-confusion guard drops the
   remote members when a local member holds the package name or any package of its scope;
3. If-None-Match -> 304; else the document rendered for that ETag and representation is sent from
   disk by sendfile (`respond_document`), built from rows on a miss. Tarball URLs always point at the repository the client asked.
`?write=true` (before deprecate/unpublish) always builds the full document afresh.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from django.db.models import Q
from django.http import HttpResponse

from formats.base import (
    Asset, HttpError, UpstreamMissing, UpstreamUnavailable, members, package_summary, repository_url, require,
    respond_document,
)

from . import docs, names, remote
from .models import NpmPackage

CORGI = "application/vnd.npm.install-v1+json"
ABBREVIATED_FIELDS = ("name", "version", "dependencies", "optionalDependencies", "devDependencies", "peerDependencies",
                      "peerDependenciesMeta", "bundleDependencies", "acceptDependencies", "bin", "directories",
                      "engines", "os", "cpu", "libc", "deprecated", "hasInstallScript", "_hasShrinkwrap", "funding",
                      "license", "dist")
INSTALL_SCRIPTS = ("preinstall", "install", "postinstall")


@dataclass
class State:
    repository: object
    name: str
    members: list
    local_has: bool = False
    cached: dict = field(default_factory=dict)  # remote member pk -> Cached packument
    unavailable: list = field(default_factory=list)
    etag_parts: list = field(default_factory=list)

    def etag(self, *extra) -> str:
        raw = json.dumps([*self.etag_parts, *extra], default=str, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:40]


def guard_enabled(repository) -> bool:
    return bool(repository.format_settings().get("dependency_confusion_guard", True))


def local_claims(local_members: list, name: str) -> bool:
    """Does a local member hold this name, or (for a scoped name) anything in its scope?"""
    if not local_members:
        return False
    scope = names.scope_of(name)
    match = Q(package__startswith=scope + "/") if scope else Q(package=name)
    if Asset.objects.filter(match, repository__in=local_members).exists():
        return True
    rows = Q(name__startswith=scope + "/") if scope else Q(name=name)
    return NpmPackage.objects.filter(rows, repository__in=local_members).exists()


def state_of(repository, name: str) -> State:
    repos = members(repository)
    state = State(repository, name, repos)
    local = [m for m in repos if m.kind == "local"]
    files = package_summary([m.pk for m in repos], name, [m.pk for m in local])
    # The package's own row (dist-tags, deprecations) changes without a file changing.
    rec = {"n": 0, "modified": None}
    if local:
        row = NpmPackage.objects.filter(repository__in=local, name=name).order_by("-modified").values_list(
            "modified", flat=True)
        stamps = list(row)
        rec = {"n": len(stamps), "modified": stamps[0] if stamps else None}
    state.local_has = files.local_files > 0 or rec["n"] > 0
    # The guard matters only when a remote member could offer the name: skip its queries otherwise.
    skip_remotes = (repository.kind == "virtual" and any(m.kind == "remote" for m in repos)
                    and guard_enabled(repository) and local_claims(local, name))
    state.etag_parts = [repository.pk, repository.created, [m.pk for m in repos], skip_remotes, files.files,
                        files.last_id, files.modified, rec["n"], rec["modified"]]
    for member in repos:
        if member.kind != "remote" or skip_remotes:
            continue
        try:
            state.cached[member.pk] = cached = remote.fetch(member, name)
        except UpstreamMissing:
            state.etag_parts.append([member.pk, "missing"])
            continue
        except UpstreamUnavailable:
            state.unavailable.append(member)
            state.etag_parts.append([member.pk, "unavailable"])
            continue
        state.etag_parts.append([member.pk, cached.blob.sha256])
    return state


def merged(state: State) -> dict | None:
    out = []
    for member in state.members:
        if member.kind == "remote":
            if member.pk in state.cached:
                out.append(remote.doc(member, state.name, state.cached[member.pk]))
        else:
            out.append(docs.local_doc(member, state.name))
    return docs.merge(out)


def _version_full(name: str, version: str, manifest: dict, prefix: str) -> dict:
    obj = dict(manifest)
    obj.setdefault("name", name)
    obj.setdefault("version", version)
    obj.setdefault("_id", f"{name}@{version}")
    dist = dict(obj.get("dist") or {})
    dist["tarball"] = prefix + dist.get("tarball", names.tarball_path(name, version))
    obj["dist"] = dist
    return obj


def _version_abbreviated(name: str, version: str, manifest: dict, prefix: str) -> dict:
    full = _version_full(name, version, manifest, prefix)
    obj = {k: full[k] for k in ABBREVIATED_FIELDS if k in full and full[k] is not None}
    if "hasInstallScript" not in obj and any(s in (full.get("scripts") or {}) for s in INSTALL_SCRIPTS):
        obj["hasInstallScript"] = True
    if not obj.get("deprecated"):
        obj.pop("deprecated", None)
    return obj


def render(doc: dict, prefix: str, abbreviated: bool) -> dict:
    name = doc["name"]
    if abbreviated:
        return {"name": name, "modified": doc["time"].get("modified", ""), "dist-tags": doc["dist-tags"],
                "versions": {v: _version_abbreviated(name, v, m, prefix) for v, m in doc["versions"].items()}}
    out = {"_id": name, "_rev": doc["rev"], "name": name}
    out.update({k: v for k, v in doc["info"].items() if k in docs.HOISTED})
    out.update({"dist-tags": doc["dist-tags"], "time": doc["time"], "_attachments": {},
                "versions": {v: _version_full(name, v, m, prefix) for v, m in doc["versions"].items()}})
    return out


def wants_abbreviated(request) -> bool:
    return CORGI in request.headers.get("Accept", "") and request.GET.get("write") != "true"


def _missing(state: State):
    if state.unavailable:
        raw = ", ".join(m.name for m in state.unavailable)
        raise HttpError(502, f"upstream of {raw} is unavailable and {state.name} is not cached")
    raise HttpError(404, "Not found")


def packument(request, repository, name: str) -> HttpResponse:
    require(request, "read", repository)
    names.check_name(name)
    state = state_of(repository, name)
    abbreviated = wants_abbreviated(request)
    prefix = repository_url(request, repository)
    content_type = CORGI if abbreviated else "application/json"
    write = request.GET.get("write") == "true"
    etag = state.etag("packument", abbreviated, prefix)

    def build() -> bytes:
        doc = merged(state)
        if doc is None:
            _missing(state)
        return json.dumps(render(doc, prefix, abbreviated), separators=(",", ":")).encode()

    if not write:
        return respond_document(request, etag, content_type, build,
                                {"Vary": "Accept", "Cache-Control": "max-age=0, must-revalidate"})
    # Before an edit npm must see the current document, never a cached one.
    body = build()
    response = HttpResponse(b"" if request.method == "HEAD" else body, content_type=content_type)
    response["Content-Length"] = str(len(body))
    response["ETag"] = f'"{etag}"'
    response["Vary"] = "Accept"
    response["Cache-Control"] = "no-store"
    return response


def version_document(request, repository, name: str, spec: str) -> HttpResponse:
    """`GET <name>/<version or dist-tag>`: one full version object."""
    require(request, "read", repository)
    names.check_name(name)
    state = state_of(repository, name)
    doc = merged(state)
    if doc is None:
        _missing(state)
    version = doc["dist-tags"].get(spec, spec)
    if version not in doc["versions"]:
        raise HttpError(404, f"version not found: {name}@{spec}")
    body = _version_full(name, version, doc["versions"][version], repository_url(request, repository))
    return HttpResponse(json.dumps(body).encode(), content_type="application/json")
