"""Every API error as JSON {"error": {"code", "message"}} (CONTRACT.md)."""
from __future__ import annotations

from rest_framework.views import exception_handler as drf_exception_handler


def _message(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {_message(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return "; ".join(_message(v) for v in detail)
    return str(detail)


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    code = getattr(exc, "default_code", "error")
    if hasattr(exc, "get_codes"):
        codes = exc.get_codes()
        if isinstance(codes, str):
            code = codes
    response.data = {"error": {"code": code, "message": _message(detail.get("detail", detail) if isinstance(detail, dict) else detail)}}
    if isinstance(detail, dict) and "detail" not in detail:
        response.data["error"]["fields"] = detail
    return response
