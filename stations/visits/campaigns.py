"""Water campaigns (送清凉): dates, daily hours, quota, geofence, stations, prize pools.

Dates and hours are local to each station (a campaign over several time zones opens
at 10:00 in each). When campaigns overlap at a station, claims go to the one with the
lowest id. Prize pools are fixed at creation: a total and a win probability per claim;
the database never lets more be awarded than the total.

A campaign belongs to the union branch that creates it (``branch``; None: the national
root) and takes part only with stations of that branch. Its ``daily_allocation`` is the
default stock of each of its stations on each local day nobody sets
(:mod:`stations.visits.stock`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from stations.db.integrity import translating
from stations.errors import InvalidInput, NotFound
from stations.people import branches
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


async def get_campaign(
    conn: asyncpg.Connection, *, campaign_id: int, branch: str | None = None
) -> dict[str, Any]:
    """One campaign; Forbidden when another branch than ``branch`` (or one under it) runs it."""
    await branches.check_campaign(conn, branch=branch, campaign_id=campaign_id)
    row = await conn.fetchrow(SQL.campaign_view, campaign_id, None, None)
    return dict(row)


async def list_campaigns(
    conn: asyncpg.Connection,
    *,
    branch: str | None = None,
    station_ids: frozenset[int] | None = None,
) -> list[dict[str, Any]]:
    """The campaigns of ``branch`` and the branches under it (None: all), or those that
    any of ``station_ids`` take part in."""
    ids = sorted(station_ids) if station_ids is not None else None
    return [dict(r) for r in await conn.fetch(SQL.campaign_view, None, branch, ids)]


def _checked_allocation(value: int | None) -> int | None:
    if value is not None and not 0 <= value <= 1_000_000:
        raise InvalidInput(
            "daily_allocation: 0 to 1,000,000 bottles per station and day, or none",
            field="daily_allocation",
        )
    return value


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
    daily_allocation: int | None = None,
    branch: str | None = None,
    presence_required: bool = False,
) -> dict[str, Any]:
    """Create a campaign of union branch ``branch`` with its stations (all of that
    branch) and prize pools in one transaction.

    ``presence_required``: claims (and check-ins) at its stations need the station's
    rotating presence code (:mod:`stations.visits.presence`)."""
    start = validate_hour(daily_start, field="daily_start")
    end = validate_hour(daily_end, field="daily_end")
    checked = [_checked_prize(p) for p in prizes or []]
    allocation = _checked_allocation(daily_allocation)
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
                allocation,
                branch,
                presence_required,
            )
            ids = list(station_ids or [])
            await branches.check_stations(conn, branch=branch, station_ids=ids)
            if all_water_stations:
                ids += [r["id"] for r in await conn.fetch(SQL.all_water_station_ids, branch)]
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


_UNSET: Any = object()


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
    daily_allocation: int | None = _UNSET,
    branch: str | None = None,
    presence_required: bool | None = None,
) -> dict[str, Any]:
    """Change what is given; the rest stays. A quota lowered mid-day keeps earlier claims.

    ``daily_allocation`` None removes the campaign's default (left out: unchanged).
    ``branch``: the caller's union branch, which must run the campaign or be above it.
    """
    start = validate_hour(daily_start, field="daily_start") if daily_start else None
    end = validate_hour(daily_end, field="daily_end") if daily_end else None
    if status is not None and status not in ("active", "cancelled"):
        raise InvalidInput("status: 'active' or 'cancelled'", field="status")
    change_allocation = daily_allocation is not _UNSET
    allocation = _checked_allocation(daily_allocation) if change_allocation else None
    await branches.check_campaign(conn, branch=branch, campaign_id=campaign_id)
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
                change_allocation,
                allocation,
                presence_required,
            )
            if found is None:
                raise NotFound(
                    f"no campaign has id {campaign_id}",
                    code="campaign_not_found",
                    campaign_id=campaign_id,
                )
            return await get_campaign(conn, campaign_id=campaign_id)


async def set_stations(
    conn: asyncpg.Connection,
    *,
    campaign_id: int,
    add: list[int],
    remove: list[int],
    branch: str | None = None,
) -> list[int]:
    """Add and remove participating stations; returns the stations taking part now.

    ``branch`` (the caller's) must run the campaign and own every station added.
    """
    with translating():
        async with conn.transaction():
            await get_campaign(conn, campaign_id=campaign_id, branch=branch)
            await branches.check_stations(conn, branch=branch, station_ids=add)
            if remove:
                await conn.execute(SQL.remove_campaign_stations, campaign_id, remove)
            if add:
                await conn.execute(SQL.add_campaign_stations, campaign_id, sorted(set(add)))
            return [
                r["station_id"] for r in await conn.fetch(SQL.campaign_station_ids, campaign_id)
            ]


CHOICES_MAX = 5000
"""Most stations :func:`station_choices` lists (beyond: ``all_water_stations``)."""


async def station_choices(conn: asyncpg.Connection, *, branch: str | None) -> dict[str, Any]:
    """The stations a campaign of ``branch`` can take part with, grouped by district
    (code and name), and whether the list was cut at :data:`CHOICES_MAX`."""
    rows = await conn.fetch(SQL.campaign_station_choices, branch, CHOICES_MAX + 1)
    districts: dict[tuple[str | None, str | None], list[dict[str, Any]]] = {}
    for r in rows[:CHOICES_MAX]:
        districts.setdefault((r["district_code"], r["district"]), []).append(
            {
                "id": r["id"],
                "code": r["code"],
                "name": r["name"],
                "kind": r["kind"],
                "status": r["status"],
            }
        )
    return {
        "districts": [
            {"district_code": code, "district": name, "stations": stations}
            for (code, name), stations in districts.items()
        ],
        "truncated": len(rows) > CHOICES_MAX,
    }


async def station_ids(
    conn: asyncpg.Connection, *, campaign_id: int, branch: str | None = None
) -> list[int]:
    """The stations taking part in the campaign (``branch`` must reach it)."""
    await branches.check_campaign(conn, branch=branch, campaign_id=campaign_id)
    return [r["station_id"] for r in await conn.fetch(SQL.campaign_station_ids, campaign_id)]
