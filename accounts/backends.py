"""Django authentication backend for console (session) logins: the same rules as every client URL.

django.contrib.auth.authenticate() lands here, so a console login checks local accounts first,
then the directory (accounts.ldap), and counts towards login throttling (accounts.throttle).
Sessions load users with ModelBackend.get_user, which refuses inactive users.
"""
from __future__ import annotations

from django.contrib.auth.backends import ModelBackend


class PackyardBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        from .auth import password_login

        if not username or not password:
            return None
        return password_login(username, password, request=request)
