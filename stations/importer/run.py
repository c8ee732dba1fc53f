"""The import pipeline on frames in catalog form: check, stage by COPY, merge.

A frame (or a stream of chunks of one file) goes through:

1. per chunk (:mod:`stations.importer.prepare`): position parsed and converted to
   WGS84 (the original kept), the station rules, source ids, time zone and country, H3
   cells; the rows that pass are COPYed (binary) into a temporary table. A chunk is
   checked in a worker thread while the server still stores the previous chunk's COPY;
2. once every chunk is in: duplicate source ids and near-duplicates
   (:mod:`stations.importer.duplicates`: the same name within a few metres, in the
   file or in the catalog), whose rows are taken out again;
3. set-based SQL merges the rest into ``stations``: new rows inserted, changed rows
   updated, unchanged rows left alone (so a re-import writes no history).

All of it runs in one transaction: every good row lands or none does, and bad rows
never land.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress

import asyncpg
import numpy as np
import pandas as pd
import pyarrow as pa

from stations.catalog import fields
from stations.catalog.fields import expand_sql
from stations.catalog.problems import Problems
from stations.db import connection as dbconn
from stations.geo import crs as crsmod
from stations.geo.region import Region
from stations.importer import pgcopy
from stations.importer.duplicates import find_near_duplicates
from stations.importer.prepare import Options, Progress, check_options, prepare
from stations.importer.report import ImportReport
from stations.sql import load

SQL = load("import", expand=expand_sql)

BULK_MIN_NEW = 20_000
"""An import adding at least this many stations, and at least a third as many as the
catalog holds, rebuilds the catalog's secondary indexes after its insert instead of
updating them row by row (see :meth:`ImportRun._insert_new`)."""


class ImportRun:
    """One import: feed it chunks (frames whose index is the row number), then finish."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        options: Options,
        *,
        progress: Progress | None = None,
        total_rows: int | None = None,
        field_labels: dict[str, str] | None = None,
    ) -> None:
        self.conn = conn
        self.options = check_options(options)
        self.progress = progress
        self.total_rows = total_rows
        self.field_labels = field_labels or {}
        self.report = ImportReport(source=options.source, dry_run=options.dry_run)
        self.problem_parts: list[pd.DataFrame] = []
        self.ids_row: list[np.ndarray] = []
        self.ids: list[pa.Array] = []
        self.good_row: list[np.ndarray] = []
        self.good_lat: list[np.ndarray] = []
        self.good_lng: list[np.ndarray] = []
        self.good_name: list[pa.Array] = []
        self.provided: set[str] = set()
        self.derived_ids = False
        self.copying: asyncio.Future[str] | None = None
        self.started = time.perf_counter()

    async def run(self, feed: Callable[[], Awaitable[None]]) -> ImportReport:
        """Check and stage what ``feed`` adds (with :meth:`add`), then merge; one transaction."""
        reason = self.options.reason or f"import of source {self.options.source}"
        try:
            async with dbconn.transaction(self.conn, actor=self.options.actor, reason=reason):
                await self.conn.execute(SQL.lock_source, self.options.source)
                await self.conn.execute(SQL.drop_rows_table)
                await self.conn.execute(SQL.create_rows_table)
                try:
                    await feed()
                except BaseException:
                    # Wait for a running COPY, or the rollback finds the connection busy;
                    # the error that made the import leave is the one to report.
                    with suppress(Exception):
                        await self._copied()
                    raise
                with self._timed("copy to staging"):
                    await self._copied()
                await self.finish()
                if self.options.dry_run:
                    raise _RollBack
                await self.conn.execute(SQL.drop_rows_table)
        except _RollBack:
            pass
        self.report.seconds = time.perf_counter() - self.started
        return self.report

    async def add(
        self, frame: pd.DataFrame, *, problems: Problems | None = None, dropped: int = 0
    ) -> None:
        """Check one chunk and COPY its good rows into the staging table.

        ``problems`` are what reading and mapping found; ``dropped`` rows were unreadable
        (already in ``problems``) and are not in ``frame``.
        """
        if not self.provided:
            self.provided = {f for f in fields.OPTIONAL_FIELDS if f in frame.columns}
            if self.options.time_zone:
                self.provided.add("time_zone")
            if self.options.country:
                self.provided.add("country_code")
        with self._timed("check rows"):
            prepared = await asyncio.to_thread(prepare, frame, self.options, problems)
        self.report.read += prepared.rows + dropped
        self.derived_ids |= prepared.derived_ids
        self._keep_problems(prepared.problems)
        self.ids_row.append(prepared.ids_row)
        self.ids.append(prepared.ids)
        self.good_row.append(prepared.good_row)
        self.good_lat.append(prepared.good_lat)
        self.good_lng.append(prepared.good_lng)
        self.good_name.append(prepared.good_name)
        if len(prepared.good_row):
            with self._timed("copy to staging"):
                await self._copied()
                data = pgcopy.encode(prepared.staged, len(prepared.good_row))
                self.copying = asyncio.ensure_future(
                    self.conn.copy_to_table(
                        "import_rows",
                        source=_Reader(data),
                        columns=list(fields.STAGED_COLUMNS),
                        format="binary",
                    )
                )
        if self.progress is not None:
            self.progress("rows", self.report.read, self.total_rows)

    async def _copied(self) -> None:
        """Wait for the COPY still running, if any: the connection serves one operation
        at a time, so nothing else is sent before the COPY ends."""
        copying, self.copying = self.copying, None
        if copying is not None:
            await copying

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        """Add the time spent in ``stage`` to the report's timings."""
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            self.report.timings[stage] = self.report.timings.get(stage, 0.0) + spent

    def _keep_problems(self, problems: Problems) -> None:
        found = problems.frame()
        if len(found):
            self.problem_parts.append(found.rename(columns={"index": "row"}))

    async def finish(self) -> None:
        """Whole-file checks, then the merge (or, in a dry run, only its counts)."""
        rows = np.concatenate(self.good_row) if self.good_row else np.array([], np.int64)
        lat = np.concatenate(self.good_lat) if self.good_lat else np.array([])
        lng = np.concatenate(self.good_lng) if self.good_lng else np.array([])
        names = (
            pa.concat_arrays(self.good_name) if self.good_name else pa.array([], pa.large_string())
        )
        with self._timed("whole-file checks"):
            rejected = self._duplicate_ids()
            keep = ~np.isin(rows, rejected) if len(rejected) else np.ones(len(rows), dtype=bool)
            near = await self._near_duplicates(
                rows[keep], lat[keep], lng[keep], names.filter(pa.array(keep))
            )
            rejected = np.concatenate([rejected, near])
            if len(rejected):
                await self.conn.execute(SQL.drop_rejected_rows, rejected.astype(np.int64).tolist())
        if self.derived_ids:
            self.report.notes.append(
                "the file has no source-id column: each row's id was derived from its "
                "position (rounded to ~1 m) and name, so moving or renaming a station in "
                "the file makes it a new station"
            )
        self._finish_problems()
        await self._merge()

    def _duplicate_ids(self) -> np.ndarray:
        """Rows repeating an earlier row's source id (the first row wins)."""
        if not self.ids:
            return np.array([], dtype=np.int64)
        row = np.concatenate(self.ids_row)
        ids = pd.Series(
            pa.concat_arrays(self.ids).to_pandas(types_mapper=pd.ArrowDtype).astype("str")
        )
        repeated = ids.duplicated(keep="first").to_numpy()
        if not repeated.any():
            return np.array([], dtype=np.int64)
        order = np.argsort(row, kind="stable")
        ids_sorted = ids.iloc[order].reset_index(drop=True)
        row_sorted = row[order]
        first_row = pd.Series(row_sorted).groupby(ids_sorted.to_numpy()).transform("min").to_numpy()
        later = row_sorted != first_row
        self.problem_parts.append(
            pd.DataFrame(
                {
                    "row": row_sorted[later],
                    "field": "source_id",
                    "code": "duplicate_source_id",
                    "reason": [
                        f"repeats the source id of row {f}; the first row wins"
                        for f in first_row[later]
                    ],
                    "value": ids_sorted[later].tolist(),
                }
            )
        )
        return row_sorted[later]

    async def _near_duplicates(
        self, rows: np.ndarray, lat: np.ndarray, lng: np.ndarray, names: pa.Array
    ) -> np.ndarray:
        """Rows within NEAR_DUPLICATE_METRES of an earlier row or a station, same name."""
        if len(rows) == 0:
            return np.array([], dtype=np.int64)
        margin = 0.001  # degrees: ~100 m, more than any near-duplicate distance
        catalog = await self.conn.fetch(
            SQL.catalog_neighbours,
            self.options.source,
            float(lng.min()),
            float(lat.min()),
            float(lng.max()),
            float(lat.max()),
            margin,
        )
        found = find_near_duplicates(rows, lat, lng, names, catalog)
        if not found:
            return np.array([], dtype=np.int64)
        self.problem_parts.append(
            pd.DataFrame(found, columns=["row", "field", "code", "reason", "value"])
        )
        return np.array([f[0] for f in found], dtype=np.int64)

    def _finish_problems(self) -> None:
        if self.problem_parts:
            frame = pd.concat(self.problem_parts, ignore_index=True)
            frame["row"] = frame["row"].astype(np.int64)
            frame["field"] = frame["field"].map(lambda f: self.field_labels.get(f, f))
            frame = frame.sort_values(["row"], kind="stable").reset_index(drop=True)
        else:
            frame = self.report.problem_frame
        self.report.problem_frame = frame
        self.report.rejected = int(frame["row"].nunique()) if len(frame) else 0

    async def _merge(self) -> None:
        source = self.options.source
        with self._timed("plan (compare with the catalog)"):
            await self.conn.execute(SQL.analyze_rows)
            plan = await self.conn.fetchrow(SQL.count_plan, source)
            await self.conn.execute(SQL.drop_changes_table)
            await self.conn.execute(SQL.plan_updates, source, sorted(self.provided))
            changes = await self.conn.fetchval(SQL.count_changes)
        if self.progress is not None:
            self.progress("write", 0, plan["new"] + changes)
        if not self.options.dry_run:
            inserted = await self._insert_new(int(plan["new"]))
            if inserted != plan["new"]:
                raise RuntimeError(f"inserted {inserted} stations, planned {plan['new']}")
            with self._timed("update changed stations (with history)"):
                status = await self.conn.execute(SQL.apply_updates)
            changes = int(status.split()[-1])
        await self.conn.execute(SQL.drop_changes_table)
        self.report.created = int(plan["new"])
        self.report.updated = int(changes)
        self.report.unchanged = int(plan["existing"]) - int(changes)
        if self.progress is not None:
            self.progress("write", plan["new"] + changes, plan["new"] + changes)

    async def _insert_new(self, new: int) -> int:
        """Insert the new stations; a large import rebuilds the indexes and unique
        constraints (all but the primary key) after.

        Dropping an index inside the import's transaction locks the catalog against
        readers until the import commits, so only imports that add many stations (a
        first load, a new province) take that path; it is noted in the report.
        """
        await self.conn.execute(SQL.raise_work_mem)
        bulk = new >= BULK_MIN_NEW and 3 * new >= await self.conn.fetchval(SQL.catalog_size)
        rebuilt = await self.conn.fetch(SQL.rebuilt_after_bulk_insert) if bulk else []
        for item in rebuilt:
            await self.conn.execute(item["drop"])
        with self._timed("insert new stations (with history)"):
            status = await self.conn.execute(SQL.insert_new_stations, self.options.source)
        if bulk:
            await self.conn.execute(SQL.raise_maintenance_mem)
            for item in rebuilt:
                with self._timed(item["step"]):
                    await self.conn.execute(item["build"])
            with self._timed("analyze"):
                await self.conn.execute(SQL.analyze_stations)
            kinds = Counter(item["kind"] for item in rebuilt)
            self.report.notes.append(
                f"{new:,} new stations: the catalog's {kinds['index']} search indexes and "
                f"{kinds['constraint']} unique constraints were built again after the insert "
                "(faster than row by row); readers of the catalog waited for the import to commit"
            )
        return int(status.split()[-1])


