"""Water stock: bottles allocated and remaining per station per local day.

Operators set the day's allocation or top it up; claims take bottles one by one in
their own transaction (``claim_water_batch`` in the database). ``CHECK (remaining >= 0)``
and ``CHECK (remaining <= allocated)`` hold whatever interleaving happens. A new
allocation keeps what was already handed out: remaining = allocation - handed out,
and an allocation below what was handed out is refused.

A day nobody set has a **default allocation**: the station's own (:func:`set_default`)
or else the daily allocation of the campaign running there that day (database function
``water_default``). The day's first claim creates its row from it, inside the claim's
transaction, so water does not stop each morning; reading or topping up a day nobody
set starts from the default too. Setting the day's allocation always wins over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from stations.db.integrity import translating
from stations.errors import IdempotencyKeyReused, InvalidInput, StationNotFound
from stations.sql import load

SQL = load("visits")

MAX_DAYS_AHEAD = 31


@dataclass(frozen=True)
class WaterToday:
    """A station's water on its local day; allocated/remaining None when not set."""

    station_id: int
    local_day: date
    allocated: int | None
    remaining: int | None


async def _station_day(conn: asyncpg.Connection, station_id: int, day: date | None) -> date:
    row = await conn.fetchrow(SQL.station_for_stock, station_id)
    if row is None:
        raise StationNotFound(station_id)
    today: date = row["today"]
    if day is None:
        return today
    if not today <= day <= today + timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidInput(
            f"day: stock can be set for the station's today ({today.isoformat()}) "
            f"and up to {MAX_DAYS_AHEAD} days ahead",
            field="day",
        )
    return day


async def set_allocation(
    conn: asyncpg.Connection, *, station_id: int, allocated: int, day: date | None = None
) -> dict[str, Any]:
    """Set the day's allocation (today at the station by default)."""
    if allocated < 0:
        raise InvalidInput("allocated: must be 0 or more", field="allocated")
    with translating():
        async with conn.transaction():
            local_day = await _station_day(conn, station_id, day)
            await conn.execute(SQL.set_stock, station_id, local_day, allocated)
    return await get_stock(conn, station_id=station_id, day=local_day)


async def top_up(
    conn: asyncpg.Connection,
    *,
    station_id: int,
    count: int,
    day: date | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Add bottles to the day's allocation and to what remains.

    With ``idempotency_key``, the same top-up sent again (a retry after a lost answer)
    adds nothing and answers the day's stock with ``replayed``; the same key with another
    count or day is refused (``idempotency_key_reused``).
    """
    if count <= 0:
        raise InvalidInput("count: add at least one bottle", field="count")
    replayed = False
    with translating():
        async with conn.transaction():
            local_day = await _station_day(conn, station_id, day)
            if idempotency_key is not None:
                await conn.execute(SQL.forget_old_top_ups, station_id)
                fresh = await conn.fetchval(
                    SQL.remember_top_up, station_id, idempotency_key, local_day, count
                )
                if fresh is None:
                    first = await conn.fetchrow(SQL.top_up_by_key, station_id, idempotency_key)
                    if (first["local_day"], first["count"]) != (local_day, count):
                        raise IdempotencyKeyReused(
                            "Idempotency-Key: this key was sent with another top-up "
                            f"({first['count']} bottles for {first['local_day']}); use a new "
                            "key for a new top-up"
                        )
                    replayed = True
            if not replayed:
                await conn.execute(SQL.top_up_stock, station_id, local_day, count)
    return {**await get_stock(conn, station_id=station_id, day=local_day), "replayed": replayed}


async def get_stock(
    conn: asyncpg.Connection, *, station_id: int, day: date | None = None
) -> dict[str, Any]:
    """The day's stock with where its default comes from.

    ``from_default`` is true while nobody set the day: its numbers are the default
    allocation that the day's first claim will start from (0 when there is none).
    """
    local_day = await _station_day(conn, station_id, day)
    row = await conn.fetchrow(SQL.get_stock, station_id, local_day)
    defaults = dict(await conn.fetchrow(SQL.stock_defaults, station_id, local_day))
    if row is None:
        start = defaults["default_allocation"] or 0
        stock = {
            "station_id": station_id,
            "local_day": local_day,
            "allocated": start,
            "remaining": start,
            "handed_out": 0,
            "updated_at": None,
        }
    else:
        stock = dict(row)
    return {**stock, **defaults, "from_default": row is None}


async def set_default(
    conn: asyncpg.Connection, *, station_id: int, daily_allocation: int | None, actor: str
) -> dict[str, Any]:
    """The station's own default daily allocation (None: follow its campaign's again).

    Days already started (by a claim or an operator) keep their allocation; the default
    fills the days nobody set from now on, today included if nobody set it yet.
    """
    if daily_allocation is not None and not 0 <= daily_allocation <= 1_000_000:
        raise InvalidInput(
            "daily_allocation: 0 to 1,000,000 bottles, or null to follow the campaign's",
            field="daily_allocation",
        )
    with translating():
        async with conn.transaction():
            await _station_day(conn, station_id, None)
            if daily_allocation is None:
                await conn.execute(SQL.clear_water_default, station_id)
            else:
                await conn.execute(SQL.set_water_default, station_id, daily_allocation, actor)
    return await get_stock(conn, station_id=station_id)


async def water_today(
    conn: asyncpg.Connection, station_ids: list[int], *, at: datetime
) -> dict[int, WaterToday]:
    """Each station's stock on its own local date at ``at`` (for search answers)."""
    rows = await conn.fetch(SQL.water_today, station_ids, at)
    return {
        r["station_id"]: WaterToday(r["station_id"], r["local_day"], r["allocated"], r["remaining"])
        for r in rows
    }
