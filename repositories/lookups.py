"""The two lookups every client request of a package makes, each one SQL query.

- `kept_assets(repository_ids, path)`: the Assets (with their Blob) these repositories keep at a path,
  for every file GET of every format (through `follow`, which plugins use for their own rows);
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
    from .models import Asset

    return follow(Asset, ("blob",), path=path, repository_id=list(repository_ids))


def follow(model, chain: tuple[str, ...], **where) -> list:
    """Rows of `model` matching `where`, each with the foreign keys in `chain` loaded, in one query.

    `follow(Tag, ("manifest", "blob"), repository_id=1, image="app", name="latest")` is
    `Tag.objects.select_related("manifest__blob").filter(...)` without the ORM's compilation cost.
    `where` compares columns for equality, or with IN when the value is a list (an empty list
    matches nothing).
    """
    if any(isinstance(v, list) and not v for v in where.values()):
        return []
    connection = connections["default"]
    keys = tuple(sorted(where))
    shape = (connection.vendor, model, chain, tuple((k, len(where[k]) if isinstance(where[k], list) else None)
                                                     for k in keys))
    plan = _PLANS.get(shape)
    if plan is None:
        plan = _PLANS[shape] = _plan(connection, model, chain, shape[3])
    sql, converters, compiler, models = plan
    params = []
    for key in keys:
        params.extend(where[key] if isinstance(where[key], list) else [where[key]])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if converters:
        rows = compiler.apply_converters(rows, converters)
    out = []
    for row in rows:
        row, start, previous = tuple(row), 0, None
        for index, (each, names) in enumerate(models):
            obj = each.from_db("default", names, row[start:start + len(names)])
            start += len(names)
            if previous is None:
                out.append(obj)
            else:
                setattr(previous, chain[index - 1], obj)
            previous = obj
    return out


_PLANS: dict = {}


def _plan(connection, model, chain, conditions):
    quote = connection.ops.quote_name
    models, joins, current = [model], [], model
    for index, name in enumerate(chain):
        field = current._meta.get_field(name)
        target = field.related_model
        joins.append(f"INNER JOIN {quote(target._meta.db_table)} t{index + 1} "
                     f"ON t{index}.{quote(field.column)} = t{index + 1}.{quote(field.target_field.column)}")
        models.append(target)
        current = target
    columns, expressions = [], []
    for index, each in enumerate(models):
        for f in each._meta.concrete_fields:
            columns.append(f"t{index}.{quote(f.column)}")
            expressions.append(f.get_col(f"t{index}"))
    tests = []
    for key, count in conditions:
        column = f"t0.{quote(model._meta.get_field(key).column)}"
        tests.append(f"{column} = %s" if count is None else f"{column} IN ({', '.join(['%s'] * count)})")
    sql = (f"SELECT {', '.join(columns)} FROM {quote(model._meta.db_table)} t0 {' '.join(joins)} "
           f"WHERE {' AND '.join(tests) or '1 = 1'}")
    compiler = model.objects.none().query.get_compiler(connection=connection)
    names = [(each, [f.attname for f in each._meta.concrete_fields]) for each in models]
    return sql, compiler.get_converters(expressions), compiler, names


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
