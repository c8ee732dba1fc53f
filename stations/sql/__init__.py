"""All SQL of the domain, as named queries in ``stations/sql/<module>.sql``.

A file holds blocks that start with ``-- name: <identifier>``; :func:`load` returns
them as attributes. Values are always ``$n`` parameters; no identifier ever comes
from user input. The schema's history is the numbered migrations in
``stations/sql/migrations``; today's functions, triggers and views are in
``stations/sql/functions`` (see :mod:`stations.db.migrations`). Everything here is
package data, read with :mod:`importlib.resources`, so an installed wheel finds it
wherever it runs.

Lists of the station's fields are not written out by hand: a query says
``{{fields}}`` and gets them from the one field table when its module is loaded with
``expand=`` :func:`stations.catalog.fields.expand_sql`:

* ``{{fields}}`` — ``name, name_en, …``; ``{{fields r}}`` — ``r.name, r.name_en, …``;
* ``{{set c}}`` — ``name = c.name, …`` (an UPDATE from the row ``c``);
* ``{{staging_columns}}`` — the column definitions of the importer's staging table;
* ``{{provided r s $2}}`` — each optional field from ``r`` when its name is in the
  array ``$2``, else from ``s`` (``CASE WHEN 'x' = ANY($2) THEN r.x ELSE s.x END AS x``);
  required fields always from ``r``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from types import SimpleNamespace

_DIR = files(__package__)
_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


@cache
def load(module: str, *, expand: Callable[[str], str] | None = None) -> SimpleNamespace:
    """The named queries of ``stations/sql/<module>.sql``.

    A file whose queries use the station's field macros (below) is loaded with
    ``expand=stations.catalog.fields.expand_sql``; without it, a macro is an error.
    """
    text = (_DIR / f"{module}.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice in {module}.sql")
        body = body.strip()
        if expand is not None:
            body = expand(body)
        elif "{{" in body:
            raise ValueError(
                f"{module}.sql: query {name!r} uses field macros; load it with expand="
            )
        queries[name] = body
    return SimpleNamespace(**queries)
