"""What a simple page lists, from indexed rows: local Assets and remote members' parsed pages.

`project_state(repo, project)` is the cheap part, done on every request: one aggregate over the
members' Assets plus, for remote members, the cached upstream page (fetched when its TTL ran
out). Its `etag` changes whenever the page would. `project_files(state)` is the expensive part,
done only when the rendered page is not cached: the merged file list, first member winning per
file name. The dependency-confusion guard drops remote members' files of a project that any
local member of a virtual holds.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from django.db.models import Count, Max

from formats.base import Asset, UpstreamMissing, UpstreamUnavailable, members, package_summary

from . import remote


@dataclass
class ProjectFile:
    filename: str
    hashes: dict
    size: int | None = None
    requires_python: str = ""
    yanked: bool | str = False
    upload_time: str = ""
    core_metadata_sha256: str = ""
    version: str = ""


@dataclass
class ProjectState:
    repository: object
    project: str
    members: list
    local_has: bool = False
    pages: dict = field(default_factory=dict)  # remote member pk -> RemotePage
    unavailable: list = field(default_factory=list)  # remote members that failed with nothing cached
    etag_parts: list = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return self.local_has or bool(self.pages)

    def etag(self, *extra) -> str:
        raw = json.dumps([*self.etag_parts, *extra], default=str, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:40]


def guard_enabled(repository) -> bool:
    return bool(repository.format_settings().get("dependency_confusion_guard", True))


def upload_time(asset) -> str:
    return asset.created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_core_metadata(asset) -> bool:
    return (asset.meta or {}).get("kind") == "core-metadata"


def project_state(repository, project: str) -> ProjectState:
    repos = members(repository)
    state = ProjectState(repository=repository, project=project, members=repos)
    files = package_summary([m.pk for m in repos], project, [m.pk for m in repos if m.kind == "local"])
    state.local_has = files.local_files > 0
    skip_remotes = repository.kind == "virtual" and state.local_has and guard_enabled(repository)
    state.etag_parts = [repository.pk, repository.created, [m.pk for m in repos], skip_remotes,
                        files.files, files.last_id, files.modified]
    for member in repos:
        if member.kind != "remote" or skip_remotes:
            continue
        try:
            page = remote.project_page(member, project)
        except UpstreamMissing:
            state.etag_parts.append([member.pk, "missing"])
            continue
        except UpstreamUnavailable:
            state.unavailable.append(member)
            state.etag_parts.append([member.pk, "unavailable"])
            continue
        state.pages[member.pk] = page
        state.etag_parts.append([member.pk, page.page_sha256])
    return state


def project_files(state: ProjectState) -> tuple[list[ProjectFile], list[str]]:
    """(files, versions) of the project across the members, first member winning per file name."""
    files: dict[str, ProjectFile] = {}
    versions: dict[str, None] = {}
    assets = Asset.objects.filter(repository__in=state.members, package=state.project).select_related("blob")
    by_repo: dict[int, list] = {}
    for asset in assets.order_by("path"):
        if not is_core_metadata(asset):
            by_repo.setdefault(asset.repository_id, []).append(asset)
    for member in state.members:
        if member.kind == "remote":
            page = state.pages.get(member.pk)
            if page is None:
                continue
            kept = {a.path.rsplit("/", 1)[-1]: a for a in by_repo.get(member.pk, [])}
            for entry in page.files:
                if entry["filename"] not in files:
                    files[entry["filename"]] = _from_remote(entry, kept.get(entry["filename"]))
            versions.update(dict.fromkeys(page.versions))
        else:
            for asset in by_repo.get(member.pk, []):
                name = asset.path.rsplit("/", 1)[-1]
                if name not in files:
                    files[name] = from_asset(asset)
                versions.setdefault(asset.version)
    return list(files.values()), [v for v in versions if v]


def from_asset(asset) -> ProjectFile:
    meta = asset.meta or {}
    return ProjectFile(
        filename=asset.path.rsplit("/", 1)[-1], hashes={"sha256": asset.blob.sha256}, size=asset.blob.size,
        requires_python=meta.get("requires_python", ""), yanked=meta.get("yanked", False) or False,
        upload_time=upload_time(asset), core_metadata_sha256=meta.get("core_metadata_sha256", ""),
        version=asset.version,
    )


def _from_remote(entry: dict, kept) -> ProjectFile:
    hashes = dict(entry["hashes"])
    size = entry["size"]
    if kept is not None:
        hashes.setdefault("sha256", kept.blob.sha256)
        size = kept.blob.size if size is None else size
    # Core metadata of remote files is not advertised: it is not kept, so it cannot be served.
    return ProjectFile(filename=entry["filename"], hashes=hashes, size=size, requires_python=entry["requires_python"],
                       yanked=entry["yanked"], upload_time=entry["upload_time"], version=entry["version"])


def root_state(repository) -> tuple[list, list]:
    """(members, etag parts) for the project list."""
    repos = members(repository)
    agg = Asset.objects.filter(repository__in=repos).aggregate(n=Count("id"), last=Max("id"), modified=Max("modified"))
    parts = [repository.pk, repository.created, [m.pk for m in repos], agg["n"], agg["last"], agg["modified"]]
    for member in repos:
        if member.kind == "remote":
            pages = member.cache_entries.filter(key__startswith="simple/", missing=False)
            parts.append([member.pk, pages.aggregate(n=Count("id"), last=Max("fetched_at"))])
    return repos, parts


def root_projects(repos: list) -> list[str]:
    """Projects held by the members; a remote lists those it has cached (its upstream's list can be huge)."""
    names = set(Asset.objects.filter(repository__in=repos).exclude(package="").values_list("package", flat=True).distinct())
    for member in repos:
        if member.kind == "remote":
            keys = member.cache_entries.filter(key__startswith="simple/", missing=False).values_list("key", flat=True)
            names.update(k.split("/")[1] for k in keys if k.count("/") == 2 and k.split("/")[1])
    return sorted(names)
