"""The simple index views: root and project pages with ETag, 304 and documents served from disk.

Serving steps for `simple/<project>/`:
1. `read` on the repository the client asked (a virtual's members' grants are not consulted);
2. content type by negotiation (406 when nothing acceptable);
3. the project state (row aggregates + remote members' cached pages) gives the ETag; unknown
   project -> 404, or 502 when a remote member failed and nothing else has it;
4. If-None-Match -> 304; else the page rendered for that ETag is sent from disk by sendfile
   (`respond_document`), rendered from rows on a miss. Any upload, yank or delete changes the aggregates, so a new file is on
   the very next page.
"""
from __future__ import annotations

from django.http import HttpResponse

from formats.base import HttpError, base_url, require, respond_document

from . import index, render

def _respond(request, content_type: str, etag: str, build) -> HttpResponse:
    return respond_document(request, etag, content_type, build,
                            {"Vary": "Accept", "Cache-Control": "max-age=0, must-revalidate"})


def _content_type(request) -> str:
    chosen = render.negotiate(request)
    if chosen is None:
        raise HttpError(406, f"acceptable types: {', '.join(render.OFFERS)}", {"Vary": "Accept"})
    return chosen


def root(request, repository) -> HttpResponse:
    require(request, "read", repository)
    content_type = _content_type(request)
    repos, parts = index.root_state(repository)
    etag = index.ProjectState(repository, "", repos, etag_parts=parts).etag("root", content_type)
    return _respond(request, content_type, etag, lambda: render.root_page(content_type, index.root_projects(repos)))


def project(request, repository, project: str) -> HttpResponse:
    require(request, "read", repository)
    content_type = _content_type(request)
    state = index.project_state(repository, project)
    if not state.exists:
        if state.unavailable:
            names = ", ".join(m.name for m in state.unavailable)
            raise HttpError(502, f"upstream of {names} is unavailable and {project} is not cached")
        raise HttpError(404, f"project {project} not found in repository {repository.name}")
    files_base = f"{base_url(request)}/repository/{repository.name}/files/"
    etag = state.etag("project", content_type, files_base)

    def build() -> bytes:
        files, versions = index.project_files(state)
        return render.project_page(content_type, project, files, versions, files_base)

    return _respond(request, content_type, etag, build)
