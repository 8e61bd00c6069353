"""Validation of a repository's per-format settings block, e.g. {"maven": {"version_policy": "release"}}.

A registered format plugin owns its block (FormatPlugin.validate_settings). Until a format's plugin
checks its own block, the settings CONTRACT.md already fixes are checked from the small table below, so the API
accepts them from day one and the plugin later finds them stored in the same shape.
"""
from __future__ import annotations

from formats import registry
from formats.base import FormatPlugin

# format -> setting -> (allowed values, or the type bool; default)
KNOWN: dict[str, dict[str, tuple]] = {
    "maven": {"version_policy": (("release", "snapshot", "mixed"), "mixed"), "allow_redeploy": (bool, False)},
    "docker": {"immutable_tags": (bool, False)},
}


def validate_format_settings(fmt: str, kind: str, block: dict) -> dict:
    """The block normalised (defaults filled in); ValueError with a readable message when invalid."""
    if not isinstance(block, dict):
        raise ValueError(f"{fmt} settings must be an object")
    plugin = registry.get(fmt)
    if plugin is not None and type(plugin).validate_settings is not FormatPlugin.validate_settings:
        return plugin.validate_settings(kind, block)
    table = KNOWN.get(fmt, {})
    unknown = sorted(set(block) - set(table))
    if unknown:
        raise ValueError(f"unknown {fmt} setting(s): {', '.join(unknown)}")
    out = {}
    for key, (allowed, default) in table.items():
        value = block.get(key, default)
        if allowed is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{fmt}.{key} must be true or false")
        elif value not in allowed:
            raise ValueError(f"{fmt}.{key} must be one of {', '.join(allowed)}")
        out[key] = value
    return out
