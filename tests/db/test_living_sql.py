"""The living SQL files equal what the migrations built, both ways.

``stations/sql/functions/*.sql`` hold today's functions, triggers and views as
idempotent ``CREATE OR REPLACE`` statements. On a scratch copy of the migrated template:
running the files changes nothing (every definition in them is the migrated one, and
they define nothing the migrations do not); with every function and view dropped,
running them rebuilds exactly what the migrations built (nothing the migrations define
is missing from them); and running them again changes nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import AsyncIterator

import asyncpg
import pytest

from stations.db import admin as dbadmin
from stations.db import connection as dbconn
from stations.db.migrations import living_definitions
from stations.settings import Settings

# Objects of the public schema that no extension (PostGIS) owns.
_NOT_FROM_AN_EXTENSION = """
    NOT EXISTS (SELECT 1 FROM pg_depend d
                WHERE d.classid = {catalog}::regclass AND d.objid = {oid} AND d.deptype = 'e')
"""
FUNCTIONS = f"""
SELECT p.oid::regprocedure::text AS name,
       pg_get_functiondef(p.oid) || coalesce('COMMENT ' || obj_description(p.oid, 'pg_proc'), '')
           AS definition
FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace AND p.prokind IN ('f', 'p')
  AND {_NOT_FROM_AN_EXTENSION.format(catalog="'pg_proc'", oid="p.oid")}
"""
TRIGGERS = """
SELECT t.tgrelid::regclass::text || ' ' || t.tgname AS name,
       pg_get_triggerdef(t.oid) || ' -- enabled: ' || t.tgenabled::text AS definition
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace
"""
VIEWS = f"""
SELECT c.oid::regclass::text AS name, pg_get_viewdef(c.oid) AS definition
FROM pg_class c
WHERE c.relkind IN ('v', 'm') AND c.relnamespace = 'public'::regnamespace
  AND {_NOT_FROM_AN_EXTENSION.format(catalog="'pg_class'", oid="c.oid")}
"""

Snapshot = dict[str, dict[str, str]]


def _normalised(definition: str) -> str:
    """Trailing blanks and line endings carry no meaning."""
    return re.sub(r"[ \t]+$", "", definition.replace("\r\n", "\n"), flags=re.MULTILINE).strip()


async def snapshot(conn: asyncpg.Connection) -> Snapshot:
    """Every function, trigger and view of the database, as PostgreSQL prints them."""
    found: Snapshot = {}
    for kind, query in (("function", FUNCTIONS), ("trigger", TRIGGERS), ("view", VIEWS)):
        rows = await conn.fetch(query)
        found[kind] = {r["name"]: _normalised(r["definition"]) for r in rows}
    return found


def differences(expected: Snapshot, actual: Snapshot) -> list[str]:
    """What differs, named, with a diff of each changed definition."""
    found = []
    for kind in expected:
        want, got = expected[kind], actual[kind]
        found += [f"{kind} {name}: missing" for name in sorted(want.keys() - got.keys())]
        found += [f"{kind} {name}: not in the migrations" for name in sorted(got.keys() - want)]
        for name in sorted(want.keys() & got.keys()):
            if want[name] != got[name]:
                diff = difflib.unified_diff(
                    want[name].splitlines(),
                    got[name].splitlines(),
                    "migrated",
                    "living file",
                    lineterm="",
                )
                found.append(f"{kind} {name} differs:\n" + "\n".join(diff))
    return found


async def run_living_files(conn: asyncpg.Connection) -> None:
    for name, sql in living_definitions():
        try:
            async with conn.transaction():
                await conn.execute(sql)
        except asyncpg.PostgresError as exc:
            raise AssertionError(f"stations/sql/functions/{name}: {exc}") from exc


@pytest.fixture
async def scratch(settings: Settings, template_database: str) -> AsyncIterator[asyncpg.Connection]:
    """A copy of the migrated template, dropped afterwards."""
    name = f"{settings.db.name}_living"
    await dbadmin.drop_database(settings.db, name)
    await dbadmin.create_database(settings.db, name, template=template_database)
    conn = await dbconn.connect(settings.db, database=name)
    try:
        yield conn
    finally:
        await conn.close()
        await dbadmin.drop_database(settings.db, name)


async def test_living_files_equal_the_migrated_database(scratch):
    migrated = await snapshot(scratch)
    # What the checks stand on: the files are found, the snapshot sees the schema.
    assert [name for name, _ in living_definitions()] == [
        "catalog.sql",
        "coverage.sql",
        "people.sql",
        "search.sql",
        "visits.sql",
    ]
    assert "claim_water_batch(bytea[],text[],bytea[],text[],double precision[]," in "".join(
        migrated["function"]
    )
    assert "stations stations_history_update" in migrated["trigger"]
    assert list(migrated["view"]) == ["station_changes"]
    assert not any(name.startswith("st_") for name in migrated["function"]), "PostGIS left out"

    # On the migrated database the files change nothing and add nothing.
    await run_living_files(scratch)
    assert differences(migrated, await snapshot(scratch)) == []

    # From nothing, they build everything the migrations built.
    for view in migrated["view"]:
        await scratch.execute(f"DROP VIEW {view} CASCADE")
    for function in migrated["function"]:
        await scratch.execute(f"DROP FUNCTION {function} CASCADE")
    assert await snapshot(scratch) == {"function": {}, "trigger": {}, "view": {}}
    await run_living_files(scratch)
    assert differences(migrated, await snapshot(scratch)) == []

    # And they can run again.
    await run_living_files(scratch)
    assert differences(migrated, await snapshot(scratch)) == []
