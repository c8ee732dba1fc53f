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
never land. An import that adds many stations takes the bulk path
(:mod:`stations.importer.bulk`): new stations are COPYed straight into the catalog
chunk by chunk, and the search indexes are built again after the commit.
"""

from __future__ import annotations

import asyncio
import time
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
from stations.db import indexes
from stations.geo import crs as crsmod
from stations.geo.region import Region
from stations.importer import bulk, pgcopy
from stations.importer.duplicates import find_near_duplicates
from stations.importer.prepare import Options, Prepared, Progress, check_options, prepare
from stations.importer.report import ImportReport
from stations.sql import load

SQL = load("import", expand=expand_sql)

BULK_MIN_NEW = bulk.MIN_NEW
"""An import adding at least this many stations, and at least a third as many as the
catalog holds, takes the bulk path (:mod:`stations.importer.bulk`)."""


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
        self.warning_parts: list[pd.DataFrame] = []
        self.ids_row: list[np.ndarray] = []
        self.ids: list[pa.Array] = []
        self.good_row: list[np.ndarray] = []
        self.good_lat: list[np.ndarray] = []
        self.good_lng: list[np.ndarray] = []
        self.good_name: list[pa.Array] = []
        self.provided: set[str] = set()
        self.derived_ids = False
        self.copying: asyncio.Future[None] | None = None
        self.deferred: list[str] = []  # indexes dropped for a bulk insert
        self.bulk: bulk.BulkInsert | None = None
        self.chunks = 0
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
                await self.finish()
                if self.options.dry_run:
                    raise _RollBack
                await self.conn.execute(SQL.drop_rows_table)
        except _RollBack:
            pass
        else:
            await self._build_deferred()
        self.report.seconds = time.perf_counter() - self.started
        return self.report

    async def add(
        self, frame: pd.DataFrame, *, problems: Problems | None = None, dropped: int = 0
    ) -> None:
        """Check one chunk and COPY its good rows into the staging table.

        ``problems`` are what reading and mapping found; ``dropped`` rows were unreadable
        (already in ``problems``) and are not in ``frame``.
        """
        if self.chunks == 0 and not self.options.dry_run and self.total_rows is not None:
            self.bulk = await bulk.BulkInsert.start(
                self.conn, source=self.options.source, rows=self.total_rows, min_new=BULK_MIN_NEW
            )
            self.deferred = self.bulk.deferred if self.bulk else []
        self.chunks += 1
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
        self._keep_problems(prepared.problems, prepared.warnings)
        self.ids_row.append(prepared.ids_row)
        self.ids.append(prepared.ids)
        self.good_row.append(prepared.good_row)
        self.good_lat.append(prepared.good_lat)
        self.good_lng.append(prepared.good_lng)
        self.good_name.append(prepared.good_name)
        if len(prepared.good_row):
            with self._timed("encode rows"):
                chunk = await asyncio.to_thread(self._encode, prepared)
            with self._timed(self._staging_stage):
                await self._copied()
                self.copying = asyncio.ensure_future(self._stage(chunk))
        if self.progress is not None:
            self.progress("rows", self.report.read, self.total_rows)

    @property
    def _staging_stage(self) -> str:
        return "copy new stations, stage the others" if self.bulk else "copy to staging"

    def _encode(self, prepared: Prepared) -> bulk.Chunk:
        """A chunk's good rows as COPY streams: all staged, or on the bulk path the new
        stations apart (:meth:`stations.importer.bulk.BulkInsert.encode`)."""
        if self.bulk is None:
            return bulk.Chunk(
                staged=pgcopy.encode(prepared.staged, len(prepared.good_row)),
                stations=None,
                history=None,
            )
        return self.bulk.encode(
            prepared.staged,
            rows=prepared.good_row,
            lat=prepared.good_lat,
            lng=prepared.good_lng,
            ids_row=prepared.ids_row,
            ids=prepared.ids,
        )

    async def _stage(self, chunk: bulk.Chunk) -> None:
        """COPY a chunk's rows to stage into the staging table and, on the bulk path, its
        new stations into the catalog (the server stores them while the next chunk is
        checked)."""
        if chunk.staged is not None:
            await self.conn.copy_to_table(
                "import_rows",
                source=pgcopy.source(chunk.staged),
                columns=list(fields.STAGED_COLUMNS),
                format="binary",
            )
        if self.bulk is not None:
            await self.bulk.copy(chunk)

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

    def _keep_problems(self, problems: Problems, warnings: Problems) -> None:
        for found, parts in (
            (problems.frame(), self.problem_parts),
            (warnings.frame(), self.warning_parts),
        ):
            if len(found):
                parts.append(found.rename(columns={"index": "row"}))

    async def finish(self) -> None:
        """Whole-file checks, then the merge (or, in a dry run, only its counts)."""
        rows = np.concatenate(self.good_row) if self.good_row else np.array([], np.int64)
        lat = np.concatenate(self.good_lat) if self.good_lat else np.array([])
        lng = np.concatenate(self.good_lng) if self.good_lng else np.array([])
        names = (
            pa.concat_arrays(self.good_name) if self.good_name else pa.array([], pa.large_string())
        )
        with self._timed("whole-file checks"):
            # Python's share while the server may still be storing the last chunk
            rejected = await asyncio.to_thread(self._duplicate_ids)
        with self._timed(self._staging_stage):
            await self._copied()
        keep = ~np.isin(rows, rejected) if len(rejected) else np.ones(len(rows), dtype=bool)
        rows, lat, lng, names = rows[keep], lat[keep], lng[keep], names.filter(pa.array(keep))
        catalog = await self._catalog_neighbours(lat, lng)
        checking = asyncio.ensure_future(
            asyncio.to_thread(self._near_duplicates, rows, lat, lng, names, catalog)
        )
        try:
            if self.bulk is not None:
                # the server checks every row for the unique constraints meanwhile
                await self.bulk.constraints_back(self._timed)
        finally:
            with self._timed("whole-file checks"):
                near = await checking
        with self._timed("whole-file checks"):
            if self.bulk is not None:
                await self.bulk.remove(near)  # inserted already; duplicates never were
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

    async def _catalog_neighbours(self, lat: np.ndarray, lng: np.ndarray) -> list[asyncpg.Record]:
        """Stations of the catalog (before the import, not rewritten by it) around the
        file's rows: the near-duplicate check compares rows with them too."""
        if len(lat) == 0:
            return []
        margin = 0.001  # degrees: ~100 m, more than any near-duplicate distance
        return await self.conn.fetch(
            SQL.catalog_neighbours,
            self.options.source,
            float(lng.min()),
            float(lat.min()),
            float(lng.max()),
            float(lat.max()),
            margin,
            self.bulk.last_id if self.bulk else bulk.NO_LIMIT,
        )

    def _near_duplicates(
        self,
        rows: np.ndarray,
        lat: np.ndarray,
        lng: np.ndarray,
        names: pa.Array,
        catalog: list[asyncpg.Record],
    ) -> np.ndarray:
        """Rows within NEAR_DUPLICATE_METRES of an earlier row or a station, same name."""
        if len(rows) == 0:
            return np.array([], dtype=np.int64)
        found = find_near_duplicates(rows, lat, lng, names, catalog)
        if not found:
            return np.array([], dtype=np.int64)
        self.problem_parts.append(
            pd.DataFrame(found, columns=["row", "field", "code", "reason", "value"])
        )
        return np.array([f[0] for f in found], dtype=np.int64)

    def _finish_problems(self) -> None:
        self.report.problem_frame = self._in_row_order(self.problem_parts, rejected=None)
        self.report.rejected = (
            int(self.report.problem_frame["row"].nunique()) if len(self.report.problem_frame) else 0
        )
        rejected = self.report.problem_frame["row"].to_numpy()
        self.report.warning_frame = self._in_row_order(self.warning_parts, rejected=rejected)

    def _in_row_order(self, parts: list[pd.DataFrame], rejected: np.ndarray | None) -> pd.DataFrame:
        """Problems (or warnings, less those of rows rejected later) sorted by row."""
        if not parts:
            return self.report.problem_frame.iloc[0:0]
        frame = pd.concat(parts, ignore_index=True)
        frame["row"] = frame["row"].astype(np.int64)
        if rejected is not None and len(rejected):
            frame = frame[~np.isin(frame["row"].to_numpy(), rejected)]
        frame["field"] = frame["field"].map(lambda f: self.field_labels.get(f, f))
        return frame.sort_values(["row"], kind="stable").reset_index(drop=True)

    async def _merge(self) -> None:
        source = self.options.source
        with self._timed("plan (compare with the catalog)"):
            await self.conn.execute(SQL.drop_changes_table)
            before = self.bulk.last_id if self.bulk else bulk.NO_LIMIT
            if self.bulk is not None and self.bulk.existing == 0:
                # a source's first load: nothing staged, nothing to compare
                plan = {"new": 0, "existing": 0}
                await self.conn.execute(SQL.plan_updates, source, [], before, False)
            else:
                await self.conn.execute(SQL.analyze_rows)
                plan = dict(await self.conn.fetchrow(SQL.count_plan, source, before))
                await self.conn.execute(
                    SQL.plan_updates, source, sorted(self.provided), before, True
                )
            if self.bulk is not None:
                if plan["new"]:
                    raise RuntimeError("a bulk import staged rows of stations it did not have")
                plan["new"] = self.bulk.inserted - self.bulk.removed
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
        """Insert the new stations (the bulk path has COPYed them chunk by chunk: it adds
        its unique constraints back)."""
        if self.bulk is not None:
            created = await self.bulk.finish()
            self.report.notes.append(self.bulk.note(new, self.options.index_builds))
            return created
        await self.conn.execute(SQL.raise_work_mem)
        with self._timed("insert new stations (with history)"):
            status = await self.conn.execute(SQL.insert_new_stations, self.options.source)
        return int(status.split()[-1])

    async def _build_deferred(self) -> None:
        """After the commit: build the indexes this import deferred, or leave them to a
        background builder (``index_builds="background"``: the report lists them)."""
        if not self.deferred:
            return
        if self.options.index_builds == "background":
            self.report.deferred_indexes = list(self.deferred)
            return
        while True:
            started = time.perf_counter()
            done = await indexes.build_next(self.conn)
            if done is None:
                break
            self.report.timings[f"build index public.{done[0]}"] = time.perf_counter() - started
        with self._timed("analyze"):
            await self.conn.execute(indexes.SQL.analyze_stations)


class _RollBack(Exception):
    """Leaves the import's transaction without committing (a dry run)."""


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
    index_builds: str = "wait",
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
    ``index_builds`` says what a bulk import does with the search indexes it dropped,
    after its commit: ``wait`` builds them before returning, ``background`` leaves them
    to :func:`stations.db.indexes.build_pending` (the report lists them).
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
        index_builds=index_builds,
    )
    frame = frame.reset_index(drop=True)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    run = ImportRun(conn, options, progress=progress, total_rows=len(frame))

    async def feed() -> None:
        for start in range(0, len(frame), chunk_rows):
            await run.add(frame.iloc[start : start + chunk_rows])

    return await run.run(feed)
