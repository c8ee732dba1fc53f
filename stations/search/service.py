"""Owning the in-process index: load it, follow every change, rebuild it off the loop.

Coherence with PostGIS
----------------------
* Every write to ``stations`` — API, importer, psql — fires ``NOTIFY stations_changed``
  with the changed ids (``*`` when more than 500 changed). A dedicated listener
  connection queues them; one worker task re-reads those rows and applies them, or
  reloads everything on ``*``.
* The listener subscribes *before* the initial load, so nothing committed after the
  load's snapshot is missed. When the listener connection is lost (or stops answering
  the keep-alive) the service reconnects and reloads, because notifications sent while
  it was away are gone.
* The API's own writes call :meth:`IndexService.refresh` after their transaction
  commits and before they respond: read-your-writes in this process.
* With a read replica (``DATABASE_READ_URL``) the index loads and re-reads from it,
  but listens on the primary (a standby delivers no notification sent on the primary).
  Before it reads a change it was told about it notes the primary's WAL position and
  waits until the replica has replayed that far (at most ``read_lag_wait_s``; past that
  it reads the change from the primary), so it never reads back the row from before
  the change and keeps it.
* Every re-read and apply happens under one lock, so reads of the same row are applied
  in the order they were made and an older read never overwrites a newer one.
* Rebuilds (a full reload, or compaction once enough changes pile up in the delta)
  build the new tree in a thread without the lock. Changes applied meanwhile are
  recorded and replayed onto the new index — a reload re-reads them, a compaction
  re-applies them — under the lock, right before the swap.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import asyncpg

from stations.catalog.fields import expand_sql
from stations.db import connection as dbconn
from stations.db import replication
from stations.search.columns import Columns, build_tree
from stations.search.filters import ACCESS_VALUES, AMENITY_VALUES, KIND_VALUES
from stations.search.index import StationIndex
from stations.search.live import POLL_S as LIVE_POLL_S
from stations.search.live import LiveData
from stations.search.openness import OpeningStates
from stations.settings import DatabaseSettings
from stations.sql import load

SQL = load("search", expand=expand_sql)
log = logging.getLogger(__name__)

CHANNEL = "stations_changed"
LISTENER_NAME = "love-stations-index"
"""``application_name`` of the listener connection (one per server process)."""
LOAD_CHUNK = 50_000
KEEPALIVE_S = 30.0
CLOSE_S = 10.0
RETRY_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
REPLAY_FOLLOW_S = 60.0

_VOCAB = (list(KIND_VALUES), list(ACCESS_VALUES), list(AMENITY_VALUES))


async def load_columns(pool: asyncpg.Pool, states: OpeningStates) -> Columns:
    """Every active station, read in id-ordered chunks (the loop stays responsive)."""
    parts: list[Columns] = []
    after = 0
    while True:
        async with pool.acquire() as conn:
            rows = await conn.fetch(SQL.index_chunk, after, LOAD_CHUNK, *_VOCAB)
        if not rows:
            break
        parts.append(Columns.from_records(rows, states))
        after = rows[-1]["id"]
        if len(rows) < LOAD_CHUNK:
            break
    return Columns.concat(parts)


async def read_rows(
    conn: asyncpg.Connection, station_ids: Iterable[int], states: OpeningStates
) -> dict[int, Columns | None]:
    """The index row of each id: None when it is gone or not active."""
    ids = sorted(set(station_ids))
    out: dict[int, Columns | None] = dict.fromkeys(ids)
    for start in range(0, len(ids), 10_000):
        rows = await conn.fetch(SQL.index_rows, ids[start : start + 10_000], *_VOCAB)
        for row in rows:
            if row["status"] == "active":
                out[row["id"]] = Columns.from_records([row], states)
    return out


def _settle_heap() -> None:
    """Keep the index's million objects out of the garbage collector's full passes.

    They live until the next rebuild and hold no reference cycles (reference counting
    frees them); without this, every full collection would walk them and stall
    requests for milliseconds.
    """
    gc.freeze()


class IndexService:
    """The index of one server process and the machinery that keeps it current."""

    def __init__(
        self, db: DatabaseSettings, pool: asyncpg.Pool, read_pool: asyncpg.Pool | None = None
    ) -> None:
        self._db = db
        self._pool = pool
        # Where loads, re-reads and the live data's polls go: the replica's pool, or the
        # primary's when there is no replica.
        self._read = read_pool if read_pool is not None else pool
        self.states = OpeningStates()
        self.live = LiveData()
        self.index = StationIndex.build(Columns.empty(), states=self.states, live=self.live)
        self.loaded = False
        self._lock = asyncio.Lock()
        self._events: asyncio.Queue[str] = asyncio.Queue()
        self._listener: asyncpg.Connection | None = None
        self._worker: asyncio.Task[None] | None = None
        self._live_worker: asyncio.Task[None] | None = None
        self._reloading = False
        self._changed_during_reload: set[int] = set()
        self._closed = False
        self.reloads = 0
        # Called after stations changed in this index (others keep what they derive from
        # stations, e.g. the claim desk's opening hours, current this way).
        self.on_change: list[Callable[[], None]] = []
        self.compactions = 0
        self.read_from_primary = 0  # changes read from the primary: the replica lagged
        # After such a change, what is built from the replica (tiles, cell summaries) is
        # built again once the replica has replayed up to here.
        self._replay_target: str | None = None
        self._replay_follower: asyncio.Task[None] | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Listen, load, then follow changes in the background."""
        try:
            await self._listen()
            await self._reload()
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            # Not migrated yet, or the database is down: serve an empty index and retry.
            log.warning("station index not loaded yet (%s); retrying in the background", exc)
            self._events.put_nowait("*")
        self._worker = asyncio.create_task(self._run(), name="station-index")
        self._live_worker = asyncio.create_task(self._follow_live(), name="station-live-data")

    async def close(self) -> None:
        """Stop following changes; bounded, so a server's shutdown never waits for ever."""
        self._closed = True
        tasks = [
            t for t in (self._worker, self._live_worker, self._replay_follower) if t is not None
        ]
        for task in tasks:
            task.cancel()
        if tasks:
            _, running = await asyncio.wait(tasks, timeout=CLOSE_S)
            if running:
                log.warning("station index tasks still running after %ss: %s", CLOSE_S, running)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None

    async def _listen(self) -> None:
        conn = await dbconn.connect(self._db, application_name=LISTENER_NAME)
        conn.add_termination_listener(self._on_terminated)
        await conn.add_listener(CHANNEL, self._on_notify)
        self._listener = conn

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._events.put_nowait(payload)

    def _on_terminated(self, _conn: Any) -> None:
        if not self._closed:
            self._events.put_nowait("!")

    # ----------------------------------------------------------------- the worker

    async def _run(self) -> None:
        failures = 0
        while not self._closed:
            # asyncio.timeout, not asyncio.wait_for: in Python 3.11, wait_for returns the
            # queue's item when it arrives in the same turn of the loop as a cancellation,
            # and the cancellation is lost (close() then waited for this loop for ever).
            try:
                async with asyncio.timeout(KEEPALIVE_S):
                    first = await self._events.get()
            except TimeoutError:
                first = "?"
            payloads = [first]
            while not self._events.empty():
                payloads.append(self._events.get_nowait())
            try:
                await self._handle(payloads)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep following changes whatever one batch did
                delay = RETRY_S[min(failures, len(RETRY_S) - 1)]
                failures += 1
                log.warning("station index update failed (%s); reloading in %ss", exc, delay)
                await asyncio.sleep(delay)
                self._events.put_nowait("!")

    async def _handle(self, payloads: list[str]) -> None:
        reconnect = "!" in payloads
        if "?" in payloads and not reconnect:
            reconnect = not await self._listener_alive()
        if reconnect:
            await self._reconnect()
            await self._reload()
            return
        if "*" in payloads:
            await self._reload()
            return
        ids: set[int] = set()
        for payload in payloads:
            if payload == "?":
                continue
            ids.update(int(part) for part in payload.split(",") if part.strip().isdigit())
        if ids:
            source = await self._caught_up()
            async with source.acquire() as conn:
                await self.refresh(conn, ids)
        if self.index.needs_compaction():
            await self._compact()

    async def _caught_up(self) -> asyncpg.Pool:
        """The pool to read what was committed until now: the replica once it replayed it.

        The primary's WAL position is noted now (after the notification arrived, so past
        the change's commit); the replica is read once it has replayed that far, the
        primary when it has not within ``read_lag_wait_s``.
        """
        if self._read is self._pool:
            return self._pool
        if self._listener is not None and not self._listener.is_closed():
            lsn = await replication.primary_lsn(self._listener)
        else:
            async with self._pool.acquire() as conn:
                lsn = await replication.primary_lsn(conn)
        timeout = self._db.read_lag_wait_s
        if await replication.wait_for_replay(self._read, lsn, timeout_s=timeout):
            return self._read
        self.read_from_primary += 1
        log.warning(
            "the read replica has not replayed %s within %gs; reading the change from the primary",
            lsn,
            timeout,
        )
        self._replay_target = lsn  # a later position covers every earlier one
        if self._replay_follower is None or self._replay_follower.done():
            self._replay_follower = asyncio.create_task(
                self._changed_once_replayed(), name="station-index-replay"
            )
        return self._pool

    async def _changed_once_replayed(self) -> None:
        """Call the change hooks again once the replica has the changes read from the primary.

        Tiles built from the replica while it lagged were kept under the catalog's new
        generation; they are built again once it caught up, not only when they expire.
        """
        while (target := self._replay_target) is not None and not self._closed:
            try:
                replayed = await replication.wait_for_replay(
                    self._read, target, timeout_s=REPLAY_FOLLOW_S
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the replica is away: try again
                log.warning("waiting for the read replica to replay failed (%s)", exc)
                await asyncio.sleep(1.0)
                continue
            if not replayed:
                continue
            if self._replay_target == target:
                self._replay_target = None
            self._changed()

    async def _listener_alive(self) -> bool:
        if self._listener is None or self._listener.is_closed():
            return False
        try:
            async with asyncio.timeout(10):
                await self._listener.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, TimeoutError, asyncpg.InterfaceError):
            return False
        return True

    async def _reconnect(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._listener.terminate()
            self._listener = None
        await self._listen()

    async def _follow_live(self) -> None:
        """Ratings and water stock change without touching stations: poll them."""
        while not self._closed:
            await asyncio.sleep(LIVE_POLL_S)
            try:
                # The connection before the lock, as every holder of the lock does: a
                # request that holds one of the pool's connections may be waiting for
                # the lock, and the lock's holder must never wait for a connection.
                async with self._read.acquire() as conn, self._lock:
                    await self.live.poll(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next poll tries again
                log.warning("live station data not refreshed (%s)", exc)

    async def refresh_live(self, conn: asyncpg.Connection, station_ids: Iterable[int]) -> None:
        """Re-read ratings and water of some stations now (after this process wrote them)."""
        async with self._lock:
            await self.live.refresh(conn, station_ids)

    # ----------------------------------------------------------------- changes

    async def refresh(self, conn: asyncpg.Connection, station_ids: Iterable[int]) -> None:
        """Re-read these stations and apply them to the index (call after a write commits)."""
        ids = set(station_ids)
        if not ids:
            return
        async with self._lock:
            rows = await read_rows(conn, ids, self.states)
            for station_id, row in rows.items():
                self.index.apply(station_id, row)
            if self._reloading:
                self._changed_during_reload.update(ids)
            await self.live.refresh(conn, sorted(ids))
        self._changed()

    async def _reload(self) -> None:
        """Rebuild the whole index from PostGIS (start, ``*``, reconnect)."""
        self._reloading = True
        self._changed_during_reload = set()
        try:
            started = time.perf_counter()
            source = await self._caught_up()
            columns = (await load_columns(source, self.states)).sorted_by_id()
            tree = await asyncio.to_thread(build_tree, columns.xyz) if len(columns) else None
            fresh = StationIndex(columns, tree, states=self.states, live=self.live)
            async with contextlib.AsyncExitStack() as stack:
                conn = await stack.enter_async_context(source.acquire())
                # What this process wrote meanwhile is read back from the primary: the
                # replica may not have replayed it yet.
                primary = (
                    conn
                    if source is self._pool
                    else await stack.enter_async_context(self._pool.acquire())
                )
                async with self._lock:
                    await self.live.load(conn)
                    if self._changed_during_reload:
                        rows = await read_rows(primary, self._changed_during_reload, self.states)
                        for station_id, row in rows.items():
                            fresh.apply(station_id, row)
                    self.index = fresh
                    self._reloading = False
            self._changed()
            _settle_heap()
            self.loaded = True
            self.reloads += 1
            log.info(
                "station index loaded: %d stations in %.1fs",
                len(columns),
                time.perf_counter() - started,
            )
        finally:
            self._reloading = False

    def _changed(self) -> None:
        for hook in self.on_change:
            hook()

    async def _compact(self) -> None:
        """Fold the delta and tombstones into a new base, built off the event loop."""
        async with self._lock:
            current = self.index
            snapshot = current.start_log()
        try:
            tree = await asyncio.to_thread(build_tree, snapshot.xyz) if len(snapshot) else None
        except BaseException:
            current.take_log()
            raise
        fresh = StationIndex(snapshot, tree, states=self.states, live=self.live)
        async with self._lock:
            fresh.replay(current.take_log())
            self.index = fresh
        _settle_heap()
        self.compactions += 1
