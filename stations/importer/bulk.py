"""The bulk path of an import: one that adds many stations at once (a first load, a province).

Decided when the first chunk arrives, from the number of rows the file holds and the
stations the source already has. Then, inside the import's transaction:

1. the catalog's unique constraints (all but the primary key) and search indexes are
   dropped; the indexes are recorded in ``deferred_indexes`` (migration 0013) to be built
   after the commit (:mod:`stations.db.indexes`), the constraints are added back before it;
2. each chunk's new stations are inserted as soon as the chunk is staged, so PostgreSQL
   inserts while Python checks the next chunk (rows repeating an earlier row's source
   id are left out: the first row wins, as the whole-file check reports);
3. rows the whole-file checks refuse afterwards (near-duplicates) are deleted again:
   bad rows never land;
4. the 'create' history is written in one statement (the trigger is paused: its
   transition table of every inserted row cost more than the insert), and the unique
   constraints are added back, which checks every row: all or nothing.

Dropping the indexes locks the catalog against readers until the import commits, so
only imports that add many stations take this path; the report says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import asyncpg
import numpy as np
import pyarrow as pa

from stations.catalog.fields import expand_sql
from stations.db import indexes
from stations.sql import load

SQL = load("import", expand=expand_sql)

MIN_NEW = 20_000
"""An import adding at least this many stations, and at least a third as many as the
catalog holds, takes the bulk path."""

NO_LIMIT = 2**62
"""``last_id`` of an import that is not bulk: every station counts as there before."""


@dataclass
class BulkInsert:
    """The state of one import's bulk path (see the module doc)."""

    conn: asyncpg.Connection
    source: str
    last_id: int  # the catalog's largest station id before the import
    existing: int  # stations the source had before the import
    rebuilt: list[asyncpg.Record]
    seen: set[str] = field(default_factory=set)
    inserted: int = 0
    removed: int = 0

    @property
    def deferred(self) -> list[str]:
        return [item["name"] for item in self.rebuilt if item["kind"] == "index"]

    @classmethod
    async def start(
        cls, conn: asyncpg.Connection, *, source: str, rows: int, min_new: int
    ) -> BulkInsert | None:
        """Take the bulk path if the file's rows (less the source's stations) are many."""
        existing = int(await conn.fetchval(SQL.count_source, source))
        new = rows - existing
        if new < min_new or 3 * new < int(await conn.fetchval(SQL.catalog_size)):
            return None
        await conn.execute(SQL.raise_work_mem)
        await conn.execute(SQL.create_existing_table, source)
        await conn.execute(SQL.index_rows_table)
        rebuilt = await conn.fetch(SQL.rebuilt_after_bulk_insert)
        for item in rebuilt:
            await conn.execute(item["drop"])
            if item["kind"] == "index":
                await indexes.defer(conn, item["name"], item["build"])
        last_id = int(await conn.fetchval(SQL.last_station_id))
        await conn.execute(SQL.pause_create_history)
        return cls(conn, source, last_id, existing, list(rebuilt))

    def repeats(self, rows: np.ndarray, ids: pa.Array, staged: np.ndarray) -> list[int]:
        """Staged rows whose source id an earlier row had (in this chunk or before)."""
        values = ids.to_pylist()
        later = []
        for row, value in zip(rows.tolist(), values, strict=True):
            if value in self.seen:
                later.append(row)
            else:
                self.seen.add(value)
        return np.intersect1d(np.array(later, dtype=np.int64), staged).tolist()

    async def insert_chunk(self, first_row: int, last_row: int, skip: list[int]) -> None:
        status = await self.conn.execute(
            SQL.insert_new_chunk, self.source, first_row, last_row, skip
        )
        self.inserted += int(status.split()[-1])

    async def remove(self, rows: np.ndarray) -> None:
        """Delete the stations inserted from ``rows`` (refused by a whole-file check)."""
        if len(rows) == 0:
            return
        await self.conn.execute(SQL.pause_delete_history)
        status = await self.conn.execute(
            SQL.delete_rejected_new, self.source, rows.astype(np.int64).tolist(), self.last_id
        )
        await self.conn.execute(SQL.resume_delete_history)
        self.removed += int(status.split()[-1])

    async def finish(self, timed: Callable[[str], AbstractContextManager[None]]) -> int:
        """History, unique constraints back; returns how many stations were created."""
        with timed("write the create history"):
            await self.conn.execute(SQL.write_create_history, self.last_id)
            await self.conn.execute(SQL.resume_create_history)
        await self.conn.execute(SQL.raise_maintenance_mem)
        for item in self.rebuilt:
            if item["kind"] == "constraint":
                with timed(item["step"]):
                    await self.conn.execute(item["build"])
        return self.inserted - self.removed

    def note(self, new: int, index_builds: str) -> str:
        kinds = Counter(item["kind"] for item in self.rebuilt)
        when = (
            "after the commit" if index_builds == "wait" else "after the commit, in the background"
        )
        return (
            f"{new:,} new stations: the catalog's {kinds['constraint']} unique constraints "
            f"were built again before the commit and its {kinds['index']} search indexes "
            f"{when} (faster than row by row); readers of the catalog waited for the import "
            "to commit, and until the indexes are back their searches answer the same, "
            "more slowly"
        )
