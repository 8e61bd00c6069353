"""A big OCI image for the Docker benchmark, written straight to an OCI layout on disk.

One layer of N MiB of random (incompressible) bytes, stored uncompressed as a plain tar
(application/vnd.oci.image.layer.v1.tar: no gzip cost on either side of a copy) and written in
chunks so it never sits in memory; plus small gzip layers, as a real image has.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile
from pathlib import Path

from tests.ociimages import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Image, descriptor, digest, layer, write_layout

OCI_TAR_LAYER = "application/vnd.oci.image.layer.v1.tar"
MIB = 1024 * 1024


class _Random:
    """A file-like source of n random bytes, for tarfile.addfile."""

    def __init__(self, n: int):
        self.left = n

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return os.urandom(size)


def _big_layer(path: Path, size: int) -> str:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("payload.bin")
        info.size, info.mode, info.mtime = size, 0o644, 0
        tf.addfile(info, _Random(size))
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(4 * MIB), b""):
            sha.update(chunk)
    return "sha256:" + sha.hexdigest()


def write_big_image(folder: Path, tag: str, big_mib: int, small_layers: int) -> Path:
    """An OCI layout at `folder` with `tag` = one big plain-tar layer and `small_layers` gzip ones."""
    folder = Path(folder)
    (folder / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    staging = folder / "big.tar"
    big_digest = _big_layer(staging, big_mib * MIB)
    big_size = staging.stat().st_size
    staging.rename(folder / "blobs" / "sha256" / big_digest.split(":", 1)[1])
    smalls = [layer({f"small/{i}.bin": os.urandom(16 * 1024 + i * 1024)}) for i in range(small_layers)]
    # A plain tar's diff_id is its own digest; a gzip layer's is that of the tar inside.
    diff_ids = [big_digest] + [digest(gzip.decompress(b)) for b in smalls]
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
                         "config": {"Cmd": ["/payload.bin"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids}},
                        sort_keys=True).encode()
    layers = [{"mediaType": OCI_TAR_LAYER, "digest": big_digest, "size": big_size}]
    layers += [descriptor(OCI_LAYER, b) for b in smalls]
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                           "layers": layers}, indent=2).encode()
    image = Image(manifest, {digest(config): config, **{digest(b): b for b in smalls}})
    return write_layout(folder, {tag: image})
