"""Bring a catalog database up, migrate it, reset it: the work behind ``stations db …``.

Works the same for the embedded cluster and for ``DATABASE_URL``; only the embedded
case starts or stops a server.
"""

from __future__ import annotations

import asyncpg

from stations.db import connection as dbconn
from stations.db import embedded, indexes, migrations
from stations.errors import DatabaseUnavailable, SetupError
from stations.settings import DatabaseSettings
from stations.sql import load

SQL = load("admin")


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def database_exists(db: DatabaseSettings, name: str) -> bool:
    conn = await dbconn.connect(db, database="postgres")
    try:
        return bool(await conn.fetchval(SQL.database_exists, name))
    finally:
        await conn.close()


async def create_database(db: DatabaseSettings, name: str, *, template: str = "template0") -> bool:
    """Create a UTF-8 database if it is missing; True when it was created."""
    if await database_exists(db, name):
        return False
    conn = await dbconn.connect(db, database="postgres")
    try:
        await conn.execute(
            f"CREATE DATABASE {_quote_ident(name)} TEMPLATE {_quote_ident(template)} "
            "ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
            if template == "template0"
            else f"CREATE DATABASE {_quote_ident(name)} TEMPLATE {_quote_ident(template)}"
        )
    finally:
        await conn.close()
    return True


async def drop_database(db: DatabaseSettings, name: str) -> None:
    conn = await dbconn.connect(db, database="postgres")
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()


async def migrate(db: DatabaseSettings, *, database: str | None = None) -> list[str]:
    conn = await dbconn.connect(db, database=database)
    try:
        done = await migrations.migrate(conn)
    finally:
        await conn.close()
    return [m.path.name for m in done]


async def up(db: DatabaseSettings) -> list[str]:
    """Start (embedded), create the database if missing, enable PostGIS, migrate."""
    if db.embedded:
        embedded.start(db)
        if await create_database(db, db.name):
            embedded.say(f"created database {db.name}")
    applied = await migrate(db)
    for name in applied:
        embedded.say(f"applied {name}")
    if not applied:
        embedded.say("schema is up to date")
    # indexes a bulk import left to build and nobody built (a crash, a killed builder)
    await indexes.build_pending(
        db, progress=lambda name, seconds: embedded.say(f"built index {name} ({seconds:.1f} s)")
    )
    return applied


async def reset(db: DatabaseSettings) -> list[str]:
    """Drop and recreate the catalog database, then migrate (embedded or DATABASE_URL)."""
    if db.embedded:
        embedded.start(db)
        await drop_database(db, db.name)
        await create_database(db, db.name)
        return await migrate(db)
    conn = await dbconn.connect(db)
    try:
        owner_tables = await conn.fetchval(SQL.count_own_tables)
        if owner_tables:
            # Against someone else's server we drop only what our migrations created.
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()
    return await migrate(db)


async def schema_state(db: DatabaseSettings) -> dict:
    """Applied and pending migrations, or why the database cannot be read."""
    try:
        conn = await dbconn.connect(db)
    except DatabaseUnavailable as exc:
        return {"reachable": False, "detail": exc.detail}
    try:
        done = await migrations.applied(conn)
        try:
            todo = [m.path.name for m in await migrations.pending(conn)]
        except SetupError as exc:
            return {"reachable": True, "applied": len(done), "detail": exc.detail}
        postgis = await conn.fetchval(SQL.postgis_version)
        state = {"reachable": True, "applied": len(done), "pending": todo, "postgis": postgis}
        if not todo:
            state["deferred_indexes"] = await indexes.pending(conn)
        return state
    except asyncpg.PostgresError as exc:
        return {"reachable": True, "detail": str(exc)}
    finally:
        await conn.close()
