"""NpmPlugin: routes /repository/<name>/... of an npm repository (work in progress)."""
from formats.base import FormatPlugin, HttpError


class NpmPlugin(FormatPlugin):
    name = "npm"

    def handle(self, request, repository, path):
        raise HttpError(404, "not implemented yet")
