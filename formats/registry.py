"""Registered format plugins by name."""
from __future__ import annotations

from .base import FormatPlugin

_plugins: dict[str, FormatPlugin] = {}


def register(plugin: FormatPlugin) -> None:
    _plugins[plugin.name] = plugin


def get(name: str) -> FormatPlugin | None:
    return _plugins.get(name)


def all_plugins() -> list[FormatPlugin]:
    return list(_plugins.values())
