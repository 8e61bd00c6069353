"""DRF authentication class: the same credentials as every client URL (accounts.auth), plus the console session."""
from __future__ import annotations

from rest_framework import authentication, exceptions

from .auth import AuthenticationFailed, authenticate


class PackyardAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        if not request._request.headers.get("Authorization"):
            return None
        try:
            user, token = authenticate(request._request)
        except AuthenticationFailed as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return (user, token)

    def authenticate_header(self, request):
        return 'Basic realm="packyard"'
