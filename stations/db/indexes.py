"""Index builds a bulk import deferred until after its commit (migration 0013).

A bulk import drops the catalog's search indexes for its insert and records each one
in ``deferred_indexes`` in its own transaction; after the commit they are built again
here, each in its own short transaction with ``CREATE INDEX`` (which lets readers read
and other builders build beside it; writers of ``stations`` wait). Several sessions can
build at once: each takes the next index nobody is building (``FOR UPDATE SKIP
LOCKED``), so a GIN build on one core and the GiST and B-tree builds on the other run
side by side. Until an index is back, every query answers the same, only slower.

Whatever stops a build (a crash, a killed process) leaves its row, and the next call of
:func:`build_pending` (``stations db up``, ``stations db indexes``, the next bulk
import) builds it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import asyncpg

from stations.db import connection as dbconn
from stations.settings import DatabaseSettings
from stations.sql import load

SQL = load("indexes")

Progress = Callable[[str, float], None]
"""``progress(index_name, seconds)`` after each index is built."""


async def pending(conn: asyncpg.Connection) -> list[str]:
    """Names of the indexes still to build."""
    return [r["index_name"] for r in await conn.fetch(SQL.pending_indexes)]


async def defer(conn: asyncpg.Connection, name: str, definition: str) -> None:
    """Record an index dropped in the caller's transaction, to build after its commit."""
    await conn.execute(SQL.defer_index, name, definition)


async def build_next(conn: asyncpg.Connection) -> tuple[str, float] | None:
    """Build one pending index nobody else is building; (name, seconds), or None if none.

    One transaction: the build and the removal of its row commit together.
    """
    started = time.perf_counter()
    async with conn.transaction():
        row = await conn.fetchrow(SQL.claim_next_index)
        if row is None:
            return None
        await conn.execute(SQL.raise_build_mem)
        if not await conn.fetchval(SQL.index_exists, row["index_name"]):
            await conn.execute(row["definition"])
        await conn.execute(SQL.index_built, row["index_name"])
    return row["index_name"], time.perf_counter() - started


async def build_all(conn: asyncpg.Connection, *, progress: Progress | None = None) -> list[str]:
    """Build every pending index on this connection, one after another, then ANALYZE."""
    built: list[str] = []
    while (done := await build_next(conn)) is not None:
        built.append(done[0])
        if progress is not None:
            progress(*done)
    if built:
        await conn.execute(SQL.analyze_stations)
    return built


async def build_pending(
    db: DatabaseSettings,
    *,
    database: str | None = None,
    sessions: int = 2,
    progress: Progress | None = None,
) -> list[str]:
    """Build every pending index with ``sessions`` sessions side by side, then ANALYZE."""
    conns = [await dbconn.connect(db, database=database) for _ in range(max(1, sessions))]
    try:
        if not await pending(conns[0]):
            return []
        built: list[str] = []

        async def worker(conn: asyncpg.Connection) -> None:
            while (done := await build_next(conn)) is not None:
                built.append(done[0])
                if progress is not None:
                    progress(*done)

        await asyncio.gather(*(worker(c) for c in conns))
        if built:
            await conns[0].execute(SQL.analyze_stations)
        return built
    finally:
        for conn in conns:
            await conn.close()
