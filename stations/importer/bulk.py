"""The bulk path of an import: one that adds many stations at once (a first load, a province).

Decided when the first chunk arrives, from the number of rows the file holds and the
stations the source already has. Then, inside the import's transaction:

1. the catalog's unique constraints (all but the primary key) and search indexes are
   dropped; the indexes are recorded in ``deferred_indexes`` (migration 0013) to be built
   after the commit (:mod:`stations.db.indexes`), the constraints are added back before it;
2. each chunk's new stations are COPYed straight into ``stations``, with the ids this
   import draws (a block of the id sequence, which no one else can use while the
   catalog is locked), their codes (:mod:`stations.catalog.codes`) and geographies
   encoded here, in H3 order within the chunk; their 'create' history rows follow in a
   second COPY (the history trigger is paused: it would first copy every row into its
   transition table). PostgreSQL stores a chunk while Python checks the next one.
   Rows of stations the source already has are staged as on the ordinary path and
   compared after the last chunk; rows repeating an earlier row's source id are left
   out (the first row wins, as the whole-file check reports);
3. rows the whole-file checks refuse afterwards (near-duplicates) are deleted again,
   with their history: bad rows never land;
4. the unique constraints are added back, which checks every row: all or nothing (the
   server does that while Python looks for near-duplicates). The table's CHECK
   constraints stay in place throughout: every COPYed row meets them.

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
import pyarrow.compute as pc

from stations.catalog import fields
from stations.catalog.codes import station_codes
from stations.catalog.fields import expand_sql
from stations.db import indexes
from stations.importer import pgcopy
from stations.sql import load

SQL = load("import", expand=expand_sql)

MIN_NEW = 20_000
"""An import adding at least this many stations, and at least a third as many as the
catalog holds, takes the bulk path."""

NO_LIMIT = 2**62
"""``last_id`` of an import that is not bulk: every station counts as there before."""

STATION_COLUMNS: tuple[str, ...] = (
    "id",
    "code",
    *fields.STATION_FIELDS,
    "source",
    "source_id",
    "original_position",
    "geom",
    "h3_r7",
    "h3_r9",
    "h3_r11",
)
"""The columns a bulk import COPYes into ``stations`` (the others take their defaults)."""

HISTORY_COLUMNS: tuple[str, ...] = ("station_id", "action", "actor", "reason")

NOTIFY_IDS = 501
"""Enough ids for ``notify_stations_changed`` to tell a list from 'too many to list'."""


@dataclass
class Chunk:
    """One chunk's COPY streams: rows to stage, new stations and their history (the
    ordinary path stages every row)."""

    staged: bytes | None
    stations: bytes | None
    history: bytes | None


@dataclass
class BulkInsert:
    """The state of one import's bulk path (see the module doc)."""

    conn: asyncpg.Connection
    source: str
    last_id: int  # the catalog's largest station id before the import
    first_id: int  # the first id of the import's block
    next_id: int  # the id the next new station gets
    existing: int  # stations the source had before the import
    existing_ids: pa.Array  # their source ids (UTF-8 bytes)
    actor: str
    reason: str | None
    rebuilt: list[asyncpg.Record]
    seen: set[str] = field(default_factory=set)
    inserted_rows: list[np.ndarray] = field(default_factory=list)  # file rows ...
    inserted_ids: list[np.ndarray] = field(default_factory=list)  # ... and their station ids
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
        existing_ids = pa.array(
            [r["source_id"].encode() for r in await conn.fetch(SQL.source_ids, source)]
            if existing
            else [],
            pa.large_binary(),
        )
        rebuilt = await conn.fetch(SQL.rebuilt_after_bulk_insert)
        for item in rebuilt:
            await conn.execute(item["drop"])
            if item["kind"] == "index":
                await indexes.defer(conn, item["name"], item["build"])
        # the catalog is locked now: no one else draws ids until the import ends
        ids = await conn.fetchrow(SQL.id_block_start)
        await conn.execute(SQL.pause_create_history)
        return cls(
            conn,
            source,
            last_id=int(ids["last_id"]),
            first_id=int(ids["next_id"]),
            next_id=int(ids["next_id"]),
            existing=existing,
            existing_ids=existing_ids,
            actor=ids["actor"],
            reason=ids["reason"],
            rebuilt=list(rebuilt),
        )

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

    def encode(
        self,
        columns: list[pgcopy.Column],
        *,
        rows: np.ndarray,
        lat: np.ndarray,
        lng: np.ndarray,
        ids_row: np.ndarray,
        ids: pa.Array,
    ) -> Chunk:
        """Split a chunk's good rows (``columns`` in staging order, ``rows`` their file
        rows) into the ones to stage (stations the source has) and new stations, and
        encode both, with the new stations' history. ``ids_row``/``ids``: every row's
        source id, good or not, for the first-row-wins rule."""
        staged = dict(zip(fields.STAGED_COLUMNS, columns, strict=True))
        source_ids = staged["source_id"].var
        assert source_ids is not None
        known = np.asarray(pc.is_in(source_ids, value_set=self.existing_ids), dtype=bool)
        repeated = np.isin(rows, self.repeats(ids_row, ids, rows))
        to_stage = np.flatnonzero(known)
        new = np.flatnonzero(~known & ~repeated)
        cells = staged["h3_r11"].fixed
        assert cells is not None
        new = new[np.argsort(cells[new], kind="stable")]  # H3 order
        ids = np.arange(self.next_id, self.next_id + len(new), dtype=np.int64)
        self.next_id += len(new)
        self.inserted_rows.append(rows[new])
        self.inserted_ids.append(ids)
        return Chunk(
            staged=pgcopy.encode([c.take(to_stage) for c in columns], len(to_stage))
            if len(to_stage)
            else None,
            stations=self._stations(staged, new, ids, lat, lng) if len(new) else None,
            history=self._history(ids) if len(new) else None,
        )

    def _stations(
        self,
        staged: dict[str, pgcopy.Column],
        new: np.ndarray,
        ids: np.ndarray,
        lat: np.ndarray,
        lng: np.ndarray,
    ) -> bytes:
        """The new stations at positions ``new``, numbered ``ids`` (drawn from the
        import's block), as a COPY stream of STATION_COLUMNS."""
        made = {
            "id": pgcopy.int8(ids),
            "code": pgcopy.text(station_codes(ids)),
            "source": pgcopy.repeated_text(self.source, len(new)),
            "geom": pgcopy.geography_points(lat[new], lng[new]),
        }
        columns = [
            made[name] if name in made else staged[name].take(new) for name in STATION_COLUMNS
        ]
        return pgcopy.encode(columns, len(new))

    def _history(self, ids: np.ndarray) -> bytes:
        """'create' history rows for the stations ``ids``, as the trigger
        ``stations_history_insert`` writes them (stations/sql/functions/catalog.sql)."""
        n = len(ids)
        reason = (
            pgcopy.repeated_text(self.reason, n)
            if self.reason is not None
            else pgcopy.text(pa.nulls(n, pa.large_binary()))
        )
        columns = [
            pgcopy.int8(ids),
            pgcopy.repeated_text("create", n),
            pgcopy.repeated_text(self.actor, n),
            reason,
        ]
        return pgcopy.encode(columns, n)

    async def copy(self, chunk: Chunk) -> None:
        """COPY a chunk's new stations and their history."""
        if chunk.stations is None or chunk.history is None:
            return
        status = await self.conn.copy_to_table(
            "stations",
            source=pgcopy.source(chunk.stations),
            columns=STATION_COLUMNS,
            format="binary",
        )
        await self.conn.copy_to_table(
            "station_history",
            source=pgcopy.source(chunk.history),
            columns=HISTORY_COLUMNS,
            format="binary",
        )
        self.inserted += int(status.split()[-1])

    def _all_inserted(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.inserted_ids:
            return np.array([], np.int64), np.array([], np.int64)
        return np.concatenate(self.inserted_rows), np.concatenate(self.inserted_ids)

    async def remove(self, rows: np.ndarray) -> None:
        """Delete the stations inserted from ``rows`` (refused by a whole-file check),
        and their history."""
        inserted_rows, inserted_ids = self._all_inserted()
        gone = inserted_ids[np.isin(inserted_rows, rows)]
        if len(gone) == 0:
            return
        keep = ~np.isin(inserted_ids, gone)
        self.inserted_rows, self.inserted_ids = [inserted_rows[keep]], [inserted_ids[keep]]
        await self.conn.execute(SQL.pause_delete_history)
        status = await self.conn.execute(SQL.delete_new_stations, gone.tolist())
        await self.conn.execute(SQL.resume_delete_history)
        await self.conn.execute(SQL.delete_new_history, gone.tolist())
        self.removed += int(status.split()[-1])

    async def constraints_back(self, timed: Callable[[str], AbstractContextManager[None]]) -> None:
        """Add the unique constraints back, checking every row (all or nothing). Rows
        removed after this cannot break them."""
        await self.conn.execute(SQL.raise_maintenance_mem)
        for item in self.rebuilt:
            if item["kind"] == "constraint":
                with timed(item["step"]):
                    await self.conn.execute(item["build"])

    async def finish(self) -> int:
        """Id sequence past the block, history trigger back, the notice to every
        worker's index; returns how many stations were created."""
        if self.next_id > self.first_id:
            await self.conn.execute(SQL.id_block_end, self.next_id - 1)
        await self.conn.execute(SQL.resume_create_history)
        _, inserted_ids = self._all_inserted()
        await self.conn.execute(SQL.notify_new, inserted_ids[:NOTIFY_IDS].tolist())
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
