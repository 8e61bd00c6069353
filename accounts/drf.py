"""DRF authentication class: the same credentials as every client URL (accounts.auth), plus the console session.

Failed logins answer 401 with a Basic challenge; throttled ones 429 with Retry-After; a directory
that is down 503 (accounts.errors). Its OpenAPI description (a drf-spectacular extension) lives in
repositories.api.schema.
"""
from __future__ import annotations

from rest_framework import authentication, exceptions, status

from . import ldap as directory
from .auth import AuthenticationFailed, DirectoryUnavailable, LoginThrottled, authenticate


class DirectoryDown(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "directory_unavailable"
    default_detail = "the LDAP directory is unavailable"
    wait = 10  # DRF's handler turns this into Retry-After


class PackyardAuthentication(authentication.SessionAuthentication):
    """Authorization header first (Basic password, Basic token, Bearer token); else the session, with CSRF."""

    def authenticate(self, request):
        django_request = request._request
        try:
            if not django_request.headers.get("Authorization"):
                result = super().authenticate(request)
                # A session outlives the login that made it; a directory user's groups still expire.
                if result is not None and not directory.refresh_if_stale(result[0]):
                    raise AuthenticationFailed("the directory no longer knows this user")
            else:
                result = authenticate(django_request)
        except LoginThrottled as exc:
            raise exceptions.Throttled(wait=exc.retry_after, detail=str(exc)) from None
        except DirectoryUnavailable as exc:
            raise DirectoryDown(str(exc)) from None
        except AuthenticationFailed as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        if result is not None:
            # audit.record and format helpers read the caller from here, whichever request object they get.
            django_request.packyard_user, django_request.packyard_token = result
        return result

    def authenticate_header(self, request):
        # A challenge makes DRF answer 401 (not 403) to anonymous callers, as clients expect.
        return 'Basic realm="packyard"'
