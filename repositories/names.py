"""Validation of the names and paths users and clients send (repository names, asset paths)."""
from __future__ import annotations

import re

REPOSITORY_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


class InvalidName(ValueError):
    pass


def check_repository_name(name: str) -> str:
    if not name or len(name) > 64 or not REPOSITORY_NAME.match(name):
        raise InvalidName(
            "repository names are lowercase letters and digits, separated by single '.', '_' or '-', "
            "at most 64 characters"
        )
    return name


def check_path(path: str) -> str:
    """A relative asset path: no empty, '.' or '..' segments, no backslashes or control characters."""
    if not path or path.startswith("/") or "\\" in path or len(path) > 1024:
        raise InvalidName(f"invalid path {path!r}")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise InvalidName("control characters are not allowed in paths")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidName(f"invalid path segment in {path!r}")
    return path
