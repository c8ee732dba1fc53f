"""Water stock per station and local day: set, top up, never negative, what search reads."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from stations.visits import stock
from tests.factories import (
    HUAIBEI_CENTRE,
    bearer,
    code_for,
    create_campaign,
    create_member_with_token,
    create_staff,
    create_station,
)


@pytest.fixture
async def operated(conn):
    station = await create_station(conn, kind="water_point")
    return station, bearer(await create_staff(conn, station_ids=[station["id"]]))


async def test_operator_sets_and_tops_up_todays_stock(client, conn, operated):
    station, headers = operated
    sid = station["id"]
    today = await conn.fetchval("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date")
    empty = await client.get(f"/v1/stations/{sid}/stock", headers=headers)
    assert (empty.json()["allocated"], empty.json()["local_day"]) == (0, today.isoformat())
    set_ = await client.put(f"/v1/stations/{sid}/stock", json={"allocated": 20}, headers=headers)
    assert (set_.json()["allocated"], set_.json()["remaining"]) == (20, 20)
    topped = await client.post(
        f"/v1/stations/{sid}/stock/top-up", json={"count": 5}, headers=headers
    )
    assert (topped.json()["allocated"], topped.json()["remaining"]) == (25, 25)


async def test_a_top_up_sent_again_with_its_key_adds_nothing(client, conn, operated, pool):
    station, headers = operated
    sid = station["id"]
    await client.put(f"/v1/stations/{sid}/stock", json={"allocated": 10}, headers=headers)
    url = f"/v1/stations/{sid}/stock/top-up"
    key = {"Idempotency-Key": str(uuid.uuid4()), **headers}
    first = await client.post(url, json={"count": 5}, headers=key)
    again = await client.post(url, json={"count": 5}, headers=key)
    assert (first.json()["allocated"], first.json()["replayed"]) == (15, False)
    assert (again.json()["allocated"], again.json()["replayed"]) == (15, True)
    # the same key for another top-up is refused, and adds nothing
    other = await client.post(url, json={"count": 7}, headers=key)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    # twins sent at once (a retry racing its original): the bottles are added once
    twin = str(uuid.uuid4())

    async def send() -> dict:
        async with pool.acquire() as own:
            return await stock.top_up(own, station_id=sid, count=3, idempotency_key=twin)

    answers = await asyncio.gather(*(send() for _ in range(4)))
    assert sorted(a["replayed"] for a in answers) == [False, True, True, True]
    assert await conn.fetchval("SELECT allocated FROM water_stock WHERE station_id = $1", sid) == 18
    # without a key, each top-up adds (as before)
    await client.post(url, json={"count": 1}, headers=headers)
    await client.post(url, json={"count": 1}, headers=headers)
    assert await conn.fetchval("SELECT allocated FROM water_stock WHERE station_id = $1", sid) == 20


async def test_new_allocation_keeps_what_was_handed_out(client, conn, operated, settings):
    station, headers = operated
    sid = station["id"]
    await create_campaign(conn, [sid])
    await client.put(f"/v1/stations/{sid}/stock", json={"allocated": 10}, headers=headers)
    for _ in range(3):
        _, token = await create_member_with_token(conn, settings)
        granted = await client.post(
            "/v1/claims",
            json={
                "code": code_for(station, settings),
                "lat": HUAIBEI_CENTRE[0],
                "lng": HUAIBEI_CENTRE[1],
            },
            headers=bearer(token) | {"Idempotency-Key": str(uuid.uuid4())},
        )
        assert granted.status_code == 201
    lowered = await client.put(f"/v1/stations/{sid}/stock", json={"allocated": 5}, headers=headers)
    assert (lowered.json()["remaining"], lowered.json()["handed_out"]) == (2, 3)
    too_low = await client.put(f"/v1/stations/{sid}/stock", json={"allocated": 2}, headers=headers)
    assert too_low.status_code == 409
    assert too_low.json() == {
        "detail": "more bottles were handed out today than this allocation; "
        "set an allocation at least as large as what was already handed out",
        "code": "conflict",
    }


async def test_stock_for_a_past_day_is_refused(client, conn, operated):
    station, headers = operated
    today = await conn.fetchval("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date")
    response = await client.put(
        f"/v1/stations/{station['id']}/stock",
        json={"allocated": 5, "day": (today - timedelta(days=1)).isoformat()},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": f"day: stock can be set for the station's today ({today.isoformat()}) "
        "and up to 31 days ahead",
        "code": "invalid_parameter",
        "field": "day",
    }


async def test_stock_of_unknown_station_is_404_for_admin(client, settings):
    admin = bearer(settings.security.admin_token.get_secret_value())
    response = await client.get("/v1/stations/987654/stock", headers=admin)
    assert response.status_code == 404
    assert response.json() == {
        "detail": "there is no station 987654; check the id (search or list stations to find it)",
        "code": "station_not_found",
        "station_id": 987654,
    }


async def test_database_refuses_negative_or_excess_remaining(conn):
    station = await create_station(conn)
    await stock.set_allocation(conn, station_id=station["id"], allocated=1)
    with pytest.raises(asyncpg.CheckViolationError, match="water_stock_remaining_not_negative"):
        await conn.execute("UPDATE water_stock SET remaining = -1")
    with pytest.raises(asyncpg.CheckViolationError, match="water_stock_remaining_within_alloc"):
        await conn.execute("UPDATE water_stock SET remaining = 2")


async def test_water_today_uses_each_stations_local_day(conn):
    shanghai = await create_station(conn)
    montreal = await create_station(conn, time_zone="America/Montreal", lat=45.5, lng=-73.6)
    unset = await create_station(conn)
    # 02:00 UTC: already the 2nd in Shanghai, still the 1st in Montreal.
    moment = datetime(2025, 7, 2, 2, 0, tzinfo=UTC)
    await conn.execute(
        """
        INSERT INTO water_stock (station_id, local_day, allocated, remaining)
        VALUES ($1, '2025-07-02', 50, 40), ($2, '2025-07-01', 30, 30), ($2, '2025-07-02', 9, 9)
        """,
        shanghai["id"],
        montreal["id"],
    )
    found = await stock.water_today(conn, [shanghai["id"], montreal["id"], unset["id"]], at=moment)
    assert found[shanghai["id"]] == stock.WaterToday(shanghai["id"], moment.date(), 50, 40)
    assert (found[montreal["id"]].local_day.isoformat(), found[montreal["id"]].remaining) == (
        "2025-07-01",
        30,
    )
    assert (found[unset["id"]].allocated, found[unset["id"]].remaining) == (None, None)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/stations/99999999999999999999/stock", None),
        ("PUT", "/v1/stations/99999999999999999999/stock", {"allocated": 1}),
        ("GET", "/v1/stations/99999999999999999999/qr.png", None),
        ("GET", "/v1/campaigns/99999999999999999999", None),
        ("POST", "/v1/campaigns/1/stations", {"add": [99999999999999999999]}),
        ("GET", "/v1/claims?station_id=99999999999999999999", None),
        ("GET", "/v1/stations/0/stock", None),
    ],
)
async def test_ids_beyond_the_database_range_are_422_not_500(client, settings, method, path, body):
    admin = bearer(settings.security.admin_token.get_secret_value())
    response = await client.request(method, path, json=body, headers=admin)
    assert response.status_code == 422
    assert "Input should be" in response.json()["detail"]
