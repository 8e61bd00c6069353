"""File downloads: `files/<project>/<filename>` and its core metadata `<filename>.metadata`.

Members are tried in order (a local or remote repository is its own only member): a kept Asset
is served from storage without asking any upstream; otherwise a remote member whose project page
lists the file fetches it once (verified against the upstream's hash) and keeps it. The
dependency-confusion guard applies to downloads as it does to pages. An upstream failure with
nothing kept is a 502, never a 404 (pip would conclude the file does not exist).
"""
from __future__ import annotations

from django.http import HttpResponse

from formats.base import (
    Asset, DigestMismatch, HttpError, UpstreamUnavailable, fetch_file, first_holding, members, require, serve_blob,
)

from . import index, metadata as md, remote
from .upload import CONTENT_TYPES


def download(request, repository, project: str, filename: str) -> HttpResponse:
    require(request, "read", repository)
    if project != md.normalize(project) or not md.valid_filename(filename):
        raise HttpError(404, "not found")
    path = f"files/{project}/{filename}"
    repos = members(repository)
    guarded = (repository.kind == "virtual" and any(m.kind == "remote" for m in repos)
               and index.guard_enabled(repository)
               and Asset.objects.filter(repository__in=[m for m in repos if m.kind == "local"], package=project).exists())

    def fetch(member):
        # Core-metadata files of remote projects are never advertised, so never fetched.
        return None if filename.endswith(".metadata") else _fetch(member, project, filename, path)

    try:
        asset = first_holding(repository, path, fetch, skip_remotes=guarded, repos=repos)
    except UpstreamUnavailable as exc:
        raise HttpError(502, str(exc)) from None
    if asset is None:
        raise HttpError(404, f"{filename} not found in repository {repository.name}")
    return _serve(request, asset)


def _serve(request, asset) -> HttpResponse:
    return serve_blob(request, asset.blob, content_type=asset.content_type, filename=asset.path.rsplit("/", 1)[-1])


def _fetch(member, project: str, filename: str, path: str):
    """The member's Asset for the file, fetched from the URL its upstream page gives; None if not listed."""
    entry = remote.project_page(member, project).find(filename)
    if entry is None:
        return None
    ext = next((e for e in CONTENT_TYPES if filename.endswith(e)), None)
    meta = {"filename": filename, "requires_python": entry["requires_python"], "yanked": entry["yanked"],
            "upstream_url": entry["url"], "kind": "remote-file"}
    try:
        return fetch_file(member, path, entry["url"], expected=remote.verifiable(entry["hashes"]), package=project,
                          version=entry["version"], content_type=CONTENT_TYPES.get(ext, "application/octet-stream"),
                          meta=meta)
    except DigestMismatch as exc:
        raise HttpError(502, f"upstream file failed verification: {exc}") from None
