"""Maven version ordering (a compact take on maven-artifact's ComparableVersion).

`sort_key(version)` orders 1.0-alpha-1 < 1.0-beta < 1.0-rc1 < 1.0-SNAPSHOT < 1.0 < 1.0-sp < 1.0.1
and 1.9 < 1.10; trailing zeros and "ga"/"final"/"release" qualifiers compare equal to nothing.
"""
from __future__ import annotations

import re

_TOKEN = re.compile(r"\d+|[a-zA-Z]+")
# Known qualifiers before (negative) and after (positive) the release itself (rank 0).
_QUALIFIERS = {"alpha": -5, "a": -5, "beta": -4, "b": -4, "milestone": -3, "m": -3, "rc": -2, "cr": -2,
               "snapshot": -1, "": 0, "ga": 0, "final": 0, "release": 0, "sp": 1}


def _item(token: str) -> tuple:
    if token.isdigit():
        return (2, int(token), "")
    rank = _QUALIFIERS.get(token.lower())
    if rank is not None:
        return (1 if rank > 0 else 0, rank, "")
    return (1, 2, token.lower())  # unknown qualifiers sort after "sp", alphabetically


def sort_key(version: str) -> tuple:
    items = [_item(t) for t in _TOKEN.findall(version)]
    # Zeros ending a numeric run carry no weight ("1.0-alpha" == "1-alpha"), nor do release qualifiers.
    kept: list[tuple] = []
    for item in reversed(items):
        if item == (0, 0, "") or (item == (2, 0, "") and (not kept or kept[-1][0] != 2)):
            continue
        kept.append(item)
    items = kept[::-1]
    # Pad so "1.0" vs "1.0.1" compares a missing item as the release rank, below any number.
    return tuple(items) + ((0, 0, ""),)


def newest(versions) -> str:
    return max(versions, key=sort_key) if versions else ""


def ordered(versions) -> list[str]:
    return sorted(set(versions), key=sort_key)
