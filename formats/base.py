"""The plugin interface, and the only door from a format into the core.

A format plugin is a Django app whose AppConfig.ready() calls `registry.register(Plugin())`.
Plugins import the core's services from here (or from `repositories.*` / `artifacts.*`
services) and never touch storage or permission internals.

Request lifecycle for `/repository/<name>/<path>` (formats.views.dispatch):
1. look the repository up (unknown -> 404);
2. authenticate the Authorization header (bad credentials -> 401 with a challenge);
3. `plugin.handle(request, repository, path)`; the plugin calls `require(request, action, repo)`
   before reading or writing, which raises Denied -> 401 for anonymous callers, 403 otherwise;
4. HttpError raised anywhere becomes `plugin.error(...)`, the protocol's own error shape.
"""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from artifacts.chunked import ChunkedError, fast_chunks  # noqa: F401
from artifacts.flush import FlushBehind  # noqa: F401
from artifacts.ingest import DigestMismatch, IngestError, Staged, TooLarge, open_blob, read_blob, stage, stage_bytes, stage_chunks  # noqa: F401
from artifacts.documents import respond as respond_document  # noqa: F401
from artifacts.gc import register_collector  # noqa: F401  (a format's own GC step, see artifacts.gc)
from artifacts.locks import LockTimeout, named_lock  # noqa: F401
from artifacts.serve import etag_matches, serve_blob  # noqa: F401
from accounts.auth import check_credentials  # noqa: F401  (npm login)
from accounts.models import ApiToken, hash_token  # noqa: F401
from repositories import audit  # noqa: F401
from repositories.models import Asset, Repository  # noqa: F401
from repositories.names import InvalidName, check_path  # noqa: F401
from repositories.permissions import can
from repositories.lookups import follow, package_summary  # noqa: F401
from repositories.resolve import deploy_target, find_repository, first_holding, members  # noqa: F401
from repositories.upstream import (  # noqa: F401
    UpstreamMissing, UpstreamUnavailable, fetch_file, get_metadata, upstream_url,
)


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class Denied(HttpError):
    pass


def require(request: HttpRequest, action: str, repository: Repository) -> None:
    """Raise Denied unless the caller may do `action` on `repository` (the one permission check)."""
    user = request.packyard_user
    if can(user, action, repository, token=getattr(request, "packyard_token", None)):
        return
    if not user.is_authenticated:
        raise Denied(401, "authentication required", {"WWW-Authenticate": 'Basic realm="packyard"'})
    raise Denied(403, f"{user.get_username()} may not {action} in repository {repository.name}")


def write_target(request: HttpRequest, repository: Repository, event: str, action: str = "deploy",
                 path: str = "") -> Repository:
    """The local repository a write to `repository` lands in: itself, or a virtual's deploy_to.

    The role is checked on the repository the client named; a denial, a remote repository (405)
    and a virtual without deploy_to (400) each leave an `event` audit event and raise.
    """
    target = deploy_target(repository)
    try:
        require(request, action, repository)
        if repository.kind == "remote":
            raise HttpError(405, f"repository {repository.name} is a remote (proxy) repository; it takes no writes",
                            {"Allow": "GET, HEAD"})
        if target is None:
            raise HttpError(400, f"virtual repository {repository.name} has no deploy_to repository; writes are refused")
    except HttpError as exc:
        audit.record(request, event, repository=target or repository, path=path,
                     outcome="denied" if isinstance(exc, Denied) else "invalid", status=exc.status, message=exc.message)
        raise
    return target


def base_url(request: HttpRequest) -> str:
    """scheme://host[:port] the client used (or PACKYARD_BASE_URL), for absolute links."""
    if settings.PACKYARD_BASE_URL:
        return settings.PACKYARD_BASE_URL
    return f"{request.scheme}://{request.get_host()}"


def repository_url(request: HttpRequest, repository: Repository) -> str:
    return f"{base_url(request)}/repository/{repository.name}/"


class FormatPlugin:
    """Subclass per format; one instance is registered at start-up."""

    name: str = ""

    def handle(self, request: HttpRequest, repository: Repository, path: str) -> HttpResponse:
        raise NotImplementedError

    def error(self, request: HttpRequest, status: int, message: str, headers: dict | None = None) -> HttpResponse:
        response = HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8", reason=_reason(message))
        for key, value in (headers or {}).items():
            response[key] = value
        return response

    def validate_settings(self, kind: str, format_settings: dict) -> dict:
        """Check this format's settings block of a repository; return it normalised or raise ValueError."""
        if format_settings:
            raise ValueError(f"{self.name} repositories take no format settings")
        return {}

    def delete_version(self, repository: Repository, package: str, version: str) -> int:
        """Remove every file of one version (API DELETE .../packages/PKG/VERSION/); returns files removed."""
        deleted, _ = Asset.objects.filter(repository=repository, package=package, version=version).delete()
        return deleted

    def yank(self, repository: Repository, package: str, version: str, reason: str = "", yanked: bool = True) -> int:
        """Mark a version yanked (or un-yank it); formats without yanking raise ValueError."""
        raise ValueError(f"{self.name} has no yanking")

    def packages(self, repository: Repository) -> list[dict]:
        """What a repository holds, for GET /api/v1/repositories/NAME/packages/ (default: from the Asset index)."""
        return packages_from_assets(repository)


def _reason(message: str) -> str | None:
    # twine and mvn show the HTTP reason phrase; it must be one line of latin-1 text.
    text = " ".join(message.split())[:200]
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return None
    return text or None


def packages_from_assets(repository: Repository) -> list[dict]:
    out: dict[str, dict] = {}
    for asset in Asset.objects.filter(repository=repository).select_related("blob").order_by("package", "version", "path"):
        pkg = out.setdefault(asset.package or asset.path, {"name": asset.package or asset.path, "versions": {}})
        ver = pkg["versions"].setdefault(asset.version, {"version": asset.version, "files": []})
        ver["files"].append({
            "path": asset.path, "size": asset.blob.size, "sha256": asset.blob.sha256,
            "created": asset.created.isoformat(), "uploaded_by": asset.uploaded_by,
        })
    return [{"name": p["name"], "versions": list(p["versions"].values())} for p in out.values()]
