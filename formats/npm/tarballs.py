"""Tarball downloads `<name>/-/<file>.tgz`: kept Assets first, else fetched once from a remote member's upstream.

Members are tried in order (a local or remote repository is its own only member). A remote member
fetches a tarball its packument lists, verifies it against the upstream's dist.integrity (sha512)
or dist.shasum, and keeps it; later downloads never ask the upstream. The dependency-confusion
guard applies as it does to packuments. An upstream failure with nothing kept is a 502.
"""
from __future__ import annotations

from django.http import HttpResponse

from formats.base import (
    DigestMismatch, HttpError, UpstreamUnavailable, fetch_file, first_holding, members, require, serve_blob,
)

from . import names, packument, remote

CONTENT_TYPE = "application/octet-stream"


def download(request, repository, name: str, filename: str) -> HttpResponse:
    require(request, "read", repository)
    names.check_name(name)
    if not names.valid_filename(filename):
        raise HttpError(400, f"invalid file name {filename!r}")
    path = f"{name}/-/{filename}"
    repos = members(repository)
    guarded = (repository.kind == "virtual" and any(m.kind == "remote" for m in repos)
               and packument.guard_enabled(repository)
               and packument.local_claims([m for m in repos if m.kind == "local"], name))
    try:
        asset = first_holding(repository, path, lambda member: _fetch(member, name, filename, path), skip_remotes=guarded,
                             repos=repos)
    except UpstreamUnavailable as exc:
        raise HttpError(502, str(exc)) from None
    if asset is None:
        raise HttpError(404, f"{filename} not found in repository {repository.name}")
    return serve_blob(request, asset.blob, content_type=CONTENT_TYPE, filename=filename)


def _fetch(member, name: str, filename: str, path: str):
    entry = remote.file_entry(member, name, remote.fetch(member, name), filename)
    if entry is None:
        return None
    meta = {"kind": "npm-remote-tarball", "upstream_url": entry["url"], "integrity": entry["integrity"],
            "shasum": entry["shasum"]}
    try:
        return fetch_file(member, path, entry["url"], expected=remote.expected_digests(entry), package=name,
                          version=entry["version"], content_type=CONTENT_TYPE, meta=meta)
    except DigestMismatch as exc:
        raise HttpError(502, f"upstream tarball failed verification: {exc}") from None
