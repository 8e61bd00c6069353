"""LDAP login (django-auth-ldap over python-ldap): directory users, their groups as teams, and refreshes.

- `login(username, password)`: the Packyard user for directory credentials, or None. The first
  login creates the user (unusable local password, profile fields from PACKYARD_LDAP_ATTR_MAP);
  every login syncs its directory groups into team memberships and the admin group into
  is_superuser. A verified password is remembered briefly (HMAC-keyed) so pip's many requests do
  not each bind.
- `refresh_if_stale(user)`: for a directory user last synced more than PACKYARD_LDAP_CACHE_SECONDS
  ago, read their groups again with the search account; False when the directory no longer has
  them (deleted, or filtered out: disabled). Every authenticated use calls it, tokens included.
- Both raise DirectoryUnavailable (503) when the directory is down or silent past
  PACKYARD_LDAP_TIMEOUT; after that, for a short while, they fail at once instead of waiting again.

Local accounts never reach this module (accounts.auth checks them first), and neither do
service accounts: the directory can never take over an account with a local password.
Login names are validated as Packyard usernames and escaped by django-auth-ldap (RFC 4515)
before they enter the search filter.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
from datetime import timedelta

import ldap
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_auth_ldap.backend import LDAPBackend, ldap_error

from repositories import hotcache

from .errors import DirectoryUnavailable
from .models import DirectoryAccount, Team

log = logging.getLogger("packyard.ldap")
CREDENTIAL_CACHE_SECONDS = 60
_username_ok = UnicodeUsernameValidator()


def enabled() -> bool:
    return bool(getattr(settings, "AUTH_LDAP_SERVER_URI", ""))


def _on_ldap_error(sender, context=None, exception=None, **kwargs):
    # django-auth-ldap logs LDAP errors and carries on as "wrong password"; a directory that is down
    # or misconfigured must instead be told apart from bad credentials, so the error is raised.
    raise _unavailable(exception)


ldap_error.connect(_on_ldap_error, dispatch_uid="packyard-ldap-unavailable")


def _down_key() -> str:
    return "ldap:down-until:" + hashlib.sha256(settings.AUTH_LDAP_SERVER_URI.encode()).hexdigest()[:16]


def _unavailable(exc) -> DirectoryUnavailable:
    # Remember the outage briefly so a burst of requests does not wait out the timeout one by one.
    pause = min(30.0, max(2.0, 2 * float(settings.PACKYARD_LDAP_TIMEOUT)))
    cache.set(_down_key(), time.time() + pause, int(pause) + 1)
    log.warning("LDAP directory unavailable: %r", exc)
    kind = "did not answer in time" if isinstance(exc, (ldap.TIMEOUT, ldap.TIMELIMIT_EXCEEDED)) else "is unavailable"
    return DirectoryUnavailable(f"the LDAP directory {kind}")


def _check_not_down() -> None:
    until = cache.get(_down_key())
    if until and until > time.time():
        raise DirectoryUnavailable("the LDAP directory is unavailable")


def valid_login_name(username: str) -> bool:
    if not username or len(username) > 150:
        return False
    try:
        _username_ok(username)
    except ValidationError:
        return False
    return True


def _credential_key(username: str, password: str) -> str:
    # HMAC with the server's secret: the cache never holds anything a password could be guessed from.
    mac = hmac.new(settings.SECRET_KEY.encode(), f"{username.lower()}\0{password}".encode(), hashlib.sha256)
    return "ldap:ok:" + mac.hexdigest()


def login(username: str, password: str):
    """The directory user these credentials log in (created on first login), or None."""
    if not enabled() or not password or not valid_login_name(username):
        return None
    key = _credential_key(username, password)
    remembered = cache.get(key)
    if remembered is not None:
        pk, name = remembered
        user = get_user_model().objects.filter(pk=pk, username=name).first()
        if user is not None:
            return user if user.is_active and refresh_if_stale(user) else None
        cache.delete(key)  # that account is gone; ask the directory afresh
    _check_not_down()
    user = _authenticate(username, password)
    if user is None or not user.is_active:
        return None
    cache.set(key, (user.pk, user.get_username()), min(CREDENTIAL_CACHE_SECONDS, settings.PACKYARD_LDAP_CACHE_SECONDS))
    return user


def _authenticate(username: str, password: str):
    for attempt in (1, 2):
        try:
            user = LDAPBackend().authenticate(None, username=username, password=password)
            if user is not None:
                sync(user)
            return user
        except ldap.LDAPError as exc:
            raise _unavailable(exc) from None
        except IntegrityError:
            # Two first logins of one user at once: the other created the row; the second try finds it.
            if attempt == 2:
                raise
    return None


def refresh_if_stale(user) -> bool:
    """True while `user` may act; re-reads a directory user's groups once they are older than the cache time."""
    if not enabled():
        return True  # no directory configured: skip the lookup on every request
    account = DirectoryAccount.objects.filter(user_id=user.pk).first()
    if account is None:
        return True  # a local account or service account: nothing to refresh
    if timezone.now() - account.synced_at < timedelta(seconds=settings.PACKYARD_LDAP_CACHE_SECONDS):
        return True
    _check_not_down()
    try:
        fresh = LDAPBackend().populate_user(user.get_username())
        if fresh is not None:
            sync(fresh)
    except ldap.LDAPError as exc:
        raise _unavailable(exc) from None
    if fresh is None:
        _revoke(user)
        return False
    user.refresh_from_db()
    return user.is_active


