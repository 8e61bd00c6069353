"""OCI errors and grammar: DockerError (an HttpError with an OCI code), the JSON error body, name,
tag and digest validation.

Every 4xx a client sees is `{"errors": [{"code", "message", "detail"}]}` (OCI 1.1 section
"Error codes"); the codes tell docker/podman/skopeo what went wrong, the status how to react.
"""
from __future__ import annotations

import json
import re

from django.http import HttpResponse

from formats.base import HttpError

NAME_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME = re.compile(rf"^{NAME_COMPONENT}(?:/{NAME_COMPONENT})*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
SHA256 = re.compile(r"^sha256:[a-f0-9]{64}$")
API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


class DockerError(HttpError):
    def __init__(self, status: int, code: str, message: str, detail=None, headers: dict | None = None,
                 more: list | None = None):
        super().__init__(status, message, headers)
        self.code = code
        self.detail = detail
        self.more = more or []  # further {"code", "message", "detail"} entries (one per missing blob)


def body(code: str, message: str, detail=None) -> dict:
    entry = {"code": code, "message": message}
    if detail is not None:
        entry["detail"] = detail
    return entry


def render(status: int, errors: list[dict], headers: dict | None = None, head: bool = False) -> HttpResponse:
    payload = json.dumps({"errors": errors}).encode()
    response = HttpResponse(b"" if head else payload, status=status, content_type="application/json")
    response["Content-Length"] = str(len(payload))
    for key, value in {**API_VERSION, **(headers or {})}.items():
        response[key] = value
    return response


def render_exception(request, exc: HttpError) -> HttpResponse:
    if isinstance(exc, DockerError):
        errors = [body(exc.code, exc.message, exc.detail), *exc.more]
    else:
        errors = [body(_code_for(exc.status), exc.message)]
    return render(exc.status, errors, exc.headers, head=request.method == "HEAD")


def _code_for(status: int) -> str:
    return {400: "UNSUPPORTED", 401: "UNAUTHORIZED", 403: "DENIED", 404: "NAME_UNKNOWN", 405: "UNSUPPORTED",
            413: "SIZE_INVALID", 429: "TOOMANYREQUESTS", 502: "UNAVAILABLE", 503: "UNAVAILABLE"}.get(status, "UNKNOWN")


def check_name(name: str) -> tuple[str, str]:
    """`REPO/IMAGE...` -> (repository name, image path); NAME_INVALID unless it matches the grammar."""
    if len(name) > 255 or not NAME.match(name):
        raise DockerError(400, "NAME_INVALID", "invalid repository name", {"name": name[:300]})
    repo, _, image = name.partition("/")
    if not image:
        raise DockerError(400, "NAME_INVALID",
                          "the name needs a Packyard repository and an image, e.g. HOST:PORT/REPO/IMAGE:TAG",
                          {"name": name})
    return repo, image


def check_digest(digest: str, code: str = "DIGEST_INVALID", status: int = 400) -> str:
    """A well-formed digest of a supported algorithm (sha256) or the given error."""
    if not SHA256.match(digest or ""):
        if DIGEST.match(digest or "") and not digest.startswith("sha256:"):
            raise DockerError(status, code, f"unsupported digest algorithm in {digest[:200]!r}; use sha256")
        raise DockerError(status, code, "invalid digest", {"digest": (digest or "")[:200]})
    return digest
