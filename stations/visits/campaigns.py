"""Water campaigns (送清凉): dates, daily hours, quota, geofence, stations, prize pools.

Dates and hours are local to each station (a campaign over several time zones opens
at 10:00 in each). When campaigns overlap at a station, claims go to the one with the
lowest id. Prize pools are fixed at creation: a total and a win probability per claim;
the database never lets more be awarded than the total.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from stations.db.integrity import translating
from stations.errors import InvalidInput, NotFound
from stations.sql import load

SQL = load("visits")

DEFAULT_QUOTA = 1
DEFAULT_GEOFENCE_M = 300
_HOUR = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")


@dataclass(frozen=True)
class PrizeSpec:
    name: str
    total: int
    probability: float


def validate_hour(text: str, *, field: str) -> str:
    value = text.strip()
    if len(value) == 4 and value[1] == ":":
        value = "0" + value
    if not _HOUR.fullmatch(value):
        raise InvalidInput(f"{field}: write local time as HH:MM (00:00 to 24:00)", field=field)
    return value


def parse_prize(text: str) -> PrizeSpec:
    """``name:total:probability`` as the CLI takes it, e.g. ``夏日礼包:500:0.05``."""
    parts = text.rsplit(":", 2)
    try:
        name, total, probability = parts[0].strip(), int(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        raise InvalidInput(
            f"prize {text!r}: write it as name:total:probability, e.g. 夏日礼包:500:0.05"
        ) from None
    return _checked_prize(PrizeSpec(name, total, probability))


def _checked_prize(prize: PrizeSpec) -> PrizeSpec:
    if not prize.name or len(prize.name) > 100:
        raise InvalidInput("prizes: each needs a name of 1-100 characters", field="prizes")
    if prize.total <= 0:
        raise InvalidInput(f"prizes: {prize.name}: total must be at least 1", field="prizes")
    if not 0 < prize.probability <= 1:
        raise InvalidInput(
            f"prizes: {prize.name}: probability must be above 0 and at most 1", field="prizes"
        )
    return prize


async def get_campaign(conn: asyncpg.Connection, *, campaign_id: int) -> dict[str, Any]:
    row = await conn.fetchrow(SQL.campaign_view, campaign_id)
    if row is None:
        raise NotFound(
            f"no campaign has id {campaign_id}", code="campaign_not_found", campaign_id=campaign_id
        )
    return dict(row)


async def list_campaigns(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(SQL.campaign_view, None)]


async def create_campaign(
    conn: asyncpg.Connection,
    *,
    name: str,
    starts_on: date,
    ends_on: date,
    daily_start: str = "00:00",
    daily_end: str = "24:00",
    daily_quota: int = DEFAULT_QUOTA,
    geofence_m: int = DEFAULT_GEOFENCE_M,
    station_ids: list[int] | None = None,
    all_water_stations: bool = False,
    prizes: list[PrizeSpec] | None = None,
) -> dict[str, Any]:
    """Create a campaign with its stations and prize pools in one transaction."""
    start = validate_hour(daily_start, field="daily_start")
    end = validate_hour(daily_end, field="daily_end")
    checked = [_checked_prize(p) for p in prizes or []]
    with translating():
        async with conn.transaction():
            campaign_id = await conn.fetchval(
                SQL.insert_campaign,
                name.strip(),
                starts_on,
                ends_on,
                start,
                end,
                daily_quota,
                geofence_m,
            )
            ids = list(station_ids or [])
            if all_water_stations:
                ids += [r["id"] for r in await conn.fetch(SQL.all_water_station_ids)]
            if ids:
                await conn.execute(SQL.add_campaign_stations, campaign_id, sorted(set(ids)))
            if checked:
                await conn.execute(
                    SQL.insert_prize_pools,
                    campaign_id,
                    [p.name for p in checked],
                    [p.total for p in checked],
                    [p.probability for p in checked],
                )
            return await get_campaign(conn, campaign_id=campaign_id)


async def update_campaign(
    conn: asyncpg.Connection,
    *,
    campaign_id: int,
    name: str | None = None,
    starts_on: date | None = None,
    ends_on: date | None = None,
    daily_start: str | None = None,
    daily_end: str | None = None,
    daily_quota: int | None = None,
    geofence_m: int | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """Change what is given; the rest stays. A quota lowered mid-day keeps earlier claims."""
    start = validate_hour(daily_start, field="daily_start") if daily_start else None
    end = validate_hour(daily_end, field="daily_end") if daily_end else None
    if status is not None and status not in ("active", "cancelled"):
        raise InvalidInput("status: 'active' or 'cancelled'", field="status")
    with translating():
        async with conn.transaction():
            found = await conn.fetchval(
                SQL.update_campaign,
                campaign_id,
                name.strip() if name else None,
                starts_on,
                ends_on,
                start,
                end,
                daily_quota,
                geofence_m,
                status,
            )
            if found is None:
                raise NotFound(
                    f"no campaign has id {campaign_id}",
                    code="campaign_not_found",
                    campaign_id=campaign_id,
                )
            return await get_campaign(conn, campaign_id=campaign_id)


async def set_stations(
    conn: asyncpg.Connection, *, campaign_id: int, add: list[int], remove: list[int]
) -> list[int]:
    """Add and remove participating stations; returns the stations taking part now."""
    with translating():
        async with conn.transaction():
            await get_campaign(conn, campaign_id=campaign_id)
            if remove:
                await conn.execute(SQL.remove_campaign_stations, campaign_id, remove)
            if add:
                await conn.execute(SQL.add_campaign_stations, campaign_id, sorted(set(add)))
            return [
                r["station_id"] for r in await conn.fetch(SQL.campaign_station_ids, campaign_id)
            ]
