"""The entry for every client URL under /repository/<name>/: lookup, authentication, then the plugin."""
from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.auth import AuthenticationFailed, authenticate
from repositories.resolve import find_repository

from . import registry
from .base import FormatPlugin, HttpError


@csrf_exempt
def dispatch(request, name: str, path: str = "") -> HttpResponse:
    repository = find_repository(name)
    if repository is None:
        return FormatPlugin().error(request, 404, f"repository {name!r} not found")
    plugin = registry.get(repository.format)
    if plugin is None:
        return FormatPlugin().error(
            request, 400, f"repository {name!r} is a {repository.format} repository, which this server does not serve yet")
    try:
        try:
            request.packyard_user, request.packyard_token = authenticate(request)
            return plugin.handle(request, repository, path)
        except AuthenticationFailed as exc:
            # 401, or 429 (throttled) / 503 (directory down), also when a plugin checks a login itself (npm login).
            raise HttpError(exc.status, f"authentication failed: {exc}", exc.headers) from None
    except HttpError as exc:
        return plugin.error(request, exc.status, exc.message, exc.headers)


def not_found(request, exception=None):
    return JsonResponse({"error": {"code": "not_found", "message": "not found"}}, status=404)
