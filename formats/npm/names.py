"""npm package names, versions and tarball file names: validation and the layout under a repository.

Publishing follows validate-npm-package-name's rules for new packages (lowercase, at most 214
characters, URL-safe, no leading '.' or '_', scope form `@scope/name`). Reading is more lenient
(legacy upstream names such as `JSONStream` have capitals) but still never lets a name become a
path outside `<name>/-/`.
"""
from __future__ import annotations

import re

from formats.base import HttpError

_PART = r"[a-z0-9-~][a-z0-9-._~]*"
NEW_NAME = re.compile(rf"^(?:@({_PART})/)?({_PART})$")
READ_NAME = re.compile(r"^(?:@([A-Za-z0-9-~][A-Za-z0-9-._~]*)/)?([A-Za-z0-9-~][A-Za-z0-9-._~]*)$")
# A loose semver: what npm itself publishes always matches; build metadata is kept as text.
VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$")
TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9@][A-Za-z0-9._~@+-]{0,250}$")
BLOCKED = {"node_modules", "favicon.ico"}


def valid_name(name: str, new: bool = False) -> bool:
    match = (NEW_NAME if new else READ_NAME).match(name or "")
    if not match or len(name) > 214:
        return False
    return match.group(2) not in BLOCKED and not name.startswith((".", "_"))


def check_name(name: str, new: bool = False) -> str:
    if not valid_name(name, new):
        raise HttpError(400, f"invalid package name {name!r}: npm names are lowercase, URL-safe, "
                             "at most 214 characters, optionally @scope/name")
    return name


def scope_of(name: str) -> str:
    return name.split("/", 1)[0] if name.startswith("@") else ""


def basename(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def valid_version(version: str) -> bool:
    return bool(isinstance(version, str) and len(version) <= 255 and VERSION.match(version))


def tarball_name(name: str, version: str) -> str:
    return f"{basename(name)}-{version}.tgz"


def tarball_path(name: str, version: str) -> str:
    """Where a version's tarball lives under the repository (npmjs's layout, scope dropped from the file)."""
    return f"{name}/-/{tarball_name(name, version)}"


def valid_filename(filename: str) -> bool:
    return bool(SAFE_SEGMENT.match(filename or "")) and filename not in (".", "..") and ".." not in filename


def semver_key(version: str):
    """Sort key: release > its prereleases, numeric prerelease parts before alphanumeric ones."""
    match = VERSION.match(version or "")
    if not match:
        return (-1, -1, -1, 0, ())
    major, minor, patch, pre, _ = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), 0, parts)


def highest(versions, include_prerelease: bool = False) -> str | None:
    candidates = [v for v in versions if include_prerelease or "-" not in v.split("+")[0]]
    if not candidates and not include_prerelease:
        candidates = list(versions)
    return max(candidates, key=semver_key) if candidates else None


def looks_like_range(tag: str) -> bool:
    """npm refuses dist-tags that parse as a semver range (e.g. `1.x`, `^2`); so do we."""
    return bool(re.match(r"^[\^~<>=v\d]", tag or "")) or tag in ("*", "x", "X")
