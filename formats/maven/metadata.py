"""maven-metadata.xml as a plain dict: safe parsing, merging (virtual repositories) and rendering.

The dict has the keys groupId, artifactId, version, versions, lastUpdated, snapshot
({timestamp, buildNumber, localCopy}), snapshotVersions ([{classifier, extension, value, updated}])
and plugins ([{name, prefix, artifactId}]); `latest` and `release` are never stored, they are
recomputed from `versions` by Maven version order whenever a document is rendered.
Uploads are parsed with xml.etree behind a size cap and with DOCTYPE/ENTITY refused, which
closes the entity-expansion and external-entity doors (defusedxml is not available).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from . import versions as mv

MAX_BYTES = 1024 * 1024
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class BadMetadata(ValueError):
    pass


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def _child(element, name: str):
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def parse(data: bytes) -> dict:
    """Raise BadMetadata unless `data` is a well-formed <metadata> document of reasonable size."""
    if len(data) > MAX_BYTES:
        raise BadMetadata(f"maven-metadata.xml larger than {MAX_BYTES} bytes")
    if _DTD.search(data):
        raise BadMetadata("maven-metadata.xml must not contain a DOCTYPE or ENTITY declaration")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise BadMetadata(f"malformed maven-metadata.xml: {exc}") from None
    if _local(root.tag) != "metadata":
        raise BadMetadata(f"expected a <metadata> root element, found <{_local(root.tag)}>")
    doc = {"groupId": _text(root, "groupId"), "artifactId": _text(root, "artifactId"), "version": _text(root, "version"),
           "versions": [], "lastUpdated": "", "snapshot": None, "snapshotVersions": [], "plugins": []}
    versioning = _child(root, "versioning")
    if versioning is not None:
        doc["lastUpdated"] = _text(versioning, "lastUpdated")
        listed = _child(versioning, "versions")
        if listed is not None:
            doc["versions"] = [(v.text or "").strip() for v in listed if _local(v.tag) == "version" and (v.text or "").strip()]
        for name in ("latest", "release"):  # some writers list a version only there
            value = _text(versioning, name)
            if value and value not in doc["versions"]:
                doc["versions"].append(value)
        snap = _child(versioning, "snapshot")
        if snap is not None:
            build = _text(snap, "buildNumber")
            doc["snapshot"] = {"timestamp": _text(snap, "timestamp"), "buildNumber": int(build) if build.isdigit() else 0,
                               "localCopy": _text(snap, "localCopy") == "true"}
        entries = _child(versioning, "snapshotVersions")
        for entry in entries if entries is not None else []:
            if _local(entry.tag) == "snapshotVersion":
                doc["snapshotVersions"].append({k: _text(entry, k) for k in ("classifier", "extension", "value", "updated")})
    plugins = _child(root, "plugins")
    for plugin in plugins if plugins is not None else []:
        if _local(plugin.tag) == "plugin":
            doc["plugins"].append({k: _text(plugin, k) for k in ("name", "prefix", "artifactId")})
    return doc


def merge(docs: list[dict]) -> dict:
    """Nexus-style group merge: versions unioned, newest snapshot, snapshotVersions by (extension, classifier)."""
    first = docs[0]
    out = {"groupId": first["groupId"], "artifactId": first["artifactId"], "version": first["version"],
           "versions": [], "lastUpdated": "", "snapshot": None, "snapshotVersions": [], "plugins": []}
    entries: dict[tuple, dict] = {}
    plugins: dict[tuple, dict] = {}
    for doc in docs:
        if (doc["groupId"], doc["artifactId"]) != (out["groupId"], out["artifactId"]):
            continue  # a member answering for other coordinates is ignored, as Nexus does
        out["versions"] += doc["versions"]
        out["lastUpdated"] = max(out["lastUpdated"], doc["lastUpdated"])
        snap = doc["snapshot"]
        if snap and (out["snapshot"] is None or (snap["timestamp"], snap["buildNumber"]) >
                     (out["snapshot"]["timestamp"], out["snapshot"]["buildNumber"])):
            out["snapshot"] = snap
        for entry in doc["snapshotVersions"]:
            key = (entry["extension"], entry["classifier"])
            if key not in entries or mv.sort_key(entry["value"]) > mv.sort_key(entries[key]["value"]):
                entries[key] = entry
        for plugin in doc["plugins"]:
            plugins.setdefault((plugin["artifactId"], plugin["prefix"]), plugin)
    out["versions"] = mv.ordered(out["versions"])
    out["snapshotVersions"] = list(entries.values())
    out["plugins"] = sorted(plugins.values(), key=lambda p: p["artifactId"])
    return out


def _tag(name: str, value) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def render(doc: dict) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<metadata modelVersion="1.1.0">']
    for key in ("groupId", "artifactId", "version"):
        if doc.get(key):
            lines.append("  " + _tag(key, doc[key]))
    versions = mv.ordered(doc.get("versions") or [])
    if versions or doc.get("snapshot") or doc.get("snapshotVersions"):
        lines.append("  <versioning>")
        if versions:
            lines.append("    " + _tag("latest", versions[-1]))
            releases = [v for v in versions if not v.endswith("-SNAPSHOT")]
            if releases:
                lines.append("    " + _tag("release", releases[-1]))
            lines.append("    <versions>")
            lines += ["      " + _tag("version", v) for v in versions]
            lines.append("    </versions>")
        snap = doc.get("snapshot")
        if snap:
            inner = (_tag("localCopy", "true") if snap.get("localCopy") else
                     _tag("timestamp", snap["timestamp"]) + _tag("buildNumber", snap["buildNumber"]))
            lines.append(f"    <snapshot>{inner}</snapshot>")
        if doc.get("lastUpdated"):
            lines.append("    " + _tag("lastUpdated", doc["lastUpdated"]))
        if doc.get("snapshotVersions"):
            lines.append("    <snapshotVersions>")
            for entry in doc["snapshotVersions"]:
                parts = "".join(_tag(k, entry[k]) for k in ("classifier", "extension", "value", "updated") if entry.get(k))
                lines.append(f"      <snapshotVersion>{parts}</snapshotVersion>")
            lines.append("    </snapshotVersions>")
        lines.append("  </versioning>")
    if doc.get("plugins"):
        lines.append("  <plugins>")
        for plugin in doc["plugins"]:
            parts = "".join(_tag(k, plugin[k]) for k in ("name", "prefix", "artifactId") if plugin.get(k))
            lines.append(f"    <plugin>{parts}</plugin>")
        lines.append("  </plugins>")
    lines.append("</metadata>")
    return ("\n".join(lines) + "\n").encode()


def empty(group: str = "", artifact: str = "", version: str = "") -> dict:
    return {"groupId": group, "artifactId": artifact, "version": version, "versions": [], "lastUpdated": "",
            "snapshot": None, "snapshotVersions": [], "plugins": []}
