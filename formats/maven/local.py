"""maven-metadata.xml of a local repository, generated from its Asset rows (never from uploads).

- artifact level `<g>/<a>/maven-metadata.xml`: the versions of package `g:a` (snapshots by their
  base version), latest/release by Maven version order, lastUpdated = the newest file;
- snapshot level `<g>/<a>/<v>-SNAPSHOT/maven-metadata.xml`: the newest timestamped build
  (timestamp, buildNumber) and, per (classifier, extension), the newest file's value;
- group level `<g>/maven-metadata.xml`: the plugin prefixes deployed with maven-plugin projects,
  kept as one generated Asset (kind "plugins") because no file row carries them.
`state(repo, mp)` is the cheap row aggregate that changes whenever the document would.
"""
from __future__ import annotations

from django.db.models import Count, Max

from formats.base import Asset

from . import metadata as md
from .layout import MavenPath

def _rows(repository, mp: MavenPath):
    rows = Asset.objects.filter(repository=repository, package=mp.package, meta__kind="file")
    return rows.filter(version=mp.version) if mp.level == "snapshot" else rows


def state(repository, mp: MavenPath) -> list | None:
    """Row aggregates for the document at `mp`, or None when the repository has nothing for it."""
    agg = _rows(repository, mp).aggregate(n=Count("id"), last=Max("id"), modified=Max("modified"))
    plugins = None
    if mp.level == "artifact":
        plugins = Asset.objects.filter(repository=repository, path=mp.target, meta__kind="plugins").values_list(
            "blob__sha256", flat=True).first()
    if not agg["n"] and not plugins:
        return None
    return [repository.pk, agg["n"], agg["last"], str(agg["modified"]), plugins]


def _stamp(when) -> str:
    return when.strftime("%Y%m%d%H%M%S")


def document(repository, mp: MavenPath) -> dict:
    rows = list(_rows(repository, mp).only("version", "meta", "modified", "created"))
    if mp.level == "snapshot":
        return _snapshot_doc(mp, rows)
    doc = md.empty(mp.group, mp.artifact)
    if rows:
        doc["versions"] = sorted({r.version for r in rows})
        doc["lastUpdated"] = _stamp(max(r.modified for r in rows))
    plugins = Asset.objects.filter(repository=repository, path=mp.target, meta__kind="plugins").first()
    if plugins is not None:
        doc["plugins"] = plugins.meta.get("plugins", [])
        if not rows:
            doc["groupId"] = ""
            doc["artifactId"] = ""
    return doc


def _snapshot_doc(mp: MavenPath, rows: list) -> dict:
    doc = md.empty(mp.group, mp.artifact, mp.version)
    if not rows:
        return doc
    doc["lastUpdated"] = _stamp(max(r.modified for r in rows))
    builds = [(r.meta.get("timestamp", ""), r.meta.get("build", 0)) for r in rows if r.meta.get("timestamp")]
    if builds:
        timestamp, build = max(builds)
        doc["snapshot"] = {"timestamp": timestamp, "buildNumber": build, "localCopy": False}
    newest: dict[tuple, tuple] = {}
    for row in rows:
        meta = row.meta
        key = (meta.get("classifier", ""), meta.get("extension", ""))
        rank = (meta.get("timestamp", ""), meta.get("build", 0), row.modified)
        if key not in newest or rank > newest[key][0]:
            newest[key] = (rank, meta.get("value", mp.version), _stamp(row.modified))
    for (classifier, extension), (_, value, updated) in sorted(newest.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        doc["snapshotVersions"].append({"classifier": classifier, "extension": extension, "value": value,
                                        "updated": updated})
    return doc
