"""GET/HEAD of files and their checksums, across a repository's members in order.

Serving steps for a file path:
1. `read` on the repository the client asked (a virtual's members' grants are not consulted);
2. kept Assets of all members in one query; the first member in order that has the file wins;
3. a remote member without it fetches it from its upstream (kept from then on); a non-unique
   SNAPSHOT file a remote member holds is rechecked upstream once metadata_ttl has passed
   (remote.revalidate), and when the upstream dropped it the search goes on past that member;
4. nobody has it: 404 as plain text (never an HTML 200, which would poison ~/.m2), or 502
   when a remote member could not ask its upstream, so Maven does not cache a false miss.
A checksum path (`.md5`, `.sha1`, `.sha256`, `.sha512`) resolves its file the same way and
answers the digest computed server-side, whether or not the client ever uploaded one.
"""
from __future__ import annotations

from django.http import HttpResponse

from formats.base import Asset, HttpError, UpstreamUnavailable, first_holding, members, serve_blob

from . import layout, remote


def find(repository, path: str) -> Asset:
    try:
        asset = _holding(repository, path)
    except UpstreamUnavailable as exc:
        raise HttpError(502, f"{exc}; {path} is not cached") from None
    if asset is None:
        raise HttpError(404, f"{path} not found in repository {repository.name}")
    return asset


def _holding(repository, path: str) -> Asset | None:
    if not layout.is_mutable_path(path):
        return first_holding(repository, path, fetch=lambda member: remote.fetch(member, path))
    repos = members(repository)
    by_pk = {member.pk: member for member in repos}
    fetched = set()  # members that just asked their upstream need no second look

    def fetch(member):
        fetched.add(member.pk)
        return remote.fetch(member, path)

    # Each pass that finds a stale copy gone upstream drops it, so this ends within len(repos) + 1 passes.
    for _ in range(len(repos) + 1):
        asset = first_holding(repository, path, fetch=fetch, repos=repos)
        holder = by_pk.get(asset.repository_id) if asset is not None else None
        if holder is None or holder.kind != "remote" or holder.pk in fetched:
            return asset
        asset = remote.revalidate(holder, path, asset)
        if asset is not None:
            return asset
    return None


def checksum_headers(asset: Asset) -> dict:
    meta = asset.meta or {}
    headers = {}
    for name, header in (("sha1", "X-Checksum-Sha1"), ("md5", "X-Checksum-MD5"), ("sha256", "X-Checksum-SHA256")):
        if meta.get(name):
            headers[header] = meta[name]
    return headers


def serve_file(request, repository, path: str) -> HttpResponse:
    asset = find(repository, path)
    if not all((asset.meta or {}).get(k) for k in ("sha1", "md5", "sha256")):
        asset = remote.ensure_digests(asset)
    return serve_blob(request, asset.blob, content_type=asset.content_type, filename=path.rsplit("/", 1)[-1],
                      extra_headers=checksum_headers(asset))


def serve_checksum(request, repository, path: str, algorithm: str) -> HttpResponse:
    asset = remote.ensure_digests(find(repository, path))
    return text_response(request, asset.meta[algorithm])


def text_response(request, text: str) -> HttpResponse:
    body = text.encode()
    response = HttpResponse(b"" if request.method == "HEAD" else body, content_type="text/plain; charset=us-ascii")
    response["Content-Length"] = str(len(body))
    return response
