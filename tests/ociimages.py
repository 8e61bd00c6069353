"""Small OCI images built by hand, without a network: layers, configs, manifests, indexes, layouts.

`make_image(files, arch=...)` returns the blobs and manifest of a one-layer image;
`write_layout(folder, {tag: image or index})` writes an OCI image layout that
`skopeo copy oci:<folder>:<tag> docker://...` pushes.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
EMPTY = b"{}"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, **extra) -> dict:
    return {"mediaType": media_type, "digest": digest(data), "size": len(data), **extra}


def layer(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tf.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


@dataclass
class Image:
    manifest: bytes
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest -> bytes (config and layers)
    media_type: str = OCI_MANIFEST

    @property
    def digest(self) -> str:
        return digest(self.manifest)


def make_image(files: dict[str, bytes] | None = None, arch: str = "amd64", layers: int = 1,
               subject: dict | None = None, artifact_type: str = "", annotations: dict | None = None) -> Image:
    files = files or {"hello.txt": b"hello from packyard\n"}
    blobs = [layer({k: v + bytes(str(i), "ascii") for k, v in files.items()}) for i in range(layers)]
    diff_ids = ["sha256:" + hashlib.sha256(gzip.decompress(b)).hexdigest() for b in blobs]
    config = json.dumps({
        "architecture": arch, "os": "linux", "created": "2024-01-02T03:04:05Z",
        "config": {"Cmd": ["/hello.txt"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }, sort_keys=True).encode()
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
           "layers": [descriptor(OCI_LAYER, b) for b in blobs]}
    if artifact_type:
        doc["artifactType"] = artifact_type
    if subject:
        doc["subject"] = subject
    if annotations:
        doc["annotations"] = annotations
    return Image(json.dumps(doc, indent=2).encode(), {digest(config): config, **{digest(b): b for b in blobs}})


def make_index(images: dict[str, Image]) -> Image:
    """An OCI index over images keyed by architecture; its children travel in .blobs as manifests."""
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        descriptor(OCI_MANIFEST, img.manifest, platform={"architecture": arch, "os": "linux"})
        for arch, img in images.items()]}
    index = Image(json.dumps(doc, indent=2).encode(), media_type=OCI_INDEX)
    index.children = list(images.values())  # type: ignore[attr-defined]
    return index


def write_layout(folder: Path, tagged: dict[str, Image]) -> Path:
    folder = Path(folder)
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> None:
        (blobs / digest(data).split(":", 1)[1]).write_bytes(data)

    entries = []
    for tag, img in tagged.items():
        for child in getattr(img, "children", []):
            put(child.manifest)
            for data in child.blobs.values():
                put(data)
        for data in img.blobs.values():
            put(data)
        put(img.manifest)
        entries.append(descriptor(img.media_type, img.manifest, annotations={"org.opencontainers.image.ref.name": tag}))
    (folder / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (folder / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}))
    return folder
