"""Union branches (省总 → 市总 → 区县总工会) and what each may see and change.

A branch is named by the district code prefix it owns (GB/T 2260): ``34`` the province
of Anhui, ``3406`` the city of Huaibei, ``340603`` its district Xiangshan. It owns the
stations whose ``district_code`` starts with its code, the campaigns it runs (and those
of the branches under it), the members of its districts, and the accounts it made. A
branch sees everything under it: a provincial administrator sees every city and district
of the province. The national root is ``None`` (the settings' administrator token and
accounts made without ``--branch``): it owns everything, also records with no district.

Every query an administrator or planner of a branch reaches filters with the database
function ``in_branch(code, branch)``; the checks below refuse, with ``outside_branch``
(403), what a caller names that is not under their branch.
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import shapely

from stations.catalog.districts import NATIONAL, check_district, covers, outside
from stations.errors import InvalidInput, NotFound, StationNotFound
from stations.geo.region import Region
from stations.sql import load

SQL = load("staff")

__all__ = ["NATIONAL", "check_district", "covers", "outside"]  # the district rule, used here

_CODE = re.compile(r"^(?:\d{2}){1,3}$")
LEVELS = {2: "province", 4: "city", 6: "district"}


def validate_code(code: str, *, field: str = "branch") -> str:
    value = code.strip()
    if not _CODE.fullmatch(value):
        raise InvalidInput(
            f"{field}: {code!r} is not a branch code; use the district code prefix it owns: "
            "2 digits for a province (34), 4 for a city (3406), 6 for a district (340603)",
            field=field,
        )
    return value


def level(code: str | None) -> str:
    return NATIONAL if code is None else LEVELS[len(code)]


async def add_branch(conn: asyncpg.Connection, *, code: str, name: str) -> dict[str, Any]:
    clean_name = " ".join(name.split())
    if not clean_name or len(clean_name) > 100:
        raise InvalidInput("name: give the branch's name (1-100 characters)", field="name")
    try:
        row = await conn.fetchrow(SQL.insert_branch, validate_code(code), clean_name)
    except asyncpg.UniqueViolationError as exc:
        raise InvalidInput(
            f"a branch with the code {code} or the name {clean_name!r} exists already"
        ) from exc
    return dict(row)


async def list_branches(conn: asyncpg.Connection, *, under: str | None) -> list[dict[str, Any]]:
    """The branches under ``under`` (all for the national root), by code."""
    rows = await conn.fetch(SQL.list_branches, under)
    return [{**dict(r), "level": level(r["code"])} for r in rows]


async def get_branch(conn: asyncpg.Connection, code: str) -> dict[str, Any]:
    row = await conn.fetchrow(SQL.branch_by_code, validate_code(code))
    if row is None:
        raise NotFound(
            f"no union branch has the code {code}; see `stations branches list`",
            code="branch_not_found",
            branch=code,
        )
    return {**dict(row), "level": level(row["code"])}


async def check_station(conn: asyncpg.Connection, *, branch: str | None, station_id: int) -> None:
    """Refuse a station that is not under ``branch`` (404 if there is none)."""
    if branch is None:
        return
    row = await conn.fetchrow(SQL.station_district, station_id)
    if row is None:
        raise StationNotFound(station_id)
    if not covers(branch, row["district_code"]):
        raise outside(
            branch, f"station {station_id} is not under your branch", station_id=station_id
        )


async def check_stations(
    conn: asyncpg.Connection, *, branch: str | None, station_ids: list[int]
) -> None:
    """Refuse if any of the stations is not under ``branch`` (naming them)."""
    if branch is None or not station_ids:
        return
    found = [r["id"] for r in await conn.fetch(SQL.stations_outside_branch, station_ids, branch)]
    if found:
        raise outside(
            branch,
            f"stations {', '.join(map(str, found[:10]))} are not under your branch",
            station_ids=found,
        )


async def check_campaign(conn: asyncpg.Connection, *, branch: str | None, campaign_id: int) -> None:
    """Refuse a campaign run by another branch than ``branch`` or one under it."""
    row = await conn.fetchrow(SQL.campaign_branch, campaign_id)
    if row is None:
        raise NotFound(
            f"no campaign has id {campaign_id}", code="campaign_not_found", campaign_id=campaign_id
        )
    if not covers(branch, row["branch"]):
        raise outside(
            branch,
            f"campaign {campaign_id} is run by another union branch",
            campaign_id=campaign_id,
        )


async def check_source(conn: asyncpg.Connection, *, branch: str | None, source: str) -> None:
    """Refuse a branch's import into a source that holds stations of another branch
    (re-importing it would change them)."""
    if branch is None:
        return
    count = await conn.fetchval(SQL.source_outside_branch, source, branch)
    if count:
        raise outside(
            branch,
            f"the source {source!r} holds {count} stations of other union branches; "
            "import under a source name of your own",
            stations_outside=count,
        )


async def check_region(conn: asyncpg.Connection, *, branch: str | None, region: Region) -> None:
    """Refuse a coverage region that holds stations of another branch.

    A district named by the coverage API is the district of its stations: all of them
    must be under the branch. Any other region (a box, a polygon, a city outline) must
    hold no open or paused station outside the branch.
    """
    if branch is None:
        return
    if region.kind == "district":
        row = await conn.fetchrow(SQL.district_outside_branch, region.name, branch)
        outside_count = row["outside"]
    else:
        wkb = shapely.to_wkb(region.geometry, include_srid=False)
        outside_count = await conn.fetchval(SQL.stations_outside_branch_in_region, wkb, branch)
    if outside_count:
        raise outside(
            branch,
            f"the region holds {outside_count} stations of other union branches; "
            "draw it inside your branch's districts",
            stations_outside=outside_count,
        )
