"""Why a login failed: AuthenticationFailed (401) and its two kinds that are not the caller's fault alone.

Each carries the HTTP status and headers a client should get, so every login path (formats.views,
accounts.drf, the format plugins) answers them the same way:
- LoginThrottled: too many failed logins (accounts.throttle): 429 with Retry-After;
- DirectoryUnavailable: the LDAP directory is down or does not answer in time: 503.
"""
from __future__ import annotations


class AuthenticationFailed(Exception):
    status = 401

    @property
    def headers(self) -> dict:
        return {"WWW-Authenticate": 'Basic realm="packyard"'}


class LoginThrottled(AuthenticationFailed):
    status = 429

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed logins; try again in {retry_after} seconds")
        self.retry_after = retry_after

    @property
    def headers(self) -> dict:
        return {"Retry-After": str(self.retry_after)}


class DirectoryUnavailable(AuthenticationFailed):
    status = 503

    @property
    def headers(self) -> dict:
        return {"Retry-After": "10"}
