"""Plain factory functions for tests: ``await create_station(conn, name=…, lat=…)``.

Stations and demand points are inserted the way the catalog stores them (WGS84 point,
H3 cells at 7/9/11), with defaults that describe an ordinary open love station in
Huaibei. Members, tokens, staff accounts, campaigns and stock go through the domain
functions where one exists, so tests exercise the same paths as the API and the CLI.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx

from stations.geo import h3cells
from stations.people import accounts, branches, members, passwords, tokens
from stations.settings import Settings
from stations.visits import campaigns, qr

_ids = itertools.count(1)

HUAIBEI_CENTRE = (33.9556, 116.7983)  # 淮北市相山区, near 相山公园

STATION_DEFAULTS: dict[str, Any] = {
    "name": "测试爱心驿站",
    "name_en": None,
    "kind": "love_station",
    "status": "active",
    "amenities": ["drinking_water", "seating", "phone_charging"],
    "access": "open_to_all",
    "opening_hours": "24/7",
    "time_zone": "Asia/Shanghai",
    "country_code": "CN",
    "address": None,
    "district": "相山区",
    "district_code": None,
    "operator": "淮北市总工会",
    "source": "test",
}

_INSERT_STATION = """
INSERT INTO stations (name, kind, status, amenities, access, opening_hours, time_zone,
                      country_code, address, district, operator, source, source_id,
                      original_position, geom, h3_r7, h3_r9, h3_r11, verified_at,
                      district_code, name_en)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
        ST_SetSRID(ST_MakePoint($16, $15), 4326)::geography, $17, $18, $19, $20, $21, $22)
RETURNING *
"""


async def create_station(
    conn: asyncpg.Connection,
    *,
    lat: float = HUAIBEI_CENTRE[0],
    lng: float = HUAIBEI_CENTRE[1],
    source_id: str | None = None,
    verified_at: Any = None,
    **overrides: Any,
) -> asyncpg.Record:
    unknown = set(overrides) - set(STATION_DEFAULTS)
    if unknown:
        raise TypeError(f"create_station: unknown fields {sorted(unknown)}")
    values = {**STATION_DEFAULTS, **overrides}
    cells = h3cells.catalog_cells_of(lat, lng)
    return await conn.fetchrow(
        _INSERT_STATION,
        values["name"],
        values["kind"],
        values["status"],
        values["amenities"],
        values["access"],
        values["opening_hours"],
        values["time_zone"],
        values["country_code"],
        values["address"],
        values["district"],
        values["operator"],
        values["source"],
        source_id or f"t{next(_ids)}",
        {"crs": "wgs84", "lat": lat, "lng": lng},
        lat,
        lng,
        cells[7],
        cells[9],
        cells[11],
        verified_at,
        values["district_code"],
        values["name_en"],
    )


async def create_demand_point(
    conn: asyncpg.Connection,
    *,
    lat: float,
    lng: float,
    weight: float = 1.0,
    activity: str = "order_pickup",
    source: str = "test",
) -> asyncpg.Record:
    return await conn.fetchrow(
        """
        INSERT INTO demand_points (source, source_id, activity, weight, geom, h3_r11)
        VALUES ($1, $2, $3, $4, ST_SetSRID(ST_MakePoint($6, $5), 4326)::geography, $7)
        RETURNING *
        """,
        source,
        f"d{next(_ids)}",
        activity,
        weight,
        lat,
        lng,
        h3cells.cell_from_latlng(lat, lng, 11),
    )


_numbers = itertools.count(1)


def phone_for(n: int) -> str:
    return f"139{n:08d}"


async def create_member(
    conn: asyncpg.Connection,
    settings: Settings,
    *,
    member_no: str | None = None,
    phone: str | None = None,
    status: str = "active",
    occupation: str = "food_delivery",
    employer: str | None = "美团",
) -> tuple[int, str, str]:
    """Insert a member; returns (member id, member number, phone)."""
    n = next(_numbers)
    number = member_no or f"HB{n:06d}"
    phone = phone or phone_for(n)
    member_id = await conn.fetchval(
        """
        INSERT INTO members (member_no, phone_hash, occupation, employer, status)
        VALUES ($1, $2, $3, $4, $5) RETURNING id
        """,
        number,
        members.phone_hash(phone, settings.security),
        occupation,
        employer,
        status,
    )
    return member_id, number, phone


async def member_token(conn: asyncpg.Connection, member_id: int, *, days: int = 1) -> str:
    return (await tokens.issue(conn, days=days, member_id=member_id)).token


async def create_member_with_token(
    conn: asyncpg.Connection, settings: Settings, **kwargs: Any
) -> tuple[int, str]:
    member_id, _, _ = await create_member(conn, settings, **kwargs)
    return member_id, await member_token(conn, member_id)


async def create_staff(
    conn: asyncpg.Connection,
    *,
    role: accounts.StaffRole = "operator",
    station_ids: list[int] | None = None,
    name: str | None = None,
    branch: str | None = None,
    password: str | None = None,
) -> str:
    """A staff account and its token (and its console password, when given)."""
    account, issued = await accounts.add_account(
        conn,
        role=role,
        name=name or f"{role}-{next(_numbers)}",
        station_ids=station_ids,
        branch=branch,
        token_days=30,
    )
    if password is not None:
        await passwords.set_password(conn, name=account["name"], password=password)
    return issued.token


async def create_branches(conn: asyncpg.Connection, *codes_and_names: tuple[str, str]) -> None:
    for code, name in codes_and_names:
        await branches.add_branch(conn, code=code, name=name)


async def staff_session(client: httpx.AsyncClient, name: str, password: str) -> dict[str, str]:
    """Sign in like the console; the client keeps the cookie. Returns the CSRF header."""
    response = await client.post("/v1/auth/staff", json={"name": name, "password": password})
    assert response.status_code == 201, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


async def create_campaign(
    conn: asyncpg.Connection, station_ids: list[int], **overrides: Any
) -> dict[str, Any]:
    today = date.today()
    values: dict[str, Any] = {
        "name": f"送清凉 {next(_numbers)}",
        "starts_on": today - timedelta(days=1),
        "ends_on": today + timedelta(days=1),
        "station_ids": station_ids,
    }
    values.update(overrides)
    return await campaigns.create_campaign(conn, **values)


async def set_stock(conn: asyncpg.Connection, station_id: int, allocated: int) -> None:
    await conn.execute(
        """
        INSERT INTO water_stock (station_id, local_day, allocated, remaining)
        SELECT id, (now() AT TIME ZONE time_zone)::date, $2, $2 FROM stations WHERE id = $1
        ON CONFLICT (station_id, local_day) DO UPDATE
            SET allocated = EXCLUDED.allocated, remaining = EXCLUDED.remaining
        """,
        station_id,
        allocated,
    )


async def stock_left(conn: asyncpg.Connection, station_id: int) -> int:
    """Bottles the station has left today (its only stock row in a test)."""
    return await conn.fetchval(
        "SELECT remaining FROM water_stock WHERE station_id = $1", station_id
    )


def code_for(station: asyncpg.Record | dict[str, Any], settings: Settings) -> str:
    """The text a phone reads from the station's poster."""
    return qr.poster_url(
        station["code"], security=settings.security, base_url=settings.api.public_base_url
    )


