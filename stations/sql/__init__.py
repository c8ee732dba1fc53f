"""All SQL of the domain, as named queries in ``stations/sql/<module>.sql``.

A file holds blocks that start with ``-- name: <identifier>``; :func:`load` returns
them as attributes. Values are always ``$n`` parameters; no identifier ever comes
from user input. The schema's history is the numbered migrations in
``stations/sql/migrations``; today's functions, triggers and views are in
``stations/sql/functions`` (see :mod:`stations.db.migrations`). Everything here is
package data, read with :mod:`importlib.resources`, so an installed wheel finds it
wherever it runs.

Lists of the station's fields are not written out by hand: a query says
``{{fields}}`` and gets them from the one field table (:mod:`stations.catalog.fields`):

* ``{{fields}}`` — ``name, name_en, …``; ``{{fields r}}`` — ``r.name, r.name_en, …``;
* ``{{set c}}`` — ``name = c.name, …`` (an UPDATE from the row ``c``);
* ``{{staging_columns}}`` — the column definitions of the importer's staging table;
* ``{{provided r s $2}}`` — each optional field from ``r`` when its name is in the
  array ``$2``, else from ``s`` (``CASE WHEN 'x' = ANY($2) THEN r.x ELSE s.x END AS x``);
  required fields always from ``r``;
* ``{{differs n s}}`` — true when a field of ``n`` differs from ``s``: ``IS DISTINCT
  FROM`` each, except that date-times within a millisecond of each other are the same
  (GeoPackage keeps milliseconds, so an export read back is no change).
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from types import SimpleNamespace

_DIR = files(__package__)
_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_MACRO = re.compile(r"\{\{(\w+)((?: [\w$]+)*)\}\}")


@cache
def load(module: str) -> SimpleNamespace:
    """The named queries of ``stations/sql/<module>.sql``, macros expanded."""
    text = (_DIR / f"{module}.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice in {module}.sql")
        queries[name] = expand(body.strip())
    return SimpleNamespace(**queries)


def expand(sql: str) -> str:
    """Replace the ``{{…}}`` macros of the module docstring with the station's fields."""
    from stations.catalog import fields

    def one(match: re.Match[str]) -> str:
        macro, args = match.group(1), match.group(2).split()
        names = fields.STATION_FIELDS
        if macro == "fields" and len(args) <= 1:
            prefix = f"{args[0]}." if args else ""
            return ", ".join(prefix + name for name in names)
        if macro == "set" and len(args) == 1:
            return ", ".join(f"{name} = {args[0]}.{name}" for name in names)
        if macro == "staging_columns" and not args:
            return fields.staging_table_columns()
        if macro == "provided" and len(args) == 3:
            new, old, given = args
            return ",\n           ".join(
                f"{new}.{f.name} AS {f.name}"
                if f.required
                else f"CASE WHEN '{f.name}' = ANY({given}) THEN {new}.{f.name} "
                f"ELSE {old}.{f.name} END AS {f.name}"
                for f in fields.FIELDS
            )
        if macro == "differs" and len(args) == 2:
            new, old = args
            return (
                "("
                + "\n        OR ".join(
                    f"({new}.{f.name} IS DISTINCT FROM {old}.{f.name} AND NOT coalesce("
                    f"abs(extract(epoch FROM {new}.{f.name} - {old}.{f.name})) < 0.001, false))"
                    if f.sql_type == "timestamptz"
                    else f"{new}.{f.name} IS DISTINCT FROM {old}.{f.name}"
                    for f in fields.FIELDS
                )
                + ")"
            )
        raise ValueError(f"unknown SQL macro {match.group(0)!r}")

    return _MACRO.sub(one, sql)
