"""Manifest parsing: which of the four manifest types a body is, and what it points at.

Accepted: Docker schema 2 manifest and manifest list, OCI image manifest and index (with OCI 1.1
artifactType and subject). Unknown config, layer and artifact types are accepted as the spec
requires; schema 1 and unknown manifest media types are refused with MANIFEST_INVALID, as are
bodies that read as both an image and an index, non-string annotations, sizes past 2**63-1, and
stored strings no database can hold (NUL, lone surrogates): each was a 500 or a spec violation.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .errors import SHA256, DockerError

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_LIST, OCI_INDEX)
MANIFEST_TYPES = IMAGE_TYPES + INDEX_TYPES
IMAGE_CONFIG_TYPES = ("application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json")
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
# Sizes land in BigIntegerFields (Manifest.content_size is their sum): a larger number would
# overflow the column (OverflowError on SQLite, DataError on PostgreSQL) and answer 500.
MAX_SIZE = 2**63 - 1


@dataclass
class Parsed:
    media_type: str
    blobs: list[str] = field(default_factory=list)          # config + layers that must be in the repository
    children: list[str] = field(default_factory=list)       # index entries that must be in the repository
    subject: str = ""
    artifact_type: str = ""
    config_media_type: str = ""
    config_digest: str = ""
    annotations: dict = field(default_factory=dict)
    platforms: list[dict] = field(default_factory=list)
    layer_count: int = 0
    content_size: int = 0


def invalid(message: str, detail=None) -> DockerError:
    return DockerError(400, "MANIFEST_INVALID", message, detail)


def _storable(text: str) -> bool:
    """Whether a database can hold the string. PostgreSQL refuses NUL in text and jsonb columns,
    and no driver encodes a lone UTF-16 surrogate, which json.loads makes of "\\ud800" (or of
    raw surrogate bytes, which it decodes with surrogatepass): either would be a 500 at INSERT."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _descriptor(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise invalid(f"{where} must be a descriptor object")
    digest, size, media_type = value.get("digest"), value.get("size"), value.get("mediaType")
    if not isinstance(digest, str) or not SHA256.match(digest):
        raise invalid(f"{where} has an invalid or unsupported digest", {"digest": str(digest)[:200]})
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or size > MAX_SIZE:
        raise invalid(f"{where} has an invalid size")
    if not isinstance(media_type, str) or not media_type:
        raise invalid(f"{where} lacks a mediaType")
    if not _storable(media_type):  # a config's mediaType is stored (Manifest.config_media_type)
        raise invalid(f"{where} has a mediaType with a NUL or unpaired surrogate character")
    return value


def parse(data: bytes, content_type: str) -> Parsed:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise invalid("the manifest is not valid JSON") from None
    except RecursionError:  # e.g. b"[" * 100000: nested deeper than the parser's stack allows
        raise invalid("the manifest's JSON is nested too deeply") from None
    if not isinstance(doc, dict):
        raise invalid("the manifest must be a JSON object")
    if doc.get("schemaVersion") != 2:
        raise invalid("only schemaVersion 2 manifests are accepted (schema 1 is deprecated)")
    declared = doc.get("mediaType")
    header = (content_type or "").split(";", 1)[0].strip()
    if declared is not None and not isinstance(declared, str):
        raise invalid("mediaType must be a string")
    media_type = declared or (header if header in MANIFEST_TYPES else "")
    if not media_type:
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    if media_type not in MANIFEST_TYPES:
        raise invalid(f"unsupported manifest media type {media_type[:200]!r}")
    if declared and header in MANIFEST_TYPES and header != declared:
        raise invalid(f"Content-Type {header} does not match the manifest's mediaType {declared}")
    # A body that reads as both an image and an index means different content to different
    # clients under one digest (CVE-2021-41190); distribution and containers/image refuse it.
    if media_type in IMAGE_TYPES and doc.get("manifests") is not None:
        raise invalid("an image manifest must not have a manifests field")
    if media_type in INDEX_TYPES and (doc.get("layers") is not None or doc.get("config") is not None):
        raise invalid("an index must not have config or layers fields")
    parsed = Parsed(media_type=media_type)
    artifact_type = doc.get("artifactType", "")
    if not isinstance(artifact_type, str) or not _storable(artifact_type):
        raise invalid("artifactType must be a string without NUL or unpaired surrogate characters")
    parsed.artifact_type = artifact_type
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise invalid("annotations must be an object")
    # The spec makes annotations a map of string to string (distribution refuses anything else).
    # Checking that also keeps them storable: no NaN/Infinity (PostgreSQL jsonb and SQLite's
    # JSON_VALID refuse them), no nesting to re-serialise, and no NUL or lone surrogate.
    for key, value in annotations.items():
        if not isinstance(value, str) or not _storable(key) or not _storable(value):
            raise invalid("annotations must map strings to strings without NUL or unpaired surrogate characters",
                          {"annotation": key[:200]})
    parsed.annotations = annotations
    if doc.get("subject") is not None:
        parsed.subject = _descriptor(doc["subject"], "subject")["digest"]
    if media_type in IMAGE_TYPES:
        config = _descriptor(doc.get("config"), "config")
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise invalid("layers must be a list")
        parsed.config_media_type = config["mediaType"]
        parsed.config_digest = config["digest"]
        parsed.blobs.append(config["digest"])
        parsed.content_size = config["size"]
        for i, layer in enumerate(layers):
            layer = _descriptor(layer, f"layers[{i}]")
            parsed.content_size += layer["size"]
            if parsed.content_size > MAX_SIZE:  # each size fits the column, but the sum must too
                raise invalid("the descriptors' sizes add up to more than 2**63-1 bytes")
            parsed.layer_count += 1
            if not layer.get("urls"):  # foreign layers live elsewhere and are never pushed
                parsed.blobs.append(layer["digest"])
    else:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise invalid("manifests must be a list")
        for i, entry in enumerate(entries):
            entry = _descriptor(entry, f"manifests[{i}]")
            parsed.children.append(entry["digest"])
            parsed.content_size += entry["size"]
            if parsed.content_size > MAX_SIZE:  # each size fits the column, but the sum must too
                raise invalid("the descriptors' sizes add up to more than 2**63-1 bytes")
            platform = entry.get("platform")
            if isinstance(platform, dict):
                # Stored in Manifest.platforms: like non-string values, unstorable strings are left out.
                parsed.platforms.append({k: v for k, v in platform.items()
                                         if isinstance(v, str) and _storable(k) and _storable(v)})
    return parsed


def image_config(data: bytes) -> tuple[list[dict], str]:
    """([platform], created) read from an image config blob; nothing when it is not one."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested too deeply
        return [], ""
    if not isinstance(doc, dict):
        return [], ""

    def text(key: str) -> str:
        # Stored in Manifest.platforms / image_created: a string a database cannot hold counts as absent.
        value = doc.get(key)
        return value if isinstance(value, str) and _storable(value) else ""

    platform = {k: text(k) for k in ("os", "architecture", "variant") if text(k)}
    return ([platform] if platform else []), text("created")[:64]
