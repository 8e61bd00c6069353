"""A repository name -> the Repository, and a virtual repository -> its members in order (flattened).

Both answers come from the per-process table of repositories.hotcache during a request.
"""
from __future__ import annotations

from . import hotcache, lookups
from .models import Repository


def find_repository(name: str, format: str | None = None) -> Repository | None:
    """The repository called `name` (of `format`, when given), or None."""
    values = hotcache.lookup("repository", name, lambda: hotcache.row(Repository, Repository.objects.filter(name=name)))
    repo = hotcache.instance(Repository, values)
    if repo is None or (format is not None and repo.format != format):
        return None
    return repo


def members(repository: Repository) -> list[Repository]:
    """The concrete (local/remote) repositories to read, in order; nested virtuals are expanded once."""
    if repository.kind != "virtual":
        return [repository]
    found = hotcache.lookup("members", repository.pk, lambda: _member_rows(repository))
    return [hotcache.instance(Repository, values) for values in found]


def _member_rows(repository: Repository) -> list[tuple]:
    return [hotcache.freeze(member) for member in _walk_members(repository)]


def _walk_members(repository: Repository) -> list[Repository]:
    seen: set[int] = {repository.pk}
    out: list[Repository] = []

    def walk(repo: Repository):
        for member in repo.member_list():
            if member.pk in seen:
                continue
            seen.add(member.pk)
            if member.kind == "virtual":
                walk(member)
            else:
                out.append(member)

    walk(repository)
    return out


def deploy_target(repository: Repository) -> Repository | None:
    """Where a publish to `repository` lands: itself if local, its deploy_to member if virtual."""
    if repository.kind == "local":
        return repository
    if repository.kind == "virtual" and repository.deploy_to_id:
        target = repository.deploy_to
        return target if target.kind == "local" else None
    return None


def first_holding(repository: Repository, path: str, fetch=None, skip_remotes: bool = False, repos=None):
    """The Asset at `path` from the first member (in order) that keeps it or, being remote, fetches it.

    `fetch(member)` is called for remote members that do not keep the file yet; it returns the
    fetched Asset or None (the upstream does not list it) and may raise UpstreamMissing or
    UpstreamUnavailable. `skip_remotes` is the dependency-confusion guard; `repos` is
    `members(repository)` when the caller already has it. Returns None when no
    member has the file; raises UpstreamUnavailable naming the failed members when none had it
    and some upstream could not be asked (a client must see 5xx then, never 404).
    """
    from .upstream import UpstreamMissing, UpstreamUnavailable

    repos = members(repository) if repos is None else repos
    kept = {a.repository_id: a for a in lookups.kept_assets([r.pk for r in repos], path)}
    unavailable = []
    for member in repos:
        if member.kind == "remote" and skip_remotes:
            continue
        asset = kept.get(member.pk)
        if asset is not None:
            return asset
        if member.kind != "remote" or fetch is None:
            continue
        try:
            asset = fetch(member)
        except UpstreamMissing:
            continue
        except UpstreamUnavailable as exc:
            unavailable.append(f"{member.name}: {exc}")
            continue
        if asset is not None:
            return asset
    if unavailable:
        raise UpstreamUnavailable("upstream unavailable (" + "; ".join(unavailable) + ")")
    return None

