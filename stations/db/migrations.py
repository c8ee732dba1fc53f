"""The schema as numbered SQL migrations in ``stations/sql/migrations`` (``NNNN_name.sql``).

Each migration runs in its own transaction and is recorded in ``schema_migrations``
with a checksum; re-running applies nothing, and a migration edited after it was
applied is refused (write a new one instead). An advisory lock keeps two processes
from migrating at once.

The migrations are history. Today's functions, trigger functions, triggers and views are
also kept as *living definitions* in ``stations/sql/functions/*.sql``: idempotent
``CREATE OR REPLACE`` statements, one file per concern, that a migrated database equals
(``tests/db/test_living_sql.py``). A change edits the living file and adds a migration
that carries the same statements.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

import asyncpg

from stations.errors import SetupError
from stations.sql import load

SQL = load("admin")

# Package data, so an installed wheel finds them wherever it runs.
MIGRATIONS_DIR = files("stations.sql") / "migrations"
LIVING_DIR = files("stations.sql") / "functions"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 7_340_001  # pg_advisory_lock key reserved for migrations


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Traversable
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Traversable = MIGRATIONS_DIR) -> list[Migration]:
    """All migration files in version order; a malformed name or a repeated number fails."""
    found: dict[int, Migration] = {}
    sql_files = (p for p in directory.iterdir() if p.is_file() and p.name.endswith(".sql"))
    for path in sorted(sql_files, key=lambda p: p.name):
        match = _FILE.match(path.name)
        if not match:
            raise SetupError(f"{path.name}: migration files are named NNNN_lowercase_name.sql")
        version = int(match.group(1))
        if version in found:
            raise SetupError(
                f"two migrations share number {version:04d}: {found[version].path.name} "
                f"and {path.name}"
            )
        found[version] = Migration(version, match.group(2), path, path.read_text("utf-8"))
    return [found[v] for v in sorted(found)]


def living_definitions(directory: Traversable = LIVING_DIR) -> list[tuple[str, str]]:
    """The living definitions as (file name, SQL), in file-name order (the order to run them)."""
    sql_files = (p for p in directory.iterdir() if p.is_file() and p.name.endswith(".sql"))
    return [(p.name, p.read_text("utf-8")) for p in sorted(sql_files, key=lambda p: p.name)]


def schema_checksum(directory: Traversable = MIGRATIONS_DIR) -> str:
    """One hash over all migrations: names a template database built from them."""
    digest = hashlib.sha256()
    for migration in discover(directory):
        digest.update(f"{migration.version}:{migration.checksum};".encode())
    return digest.hexdigest()


async def _ensure_table(conn: asyncpg.Connection) -> None:
    await conn.execute(SQL.create_migrations_table)


async def applied(conn: asyncpg.Connection) -> dict[int, tuple[str, str]]:
    exists = await conn.fetchval(SQL.migrations_table_exists)
    if not exists:
        return {}
    rows = await conn.fetch(SQL.applied_migrations)
    return {r["version"]: (r["name"], r["checksum"]) for r in rows}


async def pending(
    conn: asyncpg.Connection, directory: Traversable = MIGRATIONS_DIR
) -> list[Migration]:
    """Migrations not yet applied; raises SetupError if an applied one was edited."""
    done = await applied(conn)
    todo = []
    for migration in discover(directory):
        if migration.version in done:
            name, checksum = done[migration.version]
            if checksum != migration.checksum:
                raise SetupError(
                    f"migration {migration.version:04d}_{name} was changed after it was "
                    "applied; restore it and add a new numbered migration instead "
                    "(or `stations db reset` a development database)"
                )
        else:
            todo.append(migration)
    return todo


async def migrate(
    conn: asyncpg.Connection, directory: Traversable = MIGRATIONS_DIR
) -> list[Migration]:
    """Apply pending migrations, each in its own transaction; returns what was applied."""
    await conn.execute(SQL.advisory_lock, _LOCK_KEY)
    try:
        await _ensure_table(conn)
        todo = await pending(conn, directory)
        for migration in todo:
            async with conn.transaction():
                try:
                    await conn.execute(migration.sql)
                except asyncpg.PostgresError as exc:
                    raise SetupError(
                        f"migration {migration.path.name} failed: {exc.__class__.__name__}: {exc}"
                    ) from exc
                await conn.execute(
                    SQL.record_migration,
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
        return todo
    finally:
        await conn.execute(SQL.advisory_unlock, _LOCK_KEY)


async def readiness(conn: asyncpg.Connection) -> tuple[bool, dict]:
    """Whether this database can serve: PostGIS present and no migration pending."""
    try:
        todo = await pending(conn)
    except SetupError as exc:
        return False, {"detail": exc.detail}
    postgis = await conn.fetchval(SQL.postgis_version)
    if postgis is None:
        return False, {"detail": "PostGIS is not installed in this database; run `stations db up`"}
    if todo:
        names = ", ".join(m.path.name for m in todo)
        return False, {"detail": f"migrations pending: {names}; run `stations db migrate`"}
    return True, {"postgis": postgis, "migrations": len(discover())}
