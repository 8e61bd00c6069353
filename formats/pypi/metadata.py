"""Project names, distribution file names and core metadata (a wheel's METADATA).

- `normalize` / `valid_name`: PEP 503 names;
- `parse_filename`: (normalized project, Version) of a wheel or sdist file name, strictly;
- `version_of`: the version string of a file name, leniently (for upstream pages);
- `wheel_metadata`: the bytes of `<name>-<version>.dist-info/METADATA` inside a wheel, bounded;
- `requires_python`: the Requires-Python header of core metadata bytes.
"""
from __future__ import annotations

import re
import zipfile
from email.parser import BytesHeaderParser

from packaging.utils import (
    InvalidSdistFilename, InvalidWheelFilename, canonicalize_name, parse_sdist_filename, parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
# A file name we are willing to store or link: one path segment of printable ASCII.
FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+!-]*$")
METADATA_MAX_BYTES = 8 * 1024 * 1024

SDIST_EXTENSIONS = (".tar.gz", ".zip")
FILETYPES = {"sdist": SDIST_EXTENSIONS, "bdist_wheel": (".whl",)}


class BadDistribution(ValueError):
    """An uploaded file that is not what it claims to be; the message is shown to the client."""


def valid_name(name: str) -> bool:
    return bool(name) and len(name) <= 200 and bool(NAME.match(name))


def normalize(name: str) -> str:
    return canonicalize_name(name)


def valid_filename(filename: str) -> bool:
    return bool(filename) and len(filename) <= 255 and bool(FILENAME.match(filename)) and ".." not in filename


def parse_filename(filename: str) -> tuple[str, Version]:
    """(normalized name, version) of a wheel or sdist file name; BadDistribution when it does not parse."""
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
        elif filename.endswith(SDIST_EXTENSIONS):
            name, version = parse_sdist_filename(filename)
        else:
            raise BadDistribution(f"unsupported file type: {filename}")
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as exc:
        raise BadDistribution(f"invalid distribution file name {filename!r}: {exc}") from None
    return normalize(name), version


_LENIENT_SDIST = re.compile(r"^(?P<name>.+?)-(?P<version>[0-9][^-]*?)(\.tar\.gz|\.tar\.bz2|\.tgz|\.zip|\.tar)$")


def version_of(filename: str) -> str:
    """The version in a file name, or '' (upstream pages list eggs, exes and odd sdists too)."""
    try:
        return str(parse_filename(filename)[1])
    except BadDistribution:
        pass
    match = _LENIENT_SDIST.match(filename)
    if match:
        return match.group("version")
    parts = filename.split("-")
    return parts[1] if len(parts) > 2 else ""


def same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def wheel_metadata(path: str, project: str) -> bytes:
    """The core metadata of the wheel at `path` (its top-level *.dist-info/METADATA)."""
    try:
        with zipfile.ZipFile(path) as zf:
            candidates = [
                info for info in zf.infolist()
                if info.filename.count("/") == 1 and info.filename.endswith(".dist-info/METADATA")
            ]
            # A wheel may vendor other dist-info folders deeper down; the top-level one named
            # after the project is the wheel's own.
            own = [i for i in candidates if normalize(i.filename.split("/")[0][: -len(".dist-info")].rsplit("-", 1)[0]) == project]
            chosen = (own or candidates)[:1]
            if not chosen:
                raise BadDistribution("wheel has no .dist-info/METADATA file")
            info = chosen[0]
            if info.file_size > METADATA_MAX_BYTES:
                raise BadDistribution("wheel METADATA is too large")
            with zf.open(info) as fh:
                data = fh.read(METADATA_MAX_BYTES + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError) as exc:
        raise BadDistribution(f"invalid wheel: {exc}") from None
    if len(data) > METADATA_MAX_BYTES:
        raise BadDistribution("wheel METADATA is too large")
    return data


def requires_python(metadata: bytes) -> str:
    headers = BytesHeaderParser().parsebytes(metadata)
    return " ".join((headers.get("Requires-Python") or "").split())
