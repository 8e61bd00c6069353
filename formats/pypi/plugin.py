"""PypiPlugin: routes /repository/<name>/... of a PyPI repository to upload, index and file views.

URL map (path = what follows /repository/<name>/):
    ''                              POST: twine upload (never redirected, with or without the slash)
    simple/                         project list          simple -> 301 simple/
    simple/<project>/               project page          unnormalized or slashless -> 301
    files/<project>/<filename>      download (GET, HEAD); <filename>.metadata: core metadata
"""
from __future__ import annotations

from django.http import HttpResponse, HttpResponsePermanentRedirect

from formats.base import FormatPlugin, HttpError, base_url

from . import files, hooks, metadata as md, pages
from .upload import handle_upload

READ_METHODS = ("GET", "HEAD")


class PypiPlugin(FormatPlugin):
    name = "pypi"

    def handle(self, request, repository, path):
        if path == "":
            if request.method != "POST":
                raise HttpError(405, "POST an upload here; the index is at simple/", {"Allow": "POST"})
            return handle_upload(request, repository)
        parts = path.split("/")
        if request.method not in READ_METHODS:
            raise HttpError(405, f"{request.method} is not allowed here", {"Allow": "GET, HEAD"})
        if parts[0] == "simple":
            return self._simple(request, repository, parts[1:])
        if parts[0] == "files" and len(parts) == 3 and parts[1] and parts[2]:
            return files.download(request, repository, parts[1], parts[2])
        raise HttpError(404, "not found")

    def _simple(self, request, repository, rest: list[str]):
        if not rest:
            return _redirect(request, repository, "simple/")
        if rest == [""]:
            return pages.root(request, repository)
        if len(rest) > 2 or (len(rest) == 2 and rest[1] != "") or not md.valid_name(rest[0]):
            raise HttpError(404, "not found")
        project = md.normalize(rest[0])
        if project != rest[0] or len(rest) == 1:
            return _redirect(request, repository, f"simple/{project}/")
        return pages.project(request, repository, project)

    def validate_settings(self, kind, format_settings):
        return hooks.validate_settings(format_settings)

    def yank(self, repository, package, version, reason="", yanked=True):
        return hooks.yank(repository, package, version, reason, yanked)

    def delete_version(self, repository, package, version):
        return hooks.delete_version(repository, package, version)

    def packages(self, repository):
        return hooks.packages(repository)


def _redirect(request, repository, path: str) -> HttpResponse:
    query = request.META.get("QUERY_STRING", "")
    url = f"{base_url(request)}/repository/{repository.name}/{path}" + (f"?{query}" if query else "")
    return HttpResponsePermanentRedirect(url)
