"""Per-station live data shown with every search result: rating summary and today's water.

Read through the visit domain (:func:`stations.visits.ratings.rating_summaries`,
:func:`stations.visits.stock.water_today`) and rendered once per change:

* ``score[station_id]`` – the Bayesian-adjusted rating that ``min_rating`` compares with
  (a single 5-star rating does not outrank a station rated 4.6 by forty members);
* ``rating_json[station_id]`` – ``{"ratings", "mean_stars", "score", "top_tags",
  "freshness"}``;
* ``water_json[station_id]`` – the stock of the station's own local day,
  ``{"local_day", "allocated", "remaining"}``; ``null`` when no stock is set that day;
* ``water_left[station_id]`` – the bottles that remain of it, which ``water_now`` keeps
  above zero ("has water now": today's stock remaining > 0, in the station's local day).

How it stays current (``IndexService`` drives it): a full load with the index; every
:data:`POLL_S` seconds the stations whose summaries, reports, reviews or stock rows
changed since the last poll (the database's clock, not ours); all water again every
:data:`WATER_RELOAD_S` so a station's local midnight shows within a minute; all ratings
every :data:`RATING_RELOAD_S` because freshness fades with time. This process's own
rating writes refresh their station at once. Claims do not notify anyone: a trigger in
the hottest transaction would cost every bottle, and water counts a few seconds old
are fine to look at (the claim itself checks the real stock).

``min_rating`` semantics (documented in the API): a station without ratings has no
rating at or above any threshold, so ``min_rating`` excludes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
import orjson

from stations.catalog.fields import expand_sql
from stations.sql import load
from stations.visits import ratings, stock

SQL = load("search", expand=expand_sql)
_NULL = b"null"
POLL_S = 2.0
# updated_at is a transaction's start time: a write that began before a poll read the
# clock can commit after it. Each poll re-reads this much of the past; longer
# transactions are caught by the full reloads. (On a read replica the clock is the
# commit time of the last transaction it replayed, so its lag needs no more overlap.)
OVERLAP = timedelta(seconds=10)
WATER_RELOAD_S = 60.0
RATING_RELOAD_S = 600.0
_CHUNK = 10_000


class LiveData:
    """Ratings and water stock by station id, rendered once per change."""

    def __init__(self) -> None:
        self.score: dict[int, float] = {}
        self.rating_json: dict[int, bytes] = {}
        self.water_json: dict[int, bytes] = {}
        self.water_left: dict[int, int] = {}
        self._since: datetime | None = None
        self._water_loaded = 0.0
        self._ratings_loaded = 0.0

    async def load(self, conn: asyncpg.Connection) -> None:
        """Read every rated station's summary and every station's stock for today."""
        await self._update(conn, all_ratings=True, all_water=True)

    async def refresh(self, conn: asyncpg.Connection, station_ids: Iterable[int]) -> None:
        """Re-read the live data of some stations (after a write to them)."""
        ids = sorted(set(station_ids))
        if ids:
            await self._read_ratings(conn, ids, full=False)
            await self._read_water(conn, ids, full=False)

    async def poll(self, conn: asyncpg.Connection) -> None:
        """Pick up what changed since the last poll, and the periodic full reloads."""
        now = time.monotonic()
        await self._update(
            conn,
            all_ratings=self._since is None or now - self._ratings_loaded >= RATING_RELOAD_S,
            all_water=self._since is None or now - self._water_loaded >= WATER_RELOAD_S,
        )

    async def _update(
        self, conn: asyncpg.Connection, *, all_ratings: bool, all_water: bool
    ) -> None:
        """Read all stations' ratings or water, or those changed since the last read."""
        clock = await conn.fetchval(SQL.live_clock)
        now = time.monotonic()
        rated = await _ids(conn, SQL.live_rated_stations, None if all_ratings else self._since)
        await self._read_ratings(conn, rated, full=all_ratings)
        stocked = await _ids(conn, SQL.live_stocked_stations, None if all_water else self._since)
        await self._read_water(conn, stocked, full=all_water)
        if all_ratings:
            self._ratings_loaded = now
        if all_water:
            self._water_loaded = now
        self._since = clock - OVERLAP

    async def _read_ratings(self, conn: asyncpg.Connection, ids: list[int], *, full: bool) -> None:
        score: dict[int, float] = {} if full else self.score
        rendered: dict[int, bytes] = {} if full else self.rating_json
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            summaries = await ratings.rating_summaries(conn, chunk)
            for station_id in chunk:
                summary = summaries.get(station_id)
                if summary is None or summary.ratings == 0:
                    score.pop(station_id, None)
                    rendered.pop(station_id, None)
                    continue
                score[station_id] = summary.score
                rendered[station_id] = orjson.dumps(rating_shown(summary))
        self.score, self.rating_json = score, rendered

    async def _read_water(self, conn: asyncpg.Connection, ids: list[int], *, full: bool) -> None:
        rendered: dict[int, bytes] = {} if full else self.water_json
        left: dict[int, int] = {} if full else self.water_left
        at = datetime.now(UTC)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            today = await stock.water_today(conn, chunk, at=at)
            for station_id in chunk:
                water = today.get(station_id)
                if water is None or water.allocated is None:
                    rendered.pop(station_id, None)
                    left.pop(station_id, None)
                    continue
                left[station_id] = water.remaining or 0
                rendered[station_id] = orjson.dumps(water_shown(water))
        self.water_json, self.water_left = rendered, left

    def rating_fragment(self, station_id: int) -> bytes:
        return self.rating_json.get(station_id, _NULL)

    def water_fragment(self, station_id: int) -> bytes:
        return self.water_json.get(station_id, _NULL)

    def stars_of(self, station_ids: np.ndarray) -> np.ndarray:
        """The rating ``min_rating`` compares with, per id (NaN when there is none)."""
        if not self.score:
            return np.full(len(station_ids), np.nan)
        get = self.score.get
        return np.fromiter(
            (get(i, np.nan) for i in station_ids.tolist()), dtype=float, count=len(station_ids)
        )

    def has_water(self, station_ids: np.ndarray) -> np.ndarray:
        """Whether each station has bottles left in its local day (``water_now``)."""
        if not self.water_left:
            return np.zeros(len(station_ids), dtype=bool)
        get = self.water_left.get
        return np.fromiter(
            (get(i, 0) > 0 for i in station_ids.tolist()), dtype=bool, count=len(station_ids)
        )

    def ids_with_water(self) -> list[int]:
        """Every station with bottles left in its local day, in id order."""
        return sorted(i for i, n in self.water_left.items() if n > 0)

    def count_at_least(self, min_rating: float) -> int:
        """How many stations rate ≥ ``min_rating`` (for planning the search)."""
        return sum(1 for value in self.score.values() if value >= min_rating)


def rating_shown(summary: ratings.RatingSummary) -> dict[str, Any] | None:
    """A station's ratings as answers show them (``None`` while it has none)."""
    if summary.ratings == 0:
        return None
    return {
        "ratings": summary.ratings,
        "mean_stars": _round(summary.mean_stars),
        "score": _round(summary.score),
        "top_tags": summary.top_tags,
        "freshness": _round(summary.freshness),
    }


def water_shown(water: stock.WaterToday) -> dict[str, Any] | None:
    """A station's water today as answers show it (``None`` while no stock is set)."""
    if water.allocated is None:
        return None
    return {
        "local_day": water.local_day.isoformat(),
        "allocated": water.allocated,
        "remaining": water.remaining,
    }


async def _ids(conn: asyncpg.Connection, query: str, since: datetime | None) -> list[int]:
    return [r["station_id"] for r in await conn.fetch(query, since)]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
