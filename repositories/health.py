"""Liveness and readiness: ready checks the database, the blob storage and the task broker."""
from __future__ import annotations

from django.db import connection
from django.http import JsonResponse

from artifacts.storage import get_storage
from packyard import __version__


def live(request):
    return JsonResponse({"status": "ok", "version": __version__})


def _check(fn) -> str:
    try:
        fn()
        return "ok"
    except Exception as exc:  # readiness reports every failure instead of raising
        return f"error: {exc.__class__.__name__}: {exc}"[:300]


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _storage():
    get_storage().exists("sha256/health-check")


def _broker():
    from packyard.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)


def ready(request):
    checks = {"database": _check(_database), "storage": _check(_storage), "broker": _check(_broker)}
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks, "version": __version__},
                        status=200 if ok else 503)
