"""A remote repository's project pages: fetched through the upstream cache, parsed once per content.

`project_page(repo, project)` returns the upstream's files for a project (file name, absolute
upstream URL, hashes, requires-python, yank state, size). The page bytes are cached by the core
(`get_metadata`: TTL, single flight, negative cache, stale-if-error); the parse result is cached
in Django's cache keyed by the page blob's sha256, so neither page views nor downloads re-parse
an unchanged page. Both PEP 691 JSON and PEP 503 HTML upstream pages are understood; relative
hrefs are resolved against the page URL.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urljoin, urlparse

from django.core.cache import cache

from formats.base import get_metadata, read_blob, upstream_url

from . import metadata as md

ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.1, text/html;q=0.01"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# Digests the blob store can check a download against (hashlib names as used in fragments).
VERIFIABLE = {"sha256": "sha256", "sha1": "sha1", "md5": "md5"}
KNOWN_HASHES = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b", "blake2s", "sha3_256", "sha3_512"}
PARSE_CACHE_SECONDS = 24 * 3600


@dataclass
class RemotePage:
    page_sha256: str
    files: list[dict] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)

    def find(self, filename: str) -> dict | None:
        for item in self.files:
            if item["filename"] == filename:
                return item
        return None


def page_key(project: str) -> str:
    return f"simple/{project}/"


def project_page(repository, project: str) -> RemotePage:
    """Raises UpstreamMissing (no such project upstream) or UpstreamUnavailable (down, nothing cached)."""
    url = upstream_url(repository, f"{project}/")
    cached = get_metadata(repository, page_key(project), url, headers={"Accept": ACCEPT})
    sha = cached.blob.sha256
    key = f"pypi:parsed:{sha}:{hashlib.sha256(url.encode()).hexdigest()[:16]}"
    parsed = cache.get(key)
    if parsed is None:
        files, versions = parse_page(read_blob(cached.blob), cached.content_type, url)
        parsed = {"files": files, "versions": versions}
        cache.set(key, parsed, PARSE_CACHE_SECONDS)
    return RemotePage(page_sha256=sha, files=parsed["files"], versions=parsed["versions"])


def parse_page(data: bytes, content_type: str, page_url: str) -> tuple[list[dict], list[str]]:
    if content_type.split(";")[0].strip().lower() == JSON_TYPE or data.lstrip()[:1] == b"{":
        try:
            return _parse_json(json.loads(data), page_url)
        except (ValueError, AttributeError, TypeError):
            return [], []
    return _parse_html(data.decode("utf-8", errors="replace"), page_url)


def verifiable(hashes: dict) -> dict:
    """The subset of upstream hashes that fetch_file can check; sha256 alone when present."""
    if hashes.get("sha256"):
        return {"sha256": hashes["sha256"]}
    return {VERIFIABLE[k]: v for k, v in hashes.items() if k in VERIFIABLE and v}


def _entry(url: str, page_url: str, hashes: dict, requires_python: str = "", yanked=False,
           size=None, upload_time: str = "") -> dict | None:
    absolute, fragment = urldefrag(urljoin(page_url, url))
    if urlparse(absolute).scheme not in ("http", "https"):
        return None
    filename = unquote(urlparse(absolute).path.rsplit("/", 1)[-1])
    if not md.valid_filename(filename):
        return None  # never let an upstream name become a path outside files/<project>/
    hashes = {k.lower(): str(v).lower() for k, v in (hashes or {}).items() if k.lower() in KNOWN_HASHES and v}
    if fragment and "=" in fragment:
        name, _, value = fragment.partition("=")
        if name.lower() in KNOWN_HASHES and value:
            hashes.setdefault(name.lower(), value.lower())
    if isinstance(yanked, str) and not yanked.strip():
        yanked = True
    return {
        "filename": filename, "url": absolute, "hashes": hashes, "requires_python": requires_python or "",
        "yanked": yanked if isinstance(yanked, (bool, str)) else bool(yanked),
        "size": size if isinstance(size, int) and size >= 0 else None,
        "upload_time": upload_time if isinstance(upload_time, str) else "",
        "version": md.version_of(filename),
    }


def _parse_json(doc: dict, page_url: str) -> tuple[list[dict], list[str]]:
    files = []
    for item in doc.get("files", []):
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            continue
        entry = _entry(item["url"], page_url, item.get("hashes") or {}, item.get("requires-python") or "",
                       item.get("yanked", False), item.get("size"), item.get("upload-time") or "")
        if entry is not None:
            files.append(entry)
    versions = [v for v in doc.get("versions", []) if isinstance(v, str)]
    return files, _versions(files, versions)


class _Links(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.base = page_url
        self.links: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "base" and attributes.get("href"):
            self.base = urljoin(self.base, attributes["href"])
        elif tag == "a" and attributes.get("href"):
            yanked = attributes["data-yanked"] if "data-yanked" in attributes else False
            if yanked is None:
                yanked = True
            self.links.append({"href": attributes["href"], "base": self.base,
                               "requires_python": attributes.get("data-requires-python") or "", "yanked": yanked})


def _parse_html(text: str, page_url: str) -> tuple[list[dict], list[str]]:
    parser = _Links(page_url)
    parser.feed(text)
    parser.close()
    files = []
    for link in parser.links:
        entry = _entry(link["href"], link["base"], {}, link["requires_python"], link["yanked"])
        if entry is not None:
            files.append(entry)
    return files, _versions(files, [])


def _versions(files: list[dict], listed: list[str]) -> list[str]:
    seen = dict.fromkeys(listed)
    for item in files:
        if item["version"]:
            seen.setdefault(item["version"])
    return list(seen)