def _revoke(user) -> None:
    """The directory no longer knows `user`: drop what the directory gave them (synced_at stays old, so
    each later use asks the directory again and a user who comes back is restored at once)."""
    log.info("LDAP user %s is gone from the directory; refusing their logins and tokens", user.get_username())
    with transaction.atomic():
        user.teams.remove(*user.teams.exclude(directory_dn=""))
        if settings.PACKYARD_LDAP_ADMIN_GROUP and user.is_superuser:
            type(user).objects.filter(pk=user.pk).update(is_superuser=False, is_staff=False)
            hotcache.bump()  # QuerySet.update sends no post_save
    user.refresh_from_db()


def _directory_groups(ldap_user) -> list[tuple[str, str]]:
    """(dn, cn) of each group the user is in; none when no group search is configured."""
    group_type = getattr(settings, "AUTH_LDAP_GROUP_TYPE", None)
    search = getattr(settings, "AUTH_LDAP_GROUP_SEARCH", None)
    if group_type is None or search is None:
        return []
    groups = []
    for info in group_type.user_groups(ldap_user, search):
        name = group_type.group_name_from_info(info)
        if name:
            groups.append((info[0], name))
    return groups


def _team_for(dn: str, name: str, mirror: bool):
    team = Team.objects.filter(directory_dn__iexact=dn).first()
    if team is not None:
        return team
    team = Team.objects.filter(name__iexact=name).first()
    if team is not None:
        # A team made by hand with the group's name (say, to grant roles before anyone logged in)
        # becomes the group's mirror: from now on the directory decides its members.
        if not team.directory_dn:
            team.directory_dn = dn
            team.save(update_fields=["directory_dn"])
        return team if team.directory_dn.lower() == dn.lower() else None
    if not mirror:
        return None
    if len(name) > 150 or "/" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        log.warning("LDAP group %s has a name no team can take; skipped", dn)
        return None
    return Team.objects.create(name=name, directory_dn=dn)


def sync(user) -> None:
    """Make `user`'s directory teams match their directory groups now; note when (DirectoryAccount)."""
    ldap_user = user.ldap_user
    groups = _directory_groups(ldap_user)
    mirror = settings.PACKYARD_LDAP_MIRROR_GROUPS
    with transaction.atomic():
        wanted = {t.pk for t in (_team_for(dn, name, mirror) for dn, name in groups) if t is not None}
        current = set(user.teams.exclude(directory_dn="").values_list("pk", flat=True))
        if current - wanted:
            user.teams.remove(*(current - wanted))
        if wanted - current:
            user.teams.add(*(wanted - current))
        DirectoryAccount.objects.update_or_create(user=user, defaults={"dn": ldap_user.dn, "synced_at": timezone.now()})
