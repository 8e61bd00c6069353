"""A remote repository's packuments: fetched through the upstream cache, parsed once per content.

`fetch(repo, name)` returns the core's Cached entry (TTL, single flight, negative cache,
stale-if-error, If-None-Match to the upstream). `doc(repo, name, cached)` parses it into the
middle form of docs.py with tarball URLs rewritten to `<name>/-/<upstream file name>`;
`file_entry(...)` answers, per file name, the upstream URL and digests the download is verified
against. The parse runs once per packument content (keyed by the blob's sha256).

Memory, for packuments with thousands of versions (a 20 MB one: measured in docs/benchmarks.md):
the blob is decoded to text and the bytes dropped before the JSON parse, so the peak is text +
tree rather than bytes + text + tree; the file index (about 200 bytes a version) is cached under
its own key, so a tarball download never loads the whole document; and a client's repeat request
is answered from packument.py's bytes cache, so the parsed document is only read to build bytes.
"""
from __future__ import annotations

import base64
import json
from urllib.parse import unquote, urlparse

from django.core.cache import cache

from formats.base import open_blob
from formats.base import get_metadata, upstream_url

from . import names

PARSE_CACHE_SECONDS = 24 * 3600
ACCEPT = "application/json"


def escaped(name: str) -> str:
    return name.replace("/", "%2f")


def fetch(repository, name: str):
    """Raises UpstreamMissing or UpstreamUnavailable."""
    url = upstream_url(repository, escaped(name))
    return get_metadata(repository, f"packument/{name}", url, headers={"Accept": ACCEPT})


def _keys(name: str, cached) -> tuple[str, str]:
    return f"npm:remote:{cached.blob.sha256}:{name}", f"npm:remote-files:{cached.blob.sha256}:{name}"


def _load(blob):
    with open_blob(blob) as fh:
        try:
            text = fh.read().decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _parse_and_cache(name: str, cached) -> tuple[dict, dict]:
    doc_key, files_key = _keys(name, cached)
    raw = _load(cached.blob)
    parsed = parse(name, raw) if isinstance(raw, dict) else {"missing": True}
    del raw
    files = parsed.pop("files", {})
    cache.set(files_key, files, PARSE_CACHE_SECONDS)
    cache.set(doc_key, parsed, PARSE_CACHE_SECONDS)
    return parsed, files


def doc(repository, name: str, cached) -> dict | None:
    """The parsed document (without the file index), or None when the upstream's packument is unusable."""
    parsed = cache.get(_keys(name, cached)[0])
    if parsed is None:
        parsed, _ = _parse_and_cache(name, cached)
    return None if parsed.get("missing") else parsed


def file_entry(repository, name: str, cached, filename: str) -> dict | None:
    """{url, version, integrity, shasum} of one upstream tarball, read from the small index."""
    files = cache.get(_keys(name, cached)[1])
    if files is None:
        _, files = _parse_and_cache(name, cached)
    return files.get(filename)


def parse(name: str, raw: dict) -> dict:
    versions, files = {}, {}
    raw_versions = raw.get("versions") if isinstance(raw.get("versions"), dict) else {}
    for version, manifest in raw_versions.items():
        if not isinstance(manifest, dict) or not names.valid_version(version):
            continue
        dist = manifest.get("dist") if isinstance(manifest.get("dist"), dict) else {}
        url = dist.get("tarball")
        if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https"):
            continue
        filename = unquote(urlparse(url).path.rsplit("/", 1)[-1])
        if not names.valid_filename(filename) or not filename.endswith(".tgz"):
            filename = names.tarball_name(name, version)
        files[filename] = {"url": url, "version": version, "integrity": dist.get("integrity", ""),
                           "shasum": dist.get("shasum", "")}
        manifest = dict(manifest)
        manifest["dist"] = {**dist, "tarball": f"{name}/-/{filename}"}
        versions[version] = manifest
    dist_tags = {t: v for t, v in (raw.get("dist-tags") or {}).items()
                 if isinstance(t, str) and isinstance(v, str) and v in versions}
    if versions and "latest" not in dist_tags:
        dist_tags["latest"] = names.highest(versions)
    time = {k: v for k, v in (raw.get("time") or {}).items() if isinstance(v, str) and (k in versions or k in ("created", "modified"))}
    info = {k: raw[k] for k in ("description", "readme", "readmeFilename", "maintainers", "keywords", "license",
                                "homepage", "repository", "author", "bugs") if k in raw}
    return {"name": name, "dist-tags": dist_tags, "versions": versions, "time": time, "info": info,
            "rev": str(raw.get("_rev") or "1-0"), "files": files}


def expected_digests(entry: dict) -> dict:
    """What fetch_file verifies the tarball against: sha512 from the SRI integrity, else the sha1 shasum."""
    for part in str(entry.get("integrity") or "").split():
        algo, _, value = part.partition("-")
        if algo == "sha512" and value:
            try:
                return {"sha512": base64.b64decode(value.split("?")[0]).hex()}
            except ValueError:
                break
    if entry.get("shasum"):
        return {"sha1": entry["shasum"]}
    return {}