def admin_headers(settings: Settings) -> dict[str, str]:
    """The settings' administrator token as a bearer header (any role opens nearest:batch)."""
    return bearer(settings.security.admin_token.get_secret_value())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def claim_at(
    client: httpx.AsyncClient,
    station: asyncpg.Record | dict[str, Any],
    token: str,
    settings: Settings,
) -> httpx.Response:
    """A member scans the station's poster at the station and claims a bottle."""
    lat, lng = HUAIBEI_CENTRE
    return await client.post(
        "/v1/claims",
        json={"code": code_for(station, settings), "lat": lat, "lng": lng},
        headers=bearer(token) | {"Idempotency-Key": str(uuid.uuid4())},
    )


async def run_cli(settings: Settings, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """Run the ``stations`` command on the test session's database (``stdin`` typed in)."""
    import asyncio
    import os
    import sys
    from pathlib import Path

    env = {
        **os.environ,
        "STATIONS_DB_NAME": settings.db.name,
        "STATIONS_DB_DATA_DIR": str(settings.db.data_dir),
    }
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "stations"),
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def run_tool(*args: str) -> str:
    """Run a system tool (pdftoppm, zbarimg) and return its standard output."""
    import asyncio

    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, f"{args[0]} failed: {err.decode()}"
    return out.decode()


async def handover_proof(conn: asyncpg.Connection, claim_code: str) -> dict[str, str]:
    """The body a hand-over needs besides the code: the member's last four characters."""
    member_no = await conn.fetchval(
        "SELECT m.member_no FROM claims c JOIN members m ON m.id = c.member_id "
        "WHERE c.id = claim_id($1)",
        claim_code,
    )
    assert member_no is not None, claim_code
    return {"member_digits": member_no[-4:]}