class _RollBack(Exception):
    """Leaves the import's transaction without committing (a dry run)."""


class _Reader:
    """A file-like view of COPY data for asyncpg (which reads it in pieces)."""

    def __init__(self, data: bytes) -> None:
        self.view = memoryview(data)
        self.at = 0

    def read(self, size: int) -> bytes:
        piece = self.view[self.at : self.at + size]
        self.at += len(piece)
        return bytes(piece)


async def import_frame(
    conn: asyncpg.Connection,
    frame: pd.DataFrame,
    *,
    source: str,
    actor: str,
    crs: crsmod.Crs | None = None,
    default_kind: str | None = None,
    region: Region | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    time_zone: str | None = None,
    country: str | None = None,
    chunk_rows: int = 200_000,
) -> ImportReport:
    """Import a DataFrame in catalog form as stations of ``source``; see the module doc.

    ``frame`` has catalog columns (``source_id``, ``name``, ``name_en``, ``kind``,
    ``status``, ``amenities`` as a list or a ';'/','-separated string, ``access``,
    ``opening_hours``, ``time_zone``, ``country_code``, ``address``, ``district``,
    ``district_code``, ``operator``, ``contact``, ``verified_at``, ``attributes``) and the
    position as ``lat``/``lng`` columns or a shapely ``geometry`` column (x = lng), both
    in ``crs`` (default WGS84); with a projected ``crs``, ``x``/``y`` columns work too.
    A missing ``kind`` takes ``default_kind``; a missing ``source_id`` column means ids
    derived from position and name. Row numbers in the report are the frame's positions
    counted from 1. Columns the frame leaves out keep their stored values on update.
    """
    options = Options(
        source=source,
        actor=actor,
        crs=crs or crsmod.Crs("wgs84"),
        default_kind=default_kind,
        region=region,
        dry_run=dry_run,
        time_zone=time_zone,
        country=country,
    )
    frame = frame.reset_index(drop=True)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    run = ImportRun(conn, options, progress=progress, total_rows=len(frame))

    async def feed() -> None:
        for start in range(0, len(frame), chunk_rows):
            await run.add(frame.iloc[start : start + chunk_rows])

    return await run.run(feed)
