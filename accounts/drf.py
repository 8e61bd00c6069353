"""DRF authentication class: the same credentials as every client URL (accounts.auth), plus the console session.

Its OpenAPI description (a drf-spectacular extension) lives in repositories.api.schema.
"""
from __future__ import annotations

from rest_framework import authentication, exceptions

from .auth import AuthenticationFailed, authenticate


class PackyardAuthentication(authentication.SessionAuthentication):
    """Authorization header first (Basic password, Basic token, Bearer token); else the session, with CSRF."""

    def authenticate(self, request):
        django_request = request._request
        if not django_request.headers.get("Authorization"):
            result = super().authenticate(request)
        else:
            try:
                result = authenticate(django_request)
            except AuthenticationFailed as exc:
                raise exceptions.AuthenticationFailed(str(exc)) from None
        if result is not None:
            # audit.record and format helpers read the caller from here, whichever request object they get.
            django_request.packyard_user, django_request.packyard_token = result
        return result

    def authenticate_header(self, request):
        # A challenge makes DRF answer 401 (not 403) to anonymous callers, as clients expect.
        return 'Basic realm="packyard"'

