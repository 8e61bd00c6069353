"""A repository name -> the Repository, and a virtual repository -> its members in order (flattened).

Both answers come from the per-process table of repositories.hotcache during a request.
"""
from __future__ import annotations

from . import hotcache
from .models import Repository


class NotFound(Exception):
    pass


def find_repository(name: str, format: str | None = None) -> Repository | None:
    """The repository called `name` (of `format`, when given), or None."""
    values = hotcache.lookup("repository", name, lambda: hotcache.row(Repository, Repository.objects.filter(name=name)))
    repo = hotcache.instance(Repository, values)
    if repo is None or (format is not None and repo.format != format):
        return None
    return repo


def get_repository(name: str) -> Repository:
    repo = find_repository(name)
    if repo is None:
        raise NotFound(name)
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
    kept = {a.repository_id: a for a in kept_assets([r.pk for r in repos], path)}
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


def kept_assets(repository_ids: list[int], path: str) -> list:
    """The Assets (with their Blob) that these repositories keep at `path`: one indexed query.

    Written as SQL because it runs on every file GET of every format, and the ORM spent several
    times longer compiling the query and building the objects than the database spent answering
    it. Values go through Django's own converters, so the instances are what the ORM would give.
    """
    from django.db import connections

    from artifacts.models import Blob

    from .models import Asset

    if not repository_ids:
        return []
    connection = connections["default"]
    plan = _ASSET_PLANS.get(connection.vendor)
    if plan is None:
        plan = _ASSET_PLANS[connection.vendor] = _asset_plan(connection, Asset, Blob)
    sql, converters, compiler, split = plan
    placeholders = ", ".join(["%s"] * len(repository_ids))
    with connection.cursor() as cursor:
        cursor.execute(sql.format(ids=placeholders), [path, *repository_ids])
        rows = cursor.fetchall()
    if converters:
        rows = compiler.apply_converters(rows, converters)
    asset_names = [f.attname for f in Asset._meta.concrete_fields]
    blob_names = [f.attname for f in Blob._meta.concrete_fields]
    out = []
    for row in rows:
        row = tuple(row)
        asset = Asset.from_db("default", asset_names, row[:split])
        asset.blob = Blob.from_db("default", blob_names, row[split:])
        out.append(asset)
    return out


_ASSET_PLANS: dict = {}


def _asset_plan(connection, Asset, Blob):
    quote = connection.ops.quote_name
    asset_fields, blob_fields = Asset._meta.concrete_fields, Blob._meta.concrete_fields
    columns = [f"a.{quote(f.column)}" for f in asset_fields] + [f"b.{quote(f.column)}" for f in blob_fields]
    sql = (f"SELECT {', '.join(columns)} FROM {quote(Asset._meta.db_table)} a "
           f"INNER JOIN {quote(Blob._meta.db_table)} b ON a.{quote('blob_id')} = b.{quote(Blob._meta.pk.column)} "
           f"WHERE a.{quote('path')} = %s AND a.{quote('repository_id')} IN ({{ids}})")
    compiler = Asset.objects.none().query.get_compiler(connection=connection)
    expressions = [f.get_col(Asset._meta.db_table) for f in asset_fields] + [
        f.get_col(Blob._meta.db_table) for f in blob_fields]
    return sql, compiler.get_converters(expressions), compiler, len(asset_fields)
