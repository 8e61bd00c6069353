"""MavenPlugin: routes /repository/<name>/... of a Maven repository (work in progress)."""
from formats.base import FormatPlugin, HttpError


class MavenPlugin(FormatPlugin):
    name = "maven"

    def handle(self, request, repository, path):
        raise HttpError(404, "not implemented yet")
