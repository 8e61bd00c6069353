"""Login settings from the environment: LDAP (PACKYARD_LDAP_*, for django-auth-ldap) and login throttling.

`from_env()` returns a dict of Django settings that packyard.settings merges in. LDAP is off (no
AUTH_LDAP_SERVER_URI) unless PACKYARD_LDAP_SERVER_URI is set; python-ldap is imported only then,
so a server without LDAP never needs the library loaded. docs/ldap.md describes every variable.
"""
from __future__ import annotations

import json
import os

GROUP_TYPES = ("groupOfNames", "groupOfUniqueNames", "posixGroup")
# Only profile fields may come from the directory: an attribute map must never set is_superuser & co.
MAPPABLE_FIELDS = ("email", "first_name", "last_name")
DEFAULT_ATTR_MAP = {"email": "mail", "first_name": "givenName", "last_name": "sn"}


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _number(env, name: str, default: float, cast=int):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value


def attr_map(raw: str | None) -> dict:
    if not raw:
        return dict(DEFAULT_ATTR_MAP)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"PACKYARD_LDAP_ATTR_MAP is not JSON: {exc}") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError('PACKYARD_LDAP_ATTR_MAP must be an object like {"email": "mail"}')
    unknown = sorted(set(value) - set(MAPPABLE_FIELDS))
    if unknown:
        raise ValueError(f"PACKYARD_LDAP_ATTR_MAP: unknown fields {unknown}; allowed: {list(MAPPABLE_FIELDS)}")
    return value


def throttle_settings(env) -> dict:
    return {
        "PACKYARD_LOGIN_MAX_FAILURES": _number(env, "PACKYARD_LOGIN_MAX_FAILURES", 10),
        "PACKYARD_LOGIN_MAX_FAILURES_PER_ADDRESS": _number(env, "PACKYARD_LOGIN_MAX_FAILURES_PER_ADDRESS", 100),
        "PACKYARD_LOGIN_FAILURE_WINDOW": _number(env, "PACKYARD_LOGIN_FAILURE_WINDOW", 300),
        "PACKYARD_LOGIN_LOCKOUT_SECONDS": _number(env, "PACKYARD_LOGIN_LOCKOUT_SECONDS", 300),
    }


def ldap_settings(env) -> dict:
    uri = (env.get("PACKYARD_LDAP_SERVER_URI") or "").strip()
    if not uri:
        return {"AUTH_LDAP_SERVER_URI": "", "PACKYARD_LDAP_CACHE_SECONDS": 300, "PACKYARD_LDAP_TIMEOUT": 5.0,
                "PACKYARD_LDAP_MIRROR_GROUPS": True}
    import ldap
    from django_auth_ldap.config import GroupOfNamesType, GroupOfUniqueNamesType, LDAPSearch, PosixGroupType

    timeout = _number(env, "PACKYARD_LDAP_TIMEOUT", 5.0, float)
    group_type = env.get("PACKYARD_LDAP_GROUP_TYPE") or "groupOfNames"
    if group_type not in GROUP_TYPES:
        raise ValueError(f"PACKYARD_LDAP_GROUP_TYPE must be one of {', '.join(GROUP_TYPES)}, not {group_type!r}")
    types = {"groupOfNames": GroupOfNamesType, "groupOfUniqueNames": GroupOfUniqueNamesType,
             "posixGroup": PosixGroupType}
    user_base = env.get("PACKYARD_LDAP_USER_SEARCH_BASE") or ""
    group_base = env.get("PACKYARD_LDAP_GROUP_SEARCH_BASE") or ""
    admin_group = (env.get("PACKYARD_LDAP_ADMIN_GROUP") or "").strip()
    options = {
        # Both bounds matter: the network one covers connect, OPT_TIMEOUT every synchronous call
        # (bind, search) on a directory that accepted the connection and then went silent.
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
        ldap.OPT_REFERRALS: 0,
    }
    ca_file = env.get("PACKYARD_LDAP_CA_FILE")
    if ca_file:
        options[ldap.OPT_X_TLS_CACERTFILE] = ca_file
        options[ldap.OPT_X_TLS_NEWCTX] = 0  # must come last: it builds the TLS context from the options above
    out = {
        "AUTH_LDAP_SERVER_URI": uri,
        "AUTH_LDAP_START_TLS": _bool(env.get("PACKYARD_LDAP_START_TLS"), False),
        "AUTH_LDAP_BIND_DN": env.get("PACKYARD_LDAP_BIND_DN") or "",
        "AUTH_LDAP_BIND_PASSWORD": env.get("PACKYARD_LDAP_BIND_PASSWORD") or "",
        "AUTH_LDAP_USER_SEARCH": LDAPSearch(user_base, ldap.SCOPE_SUBTREE,
                                            env.get("PACKYARD_LDAP_USER_FILTER") or "(uid=%(user)s)"),
        "AUTH_LDAP_USER_ATTR_MAP": attr_map(env.get("PACKYARD_LDAP_ATTR_MAP")),
        "AUTH_LDAP_CONNECTION_OPTIONS": options,
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
        # After the user's bind proves the password, searches (groups) go on as the search account,
        # which directories let read groups more often than they let users.
        "AUTH_LDAP_BIND_AS_AUTHENTICATING_USER": False,
        # Packyard keeps its own clock (DirectoryAccount.synced_at); a second cache would double the delay.
        "AUTH_LDAP_CACHE_TIMEOUT": 0,
        # Teams, not Django groups, carry directory groups (accounts.ldap).
        "AUTH_LDAP_MIRROR_GROUPS": False,
        "PACKYARD_LDAP_MIRROR_GROUPS": _bool(env.get("PACKYARD_LDAP_MIRROR_GROUPS"), True),
        "PACKYARD_LDAP_ADMIN_GROUP": admin_group,
        "PACKYARD_LDAP_CACHE_SECONDS": _number(env, "PACKYARD_LDAP_CACHE_SECONDS", 300),
        "PACKYARD_LDAP_TIMEOUT": timeout,
    }
    if group_base:
        object_class = "posixGroup" if group_type == "posixGroup" else group_type
        out["AUTH_LDAP_GROUP_SEARCH"] = LDAPSearch(group_base, ldap.SCOPE_SUBTREE, f"(objectClass={object_class})")
        out["AUTH_LDAP_GROUP_TYPE"] = types[group_type](name_attr="cn")
        if admin_group:
            out["AUTH_LDAP_USER_FLAGS_BY_GROUP"] = {"is_superuser": admin_group, "is_staff": admin_group}
    return out


def from_env(env=None) -> dict:
    env = os.environ if env is None else env
    return {**ldap_settings(env), **throttle_settings(env)}
