"""All SQL of the domain, as named queries in ``stations/sql/<module>.sql``.

A file holds blocks that start with ``-- name: <identifier>``; :func:`load` returns
them as attributes. Values are always ``$n`` parameters; no identifier ever comes
from user input. The schema's history is the numbered migrations in
``stations/sql/migrations``; today's functions, triggers and views are in
``stations/sql/functions`` (see :mod:`stations.db.migrations`). Everything here is
package data, read with :mod:`importlib.resources`, so an installed wheel finds it
wherever it runs.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from types import SimpleNamespace

_DIR = files(__package__)
_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


@cache
def load(module: str) -> SimpleNamespace:
    """The named queries of ``stations/sql/<module>.sql``."""
    text = (_DIR / f"{module}.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice in {module}.sql")
        queries[name] = body.strip()
    return SimpleNamespace(**queries)
