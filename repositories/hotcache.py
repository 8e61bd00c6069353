"""Per-process copies of the rows every client request reads, valid while a shared stamp is unchanged.

What is kept: repositories by name, a virtual's members, a user's role on a repository, users by
login name and API tokens by hash and by id (accounts.auth, repositories.permissions, repositories.resolve
call `lookup`). Why: a Maven build sends some 450 GETs one after another and each used to pay four
or five small queries before reaching the one that matters (the file's Asset); with two cores
shared with the JVM, that CPU is the build's latency (docs/benchmarks.md).

How it stays right across processes (gunicorn workers, the Celery worker, other hosts on Redis):
- a generation stamp lives in Django's shared cache on Redis, or, on the embedded default (one
  host, file cache), in a file under PACKYARD_HOME that every bump replaces. Each request reads it
  once (`HotCacheMiddleware`); a process whose table was filled under another stamp starts a new,
  empty table;
- every save or delete of the rows these answers come from (Repository, VirtualMember, Grant,
  Team and its members, users, ApiToken, ServiceAccount) bumps the stamp through signals, at once
  and again when the transaction commits: a process that re-read the old rows between the two
  drops them at its next request. Writes that send no signals (QuerySet.update, bulk_create) call
  `bump()` themselves;
- a table belongs to one stamp: a request that started under an older stamp fills the old table,
  never the new one, so a slow request cannot put stale rows into a fresh table;
- outside a request (Celery tasks, management commands, tests calling functions directly)
  nothing is cached: `lookup` goes to the database.

Values are stored as plain data and callers get fresh model instances, so no request can change
what another one sees.
"""
from __future__ import annotations

import copy
import os
import tempfile
import threading
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

STAMP_KEY = "packyard:hotcache-stamp"
MAX_ENTRIES = 20000  # a table past this is dropped whole: bounded memory for many users x repositories

_request = threading.local()  # .table: the dict this thread's request reads and fills
_current: tuple[str | None, dict] = (None, {})
_lock = threading.Lock()


def _uses_file_cache() -> bool:
    return settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache")


def _stamp_file() -> str:
    return os.path.join(settings.PACKYARD_HOME, "hotcache.stamp")


def _stamp() -> str:
    if _uses_file_cache():
        # One host shares the file cache; a stat() of a file replaced on every bump is far cheaper
        # than a cache read (open + unpickle), and a new inode makes every bump visible.
        path = _stamp_file()
        try:
            st = os.stat(path)
        except FileNotFoundError:
            _set_new_stamp()
            st = os.stat(path)
        return f"{st.st_ino}:{st.st_mtime_ns}"
    stamp = cache.get(STAMP_KEY)
    if stamp is None:
        # Missing (first start, or Redis lost its keys): any new value invalidates every table.
        cache.add(STAMP_KEY, uuid.uuid4().hex, None)
        stamp = cache.get(STAMP_KEY)
    return stamp


def begin_request() -> None:
    """Read the stamp once for this request and pick this process's table for it."""
    global _current
    try:
        stamp = _stamp()
    except Exception:  # the shared cache is down: no caching, the database answers everything
        _request.table = None
        return
    with _lock:
        held, table = _current
        if held != stamp or len(table) > MAX_ENTRIES:
            table = {}
            _current = (stamp, table)
    _request.table = table


def end_request() -> None:
    _request.table = None


def lookup(kind: str, key, load):
    """`load()`'s value for (kind, key), from this request's table when there is one."""
    table = getattr(_request, "table", None)
    if table is None:
        return load()
    entry = (kind, key)
    try:
        return table[entry]
    except KeyError:
        pass
    value = load()
    table[entry] = value
    return value


def _set_new_stamp() -> None:
    try:
        if _uses_file_cache():
            path = _stamp_file()
            fd, temp = tempfile.mkstemp(prefix=".hotcache-", dir=os.path.dirname(path))
            with os.fdopen(fd, "w") as out:
                out.write(uuid.uuid4().hex)
            os.replace(temp, path)
        else:
            cache.set(STAMP_KEY, uuid.uuid4().hex, None)
    except Exception:  # noqa: BLE001 - a cache outage must not fail the write; begin_request skips caching then
        pass


def bump() -> None:
    """The rows behind the cached answers changed: every process drops its table at its next request."""
    global _current
    _set_new_stamp()
    with _lock:
        _current = (None, {})
    # This request read rows before the change (an LDAP refresh that just dropped a team, say):
    # from here on it asks the database.
    _request.table = None
    transaction.on_commit(_set_new_stamp)


def reset() -> None:
    """Drop every process's tables now, outside any transaction (tests start each case with this,
    since a rolled-back test transaction sends no signals)."""
    global _current
    _set_new_stamp()
    with _lock:
        _current = (None, {})


def _on_change(sender, **kwargs) -> None:
    bump()


def _on_members_change(sender, action=None, **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        bump()


def connect_signals() -> None:
    """Called once from RepositoriesConfig.ready()."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from accounts.models import ApiToken, ServiceAccount, Team

    from .models import Grant, Repository, VirtualMember

    for model in (Repository, VirtualMember, Grant, Team, ApiToken, ServiceAccount, get_user_model()):
        uid = f"packyard-hotcache-{model._meta.label}"
        post_save.connect(_on_change, sender=model, dispatch_uid=uid + "-save", weak=False)
        post_delete.connect(_on_change, sender=model, dispatch_uid=uid + "-delete", weak=False)
    m2m_changed.connect(_on_members_change, sender=Team.members.through, dispatch_uid="packyard-hotcache-team-members",
                        weak=False)


class HotCacheMiddleware:
    """Reads the stamp at the start of each request and forgets the table at its end."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        begin_request()
        try:
            return self.get_response(request)
        finally:
            end_request()


def _fields(model) -> list[str]:
    names = _FIELDS.get(model)
    if names is None:
        names = _FIELDS[model] = [field.attname for field in model._meta.concrete_fields]
    return names


_FIELDS: dict = {}


def row(model, queryset) -> tuple | None:
    """The first row of `queryset` as plain values (what `lookup` stores), or None."""
    found = list(queryset.values_list(*_fields(model))[:1])
    return found[0] if found else None


def freeze(obj) -> tuple:
    """A loaded model instance as the plain values `lookup` stores."""
    return tuple(getattr(obj, name) for name in _fields(type(obj)))


def instance(model, values: tuple | None):
    """A fresh model instance from stored values (JSON fields copied, so callers may change them)."""
    if values is None:
        return None
    values = tuple(copy.deepcopy(v) if isinstance(v, (dict, list)) else v for v in values)
    return model.from_db("default", _fields(model), values)
