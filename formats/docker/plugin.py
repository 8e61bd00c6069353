"""DockerPlugin: the format's hooks for the REST API (settings, packages, deletes).

Docker clients do not come through /repository/<name>/ but through /v2/ (formats.docker.urls);
handle() only tells a client that wandered there where to go.
"""
from __future__ import annotations

from formats.base import FormatPlugin, HttpError, base_url

from . import store
from .models import Manifest, Tag

SETTINGS = {"immutable_tags": (bool, False)}


class DockerPlugin(FormatPlugin):
    name = "docker"

    def handle(self, request, repository, path):
        host = base_url(request).split("://", 1)[-1]
        raise HttpError(404, f"Docker clients use {host}/{repository.name}/IMAGE:TAG (the /v2/ API)")

    def validate_settings(self, kind, format_settings):
        if not isinstance(format_settings, dict):
            raise ValueError("docker settings must be an object")
        unknown = sorted(set(format_settings) - set(SETTINGS))
        if unknown:
            raise ValueError(f"unknown docker setting(s): {', '.join(unknown)} (known: {', '.join(SETTINGS)})")
        out = {}
        for key, (kind_of, default) in SETTINGS.items():
            value = format_settings.get(key, default)
            if not isinstance(value, kind_of):
                raise ValueError(f"docker.{key} must be true or false")
            out[key] = value
        return out

    def delete_version(self, repository, package, version):
        """API DELETE .../packages/IMAGE/VERSION/: a digest deletes the manifest (and its tags), a tag just the tag."""
        if ":" in version:
            return int(store.delete_manifest(repository, package, version))
        return int(store.delete_tag(repository, package, version))

    def packages(self, repository):
        return packages(repository)


def packages(repository) -> list[dict]:
    """Per image: one version per manifest, with its tags, digest, times, pusher, size, layers, platforms."""
    tags: dict[int, list[str]] = {}
    for manifest_id, name in Tag.objects.filter(repository=repository).values_list("manifest_id", "name"):
        tags.setdefault(manifest_id, []).append(name)
    out: dict[str, dict] = {}
    for m in Manifest.objects.filter(repository=repository).order_by("image", "created", "digest"):
        entry = out.setdefault(m.image, {"name": m.image, "versions": []})
        entry["versions"].append({
            "version": m.digest, "digest": m.digest, "tags": sorted(tags.get(m.pk, [])), "media_type": m.media_type,
            "artifact_type": m.artifact_type, "created": m.image_created or m.created.isoformat(),
            "pushed": m.created.isoformat(), "pushed_by": m.pushed_by, "size": m.size + m.content_size,
            "layers": m.layer_count, "platforms": m.platforms, "subject": m.subject_digest,
            "files": [{"path": f"{m.image}/manifests/{m.digest}", "size": m.size, "sha256": m.digest.split(":", 1)[1],
                       "created": m.created.isoformat(), "uploaded_by": m.pushed_by}],
        })
    return list(out.values())
