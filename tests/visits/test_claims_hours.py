"""A claim needs the station open by its own opening hours; a check-in does not."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.factories import (
    HUAIBEI_CENTRE,
    bearer,
    code_for,
    create_campaign,
    create_member_with_token,
    create_staff,
    create_station,
    set_stock,
    stock_left,
)

LAT, LNG = HUAIBEI_CENTRE
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def open_only_in_two_days() -> tuple[str, str]:
    """Hours closed now that open the day after tomorrow at 08:00 (Huaibei time)."""
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=2)
    hours = f"{day.year} {MONTHS[day.month - 1]} {day.day:02d} 08:00-20:00"
    return hours, f"{day.isoformat()}T08:00:00+08:00"


async def water_point(conn, settings, *, opening_hours: str | None):
    station = await create_station(conn, kind="water_point", opening_hours=opening_hours)
    await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 5)
    _, token = await create_member_with_token(conn, settings)
    return station, token


async def claim(client, settings, station, token, key: str | None = None):
    return await client.post(
        "/v1/claims",
        json={"code": code_for(station, settings), "lat": LAT, "lng": LNG},
        headers=bearer(token) | {"Idempotency-Key": key or str(uuid.uuid4())},
    )


async def test_claim_outside_opening_hours_is_refused_with_the_next_opening(client, conn, settings):
    hours, next_open = open_only_in_two_days()
    station, token = await water_point(conn, settings, opening_hours=hours)

    refused = await claim(client, settings, station, token, key="closed-now")
    again = await claim(client, settings, station, token, key="closed-now")

    assert refused.status_code == 409
    assert refused.json() == {
        "detail": f"station_not_open: this station's opening hours say it is closed now; "
        f"it opens at {next_open[:10]} {next_open[11:16]} (its local time): come back then",
        "code": "station_not_open",
        "next_open": next_open,
    }
    assert again.content == refused.content
    assert await stock_left(conn, station["id"]) == 5
    assert await conn.fetchval("SELECT count(*) FROM claims") == 0
    stored = await conn.fetchrow("SELECT outcome, response FROM claim_requests")
    assert stored["outcome"] == "station_not_open"
    assert stored["response"]["next_open"] == next_open


async def test_claim_at_a_station_that_never_opens_names_no_next_opening(client, conn, settings):
    station, token = await water_point(conn, settings, opening_hours="off")
    refused = await claim(client, settings, station, token)
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "station_not_open: this station's opening hours say it is closed now, "
        "and they name no day it opens again; ask its operator",
        "code": "station_not_open",
        "next_open": None,
    }


async def test_new_opening_hours_apply_to_the_very_next_claim(client, conn, settings):
    hours, _ = open_only_in_two_days()
    station, token = await water_point(conn, settings, opening_hours=hours)
    assert (await claim(client, settings, station, token)).status_code == 409
    admin = await create_staff(conn, role="admin")
    changed = await client.patch(
        f"/v1/stations/{station['id']}",
        json={"opening_hours": "24/7", "reason": "open all day for the heat wave"},
        headers=bearer(admin),
    )
    assert changed.status_code == 200, changed.text
    granted = await claim(client, settings, station, token)
    assert granted.status_code == 201, granted.text


async def test_stations_whose_hours_are_not_known_keep_handing_out_water(client, conn, settings):
    # Unknown hours never show a station as open in search, but they say nothing about
    # now: the campaign's own daily hours still decide.
    station, token = await water_point(conn, settings, opening_hours=None)
    granted = await claim(client, settings, station, token)
    assert granted.status_code == 201, granted.text


async def test_check_in_at_a_station_closed_by_its_hours_is_still_a_visit(client, conn, settings):
    # A rider who finds a station closed though it is listed open checks in to say so
    # (rating tag closed_when_listed_open): the visit counts whatever the hours say.
    station = await create_station(conn, opening_hours="off")
    _, token = await create_member_with_token(conn, settings)
    response = await client.post(
        "/v1/checkins",
        json={"code": code_for(station, settings), "lat": LAT, "lng": LNG},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    rated = await client.post(
        f"/v1/stations/{station['id']}/ratings",
        json={"stars": 1, "tags": ["closed_when_listed_open"]},
        headers=bearer(token),
    )
    assert rated.status_code == 201, rated.text
