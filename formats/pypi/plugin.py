"""PypiPlugin: routes /repository/<name>/... of a PyPI repository to upload, index and file views."""
from formats.base import FormatPlugin, HttpError


class PypiPlugin(FormatPlugin):
    name = "pypi"

    def handle(self, request, repository, path):
        raise HttpError(404, "not implemented yet")
