"""Check-ins: a scan at any station, recorded as a coarse visit."""

from __future__ import annotations

import math

import pytest

from stations.geo import crs, h3cells
from tests.factories import (
    HUAIBEI_CENTRE,
    bearer,
    code_for,
    create_member_with_token,
    create_station,
)

LAT, LNG = HUAIBEI_CENTRE


@pytest.fixture
async def visit(conn, settings):
    station = await create_station(conn, name="相山公园爱心驿站")
    member_id, token = await create_member_with_token(conn, settings)
    return station, member_id, token, code_for(station, settings)


async def test_check_in_at_any_station_records_a_coarse_visit(client, conn, visit, settings):
    station, member_id, token, code = visit
    glat, glng = (float(v) for v in crs.wgs84_to_gcj02(LAT + 0.0005, LNG))
    response = await client.post(
        "/v1/checkins",
        json={"code": code, "lat": glat, "lng": glng, "crs": "gcj02"},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["station"] == {
        "id": station["id"],
        "code": station["code"],
        "name": "相山公园爱心驿站",
    }
    row = await conn.fetchrow("SELECT * FROM checkins")
    assert row["member_id"] == member_id
    assert row["h3_cell"] == h3cells.cell_from_latlng(LAT + 0.0005, LNG, 9)
    # No quota: a second check-in the same day is recorded too.
    again = await client.post(
        "/v1/checkins", json={"code": code, "lat": LAT, "lng": LNG}, headers=bearer(token)
    )
    assert again.status_code == 201
    assert await conn.fetchval("SELECT count(*) FROM checkins") == 2


async def test_check_in_refused_far_from_the_station(client, conn, visit):
    _, _, token, code = visit
    distance = await conn.fetchval(
        "SELECT ST_Distance(geom, ST_MakePoint($2, $1)::geography) FROM stations", LAT + 0.01, LNG
    )
    response = await client.post(
        "/v1/checkins", json={"code": code, "lat": LAT + 0.01, "lng": LNG}, headers=bearer(token)
    )
    coarse = math.ceil(distance / 100) * 100  # rounded up to the next 100 m
    assert response.status_code == 403
    assert response.json() == {
        "detail": f"outside_geofence: you are about {coarse} m from the station; check-ins are "
        "accepted within 300 m, so scan again at the station",
        "code": "outside_geofence",
        "distance_m": coarse,
        "radius_m": 300,
    }
    assert await conn.fetchval("SELECT count(*) FROM checkins") == 0


async def test_check_in_refused_for_suspended_member(client, conn, visit):
    _, member_id, token, code = visit
    await conn.execute("UPDATE members SET status = 'suspended' WHERE id = $1", member_id)
    response = await client.post(
        "/v1/checkins", json={"code": code, "lat": LAT, "lng": LNG}, headers=bearer(token)
    )
    assert response.status_code == 403
    assert response.json()["detail"].startswith("member_suspended: ")
    assert response.json()["code"] == "member_suspended"


async def test_check_in_with_forged_code_is_refused(client, visit):
    _, _, token, code = visit
    response = await client.post(
        "/v1/checkins",
        json={"code": code[:-3] + "zzz", "lat": LAT, "lng": LNG},
        headers=bearer(token),
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("invalid_code: the code's signature does not")
    assert response.json()["code"] == "invalid_code"


async def test_check_in_position_out_of_range_is_422(client, visit):
    _, _, token, code = visit
    response = await client.post(
        "/v1/checkins", json={"code": code, "lat": 95, "lng": LNG}, headers=bearer(token)
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": "lat: Input should be less than or equal to 90",
        "code": "invalid_parameter",
        "field": "lat",
    }
