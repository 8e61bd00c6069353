"""Simple API serialization: PEP 691 content negotiation, PEP 503 HTML and PEP 691 JSON pages.

`negotiate(request)` picks one of the three content types pip accepts (or None -> 406), from
`?format=` if given, else from `Accept` with q-values. Exact matches prefer the richest format
(JSON, then v1 HTML, then text/html); wildcard-only matches (`*/*`, no Accept) get text/html,
which every client of the simple API understands.
"""
from __future__ import annotations

import json
from html import escape

JSON = "application/vnd.pypi.simple.v1+json"
HTML = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"
API_VERSION = "1.1"

ALIASES = {
    JSON: JSON, HTML: HTML, TEXT_HTML: TEXT_HTML,
    "application/vnd.pypi.simple.latest+json": JSON,
    "application/vnd.pypi.simple.latest+html": HTML,
}
OFFERS = (JSON, HTML, TEXT_HTML)


def _parse_accept(header: str) -> list[tuple[str, float]]:
    out = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q = 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        out.append((media, max(0.0, min(q, 1.0))))
    return out


def _match(offer: str, accepted: list[tuple[str, float]]) -> tuple[float, int]:
    """(q, specificity) of the most specific accepted range matching `offer`; q 0 when none does."""
    best = (0.0, -1)
    for media, q in accepted:
        target = ALIASES.get(media, media)
        if target == offer:
            spec = 2
        elif media == "*/*":
            spec = 0
        elif media.endswith("/*") and offer.startswith(media[:-1]):
            spec = 1
        else:
            continue
        if spec > best[1]:
            best = (q, spec)
        elif spec == best[1]:
            best = (max(q, best[0]), spec)
    return best[0], best[1]


def negotiate(request) -> str | None:
    wanted = request.GET.get("format")
    if wanted is not None:
        # An unescaped '+' in a query string arrives as a space.
        return ALIASES.get(wanted.strip().lower().replace(" ", "+"))
    accepted = _parse_accept(request.headers.get("Accept") or "*/*")
    ranked = []
    for rank, offer in enumerate(OFFERS):
        q, spec = _match(offer, accepted)
        if q <= 0:
            continue
        preference = -rank if spec == 2 else rank  # wildcards: text/html first
        ranked.append((q, spec, preference, offer))
    if not ranked:
        return None
    return max(ranked)[3]


def _head(title: str) -> str:
    return ('<!DOCTYPE html>\n<html>\n<head>\n'
            f'<meta name="pypi:repository-version" content="{API_VERSION}">\n'
            f"<title>{escape(title)}</title>\n</head>\n<body>\n")


def root_page(content_type: str, projects: list[str]) -> bytes:
    if content_type == JSON:
        doc = {"meta": {"api-version": API_VERSION}, "projects": [{"name": p} for p in projects]}
        return json.dumps(doc, separators=(",", ":")).encode()
    body = "".join(f'<a href="{escape(p)}/">{escape(p)}</a><br>\n' for p in projects)
    return (_head("Simple index") + body + "</body>\n</html>\n").encode()


def file_url(files_base: str, project: str, f) -> str:
    return f"{files_base}{project}/{f.filename}"


def _fragment(hashes: dict) -> str:
    for name in ("sha256", "sha512", "sha384", "sha224", "sha1", "md5"):
        if hashes.get(name):
            return f"#{name}={hashes[name]}"
    return ""


def project_page(content_type: str, project: str, files: list, versions: list[str], files_base: str) -> bytes:
    """`files_base` is the absolute URL of the asked repository's files/ folder (ends in '/')."""
    if content_type == JSON:
        return json.dumps(_project_json(project, files, versions, files_base), separators=(",", ":")).encode()
    lines = [f"<h1>Links for {escape(project)}</h1>\n"]
    for f in files:
        attrs = [f'href="{escape(file_url(files_base, project, f) + _fragment(f.hashes))}"']
        if f.requires_python:
            attrs.append(f'data-requires-python="{escape(f.requires_python)}"')
        if f.yanked:
            attrs.append(f'data-yanked="{escape(f.yanked)}"' if isinstance(f.yanked, str) else "data-yanked")
        if f.core_metadata_sha256:
            value = escape(f"sha256={f.core_metadata_sha256}")
            attrs.append(f'data-core-metadata="{value}" data-dist-info-metadata="{value}"')
        lines.append(f"<a {' '.join(attrs)}>{escape(f.filename)}</a><br>\n")
    return (_head(f"Links for {project}") + "".join(lines) + "</body>\n</html>\n").encode()


def _project_json(project: str, files: list, versions: list[str], files_base: str) -> dict:
    out = []
    for f in files:
        item = {"filename": f.filename, "url": file_url(files_base, project, f), "hashes": dict(f.hashes)}
        if f.requires_python:
            item["requires-python"] = f.requires_python
        if f.yanked:
            item["yanked"] = f.yanked
        if f.size is not None:
            item["size"] = f.size
        if f.upload_time:
            item["upload-time"] = f.upload_time
        if f.core_metadata_sha256:
            item["core-metadata"] = {"sha256": f.core_metadata_sha256}
            item["dist-info-metadata"] = {"sha256": f.core_metadata_sha256}
        out.append(item)
    return {"meta": {"api-version": API_VERSION}, "name": project, "versions": versions, "files": out}
