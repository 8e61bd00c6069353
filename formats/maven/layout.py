"""Maven 2 repository layout: parse and validate a path under /repository/<name>/.

A path is one of
- a file:      <g1>/<g2>/<artifactId>/<version>/<artifactId>-<version>[-<classifier>].<ext>
               (under a -SNAPSHOT version directory the file may carry the timestamped version
               `<base>-<yyyyMMdd.HHmmss>-<build>` instead of `<version>`);
- metadata:    <g...>/<artifactId>/maven-metadata.xml (artifact, or group level for plugins)
               <g...>/<artifactId>/<version>-SNAPSHOT/maven-metadata.xml (snapshot level);
- a checksum of either: the path plus .md5, .sha1, .sha256 or .sha512.
`parse` raises BadPath with a message fit for a 400 reason phrase; `check_segments` applies the
same per-segment rules to any path, folders included (DELETE of a version or artifact folder).
A file is `mutable` when it sits under a -SNAPSHOT directory with the literal -SNAPSHOT in its
name (a non-unique snapshot): the same URL can name other bytes tomorrow, unlike releases and
timestamped builds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from formats.base import InvalidName, check_path

CHECKSUMS = ("md5", "sha1", "sha256", "sha512")
METADATA = "maven-metadata.xml"
SEGMENT = re.compile(r"^[A-Za-z0-9_~+][A-Za-z0-9._~+\-]*$")
TIMESTAMPED = re.compile(r"^(\d{8}\.\d{6})-(\d+)")
TAIL = re.compile(r"^(?:-([A-Za-z0-9_~+][A-Za-z0-9_~+\-]*))?\.([A-Za-z0-9_~+\-]+(?:\.[A-Za-z0-9_~+\-]+)*)$")
CONTENT_TYPES = {
    "jar": "application/java-archive", "war": "application/java-archive", "ear": "application/java-archive",
    "pom": "text/xml", "xml": "text/xml", "asc": "application/pgp-signature", "module": "application/json",
    "md5": "text/plain", "sha1": "text/plain", "sha256": "text/plain", "sha512": "text/plain",
}


class BadPath(ValueError):
    pass


@dataclass
class MavenPath:
    path: str
    kind: str  # "file" | "metadata"
    group: str = ""
    artifact: str = ""
    version: str = ""  # the version directory (base version for snapshots)
    filename: str = ""
    classifier: str = ""
    extension: str = ""
    timestamp: str = ""  # timestamped snapshot files only
    build: int = 0
    checksum: str = ""  # algorithm, when the path is a checksum of `target`
    target: str = ""

    @property
    def package(self) -> str:
        return f"{self.group}:{self.artifact}"

    @property
    def snapshot(self) -> bool:
        return is_snapshot(self.version)

    @property
    def level(self) -> str:
        if self.kind != "metadata":
            return ""
        return "snapshot" if self.version else "artifact"


def is_snapshot(version: str) -> bool:
    return version.endswith("-SNAPSHOT")


def split_checksum(path: str) -> tuple[str, str]:
    for algorithm in CHECKSUMS:
        if path.endswith("." + algorithm):
            return path[: -len(algorithm) - 1], algorithm
    return path, ""


def content_type(filename: str) -> str:
    return CONTENT_TYPES.get(filename.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def check_segments(path: str) -> list[str]:
    """The path's segments; BadPath on traversal, empty segments or characters outside the layout."""
    try:
        check_path(path)
    except InvalidName as exc:
        raise BadPath(str(exc)) from None
    parts = path.split("/")
    for segment in parts:
        if not SEGMENT.match(segment):
            raise BadPath(f"invalid path segment {segment!r}")
    return parts


def parse(path: str) -> MavenPath:
    check_segments(path)
    target, algorithm = split_checksum(path)
    parts = target.split("/")
    if parts[-1] == METADATA:
        result = _metadata(parts)
    else:
        result = _file(parts)
    result.path, result.checksum, result.target = path, algorithm, target
    return result


def _metadata(parts: list[str]) -> MavenPath:
    if len(parts) < 2:
        raise BadPath("maven-metadata.xml must sit under a groupId or artifactId directory")
    if len(parts) >= 4 and is_snapshot(parts[-2]):
        return MavenPath("", "metadata", group=".".join(parts[:-3]), artifact=parts[-3], version=parts[-2],
                         filename=METADATA)
    # Artifact level, or group level (plugin prefixes) when the path is only a groupId.
    return MavenPath("", "metadata", group=".".join(parts[:-2]), artifact=parts[-2], filename=METADATA)


def _file(parts: list[str]) -> MavenPath:
    if len(parts) < 4:
        raise BadPath("expected groupId/artifactId/version/file (e.g. org/example/app/1.0/app-1.0.jar)")
    artifact, version, filename = parts[-3], parts[-2], parts[-1]
    found = MavenPath("", "file", group=".".join(parts[:-3]), artifact=artifact, version=version, filename=filename)
    prefix = f"{artifact}-{version}"
    if filename.startswith(prefix) and TAIL.match(filename[len(prefix):]):
        rest = filename[len(prefix):]
    elif is_snapshot(version) and filename.startswith(f"{artifact}-{version[:-len('SNAPSHOT')]}"):
        rest = filename[len(artifact) + 1 + len(version) - len("SNAPSHOT"):]
        stamp = TIMESTAMPED.match(rest)
        if not stamp:
            raise BadPath(f"file name {filename} does not match {artifact}-{version} or a timestamped snapshot of it")
        found.timestamp, found.build = stamp.group(1), int(stamp.group(2))
        rest = rest[stamp.end():]
    else:
        raise BadPath(f"file name {filename} does not start with {prefix} (artifactId-version)")
    tail = TAIL.match(rest)
    if not tail:
        raise BadPath(f"file name {filename}: expected {prefix}[-classifier].extension")
    found.classifier, found.extension = tail.group(1) or "", tail.group(2)
    return found


def mutable(mp: MavenPath | None) -> bool:
    return mp is not None and mp.kind == "file" and mp.snapshot and not mp.timestamp


def is_mutable_path(path: str) -> bool:
    """Does `path` name a non-unique SNAPSHOT file (which a remote must recheck upstream)?"""
    if "SNAPSHOT" not in path:
        return False  # the common case costs no parsing
    try:
        return mutable(parse(path))
    except BadPath:
        return False


def snapshot_value(mp: MavenPath) -> str:
    """The version a snapshotVersion entry names for this file (timestamped, or the -SNAPSHOT one)."""
    if mp.timestamp:
        return f"{mp.version[:-len('-SNAPSHOT')]}-{mp.timestamp}-{mp.build}"
    return mp.version
