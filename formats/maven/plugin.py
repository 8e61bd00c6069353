"""MavenPlugin: routes /repository/<name>/<maven path> of a Maven repository.

    GET, HEAD   <g>/<a>/<v>/<file>            a file (local, fetched from a remote, first member wins)
                <...>.md5|.sha1|.sha256|.sha512  its checksum, computed server-side
                <g>/<a>/[<v>-SNAPSHOT/]maven-metadata.xml  generated / cached / merged metadata
    PUT         any of the above              deploy (deploy.py)
    DELETE      <g>/<a>/<v>/<file>, <g>/<a>/<v>/, <g>/<a>/   a file, a version, an artifact (delete.py)
    OPTIONS     200 with Allow, and no DAV header, so old Wagon clients do not try MKCOL
"""
from __future__ import annotations

from django.http import HttpResponse

from formats.base import FormatPlugin, HttpError, InvalidName, check_path, require

from . import documents, files, hooks, layout
from .delete import handle_delete
from .deploy import handle_put

ALLOW = "GET, HEAD, PUT, DELETE, OPTIONS"


class MavenPlugin(FormatPlugin):
    name = "maven"

    def handle(self, request, repository, path):
        if request.method == "PUT":
            return handle_put(request, repository, path)
        if request.method == "DELETE":
            return handle_delete(request, repository, path)
        if request.method == "OPTIONS":
            response = HttpResponse(status=200)
            response["Allow"] = ALLOW
            return response
        if request.method not in ("GET", "HEAD"):
            raise HttpError(405, f"{request.method} is not allowed here", {"Allow": ALLOW})
        require(request, "read", repository)
        try:
            check_path(path)
        except InvalidName:
            raise HttpError(404, "not found") from None
        target, algorithm = layout.split_checksum(path)
        if target.rsplit("/", 1)[-1] == layout.METADATA:
            try:
                mp = layout.parse(path)
            except layout.BadPath:
                raise HttpError(404, "not found") from None
            return documents.serve(request, repository, mp)
        if algorithm:
            return files.serve_checksum(request, repository, target, algorithm)
        return files.serve_file(request, repository, path)

    def validate_settings(self, kind, format_settings):
        return hooks.validate_settings(kind, format_settings)

    def delete_version(self, repository, package, version):
        return hooks.delete_version(repository, package, version)

    def packages(self, repository):
        return hooks.packages(repository)
