"""The two lookups every client request of a package makes, each one SQL query.

- `kept_assets(repository_ids, path)`: the Assets (with their Blob) these repositories keep at a path,
  for every file GET of every format;
- `package_summary(repository_ids, package, local_ids)`: how many files a package has across them,
  the newest id and change time, and how many are in local repositories: what the ETag of a
  generated index page or packument is built from, and what the dependency-confusion guard asks.

Why SQL: the ORM spent several times longer building and compiling these queries and their
objects than the database spent answering them, and they run on every request (a Maven build
sends hundreds in a row, npm install one packument per package). Values go through Django's own
converters, so callers get what the ORM would give them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connections


def kept_assets(repository_ids: list[int], path: str) -> list:
    """The Assets (with their Blob) that these repositories keep at `path`."""
    from artifacts.models import Blob

    from .models import Asset

    if not repository_ids:
        return []
    connection = connections["default"]
    plan = _PLANS.get(connection.vendor)
    if plan is None:
        plan = _PLANS[connection.vendor] = _asset_plan(connection, Asset, Blob)
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


_PLANS: dict = {}


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


@dataclass
class PackageSummary:
    files: int
    last_id: int | None
    modified: datetime | None
    local_files: int


def package_summary(repository_ids: list[int], package: str, local_ids: list[int]) -> PackageSummary:
    """Files of `package` across these repositories; `local_files` counts those in `local_ids`."""
    from .models import Asset

    if not repository_ids:
        return PackageSummary(0, None, None, 0)
    connection = connections["default"]
    quote = connection.ops.quote_name
    local = [pk for pk in local_ids if pk in repository_ids] or [None]
    table = quote(Asset._meta.db_table)
    sql = (f"SELECT COUNT(*), MAX({quote('id')}), MAX({quote('modified')}), "
           f"COALESCE(SUM(CASE WHEN {quote('repository_id')} IN ({', '.join(['%s'] * len(local))}) THEN 1 ELSE 0 END), 0) "
           f"FROM {table} WHERE {quote('package')} = %s "
           f"AND {quote('repository_id')} IN ({', '.join(['%s'] * len(repository_ids))})")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*local, package, *repository_ids])
        files, last_id, modified, local_files = cursor.fetchone()
    if modified is not None:
        field = Asset._meta.get_field("modified")
        expression = field.get_col(Asset._meta.db_table)
        for convert in connection.ops.get_db_converters(expression) + field.get_db_converters(connection):
            modified = convert(modified, expression, connection)
    return PackageSummary(files, last_id, modified, int(local_files))
