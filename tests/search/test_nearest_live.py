"""Ratings and today's water in search answers: immediate for this process's writes,
within seconds for everyone else's, and min_rating on the Bayesian score."""

from __future__ import annotations

import pytest

from stations.db import connection as dbconn
from stations.visits import ratings as ratings_domain
from tests.factories import (
    HUAIBEI_CENTRE,
    admin_headers,
    bearer,
    claim_at,
    code_for,
    create_campaign,
    create_member_with_token,
    create_station,
    set_stock,
)
from tests.fixtures.search.app import eventually, running_app

LAT, LNG = HUAIBEI_CENTRE


async def _nearest(client, **params) -> list[dict]:
    response = await client.get(
        "/v1/stations/nearest", params={"lat": LAT, "lng": LNG, "k": 10, **params}
    )
    assert response.status_code == 200, response.text
    return response.json()["results"]


def _by_id(stations: list[dict]) -> dict[int, dict]:
    return {s["id"]: s for s in stations}


async def _check_in(client, conn, settings, station) -> tuple[int, str]:
    member_id, token = await create_member_with_token(conn, settings)
    response = await client.post(
        "/v1/checkins",
        json={"code": code_for(station, settings), "lat": LAT, "lng": LNG},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    return member_id, token


async def test_own_rating_shows_in_nearest_before_the_answer(conn, settings):
    station = await create_station(conn, name="淮海路爱心驿站")
    async with running_app(settings) as (_, client):
        assert _by_id(await _nearest(client))[station["id"]]["rating"] is None
        _, token = await _check_in(client, conn, settings, station)
        rated = await client.post(
            f"/v1/stations/{station['id']}/ratings",
            json={"stars": 5, "tags": ["clean"]},
            headers=bearer(token),
        )
        assert rated.status_code == 201, rated.text
        rating = _by_id(await _nearest(client))[station["id"]]["rating"]
    # One 5-star rating pulled towards the prior (3.5 weighted as 5 ratings): 22.5/6.
    assert rating == {
        "ratings": 1,
        "mean_stars": 5.0,
        "score": 3.75,
        "top_tags": ["clean"],
        "freshness": 1.0,
    }


async def test_min_rating_compares_the_bayesian_score_not_the_mean(conn, settings):
    lone = await create_station(conn, name="一条五星", lat=LAT + 0.001)
    steady = await create_station(conn, name="四星常客", lat=LAT + 0.002)
    async with running_app(settings) as (_, client):
        member, _ = await _check_in(client, conn, settings, lone)
        await ratings_domain.rate(
            conn, member_id=member, station_id=lone["id"], stars=5, tags=[], comment=None
        )
        for _ in range(6):
            member, _ = await _check_in(client, conn, settings, steady)
            await ratings_domain.rate(
                conn, member_id=member, station_id=steady["id"], stars=4, tags=[], comment=None
            )

        async def rated_both() -> bool:
            found = _by_id(await _nearest(client))
            return all(found[s["id"]]["rating"] is not None for s in (lone, steady))

        await eventually(rated_both, what="ratings written outside the app to reach search")
        # lone: (17.5 + 5) / 6 = 3.75; steady: (17.5 + 24) / 11 = 3.77
        picked = await _nearest(client, min_rating=3.76)
        unrated = await _nearest(client, min_rating=1)
    assert [s["id"] for s in picked] == [steady["id"]]
    assert {s["id"] for s in unrated} == {lone["id"], steady["id"]}


async def test_water_today_follows_stock_and_claims(conn, settings):
    point = await create_station(
        conn, name="一瓶水·传递爱 派水点", kind="water_point", amenities=["drinking_water"]
    )
    await create_campaign(conn, [point["id"]])
    async with running_app(settings) as (_, client):
        assert _by_id(await _nearest(client))[point["id"]]["water_today"] is None
        await set_stock(conn, point["id"], 10)

        async def water() -> dict | None:
            return _by_id(await _nearest(client))[point["id"]]["water_today"]

        async def remaining_is(n: int) -> bool:
            found = await water()
            return found is not None and found["remaining"] == n

        await eventually(lambda: remaining_is(10), what="stock set to reach search")
        _, token = await create_member_with_token(conn, settings)
        claimed = await claim_at(client, point, token, settings)
        assert claimed.status_code == 201, claimed.text
        await eventually(lambda: remaining_is(9), what="a claim to reach search")
        found = await water()
    assert found is not None and found["allocated"] == 10
    assert found["local_day"] == str(
        await conn.fetchval("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date")
    )


@pytest.mark.parametrize("rows", [0, 3])
async def test_a_full_load_equals_the_sum_of_incremental_refreshes(conn, settings, rows):
    from stations.search.live import LiveData

    stations = [await create_station(conn, name=f"驿站{i}", lat=LAT + i * 0.001) for i in range(4)]
    for station in stations[:rows]:
        await set_stock(conn, station["id"], 5)
    listener = await dbconn.connect(settings.db)
    try:
        full, incremental = LiveData(), LiveData()
        await full.load(listener)
        await incremental.refresh(listener, [s["id"] for s in stations])
    finally:
        await listener.close()
    assert full.water_json == incremental.water_json
    assert len(full.water_json) == rows


async def test_water_now_keeps_stations_with_bottles_left_in_their_local_day(conn, settings):
    stocked = await create_station(conn, name="有水派水点", kind="water_point", lat=LAT + 0.001)
    last_bottle = await create_station(conn, name="最后一瓶", kind="water_point", lat=LAT + 0.002)
    handed_out = await create_station(conn, name="发完了", kind="water_point", lat=LAT + 0.003)
    yesterday = await create_station(conn, name="昨天有水", kind="water_point", lat=LAT + 0.004)
    never = await create_station(conn, name="没登记", kind="water_point", lat=LAT + 0.005)
    love = await create_station(conn, name="也发水的驿站", lat=LAT + 0.006)
    await create_campaign(conn, [last_bottle["id"]])
    for station, bottles in ((stocked, 8), (last_bottle, 1), (handed_out, 0), (love, 3)):
        await set_stock(conn, station["id"], bottles)
    await conn.execute(
        "INSERT INTO water_stock (station_id, local_day, allocated, remaining) "
        "VALUES ($1, (now() AT TIME ZONE 'Asia/Shanghai')::date - 1, 10, 10)",
        yesterday["id"],
    )
    with_water = [stocked["id"], last_bottle["id"], love["id"]]
    async with running_app(settings) as (_, client):
        assert [s["id"] for s in await _nearest(client, water_now="true")] == with_water
        assert len(await _nearest(client, water_now="false")) == 6
        one = await _nearest(client, water_now="true", k=1, kind="water_point")
        assert [s["id"] for s in one] == [stocked["id"]]
        batch = await client.post(
            "/v1/stations/nearest:batch",
            headers=admin_headers(settings),
            json={"points": [{"lat": LAT, "lng": LNG}], "k": 10, "water_now": True},
        )
        assert batch.status_code == 200, batch.text
        assert [s["id"] for s in batch.json()["answers"][0]] == with_water
        route = await client.post(
            "/v1/stations/along-route",
            json={
                "route": {"type": "LineString", "coordinates": [[LNG, LAT], [LNG, LAT + 0.01]]},
                "max_detour_m": 100,
                "water_now": True,
            },
        )
        assert route.status_code == 200, route.text
        assert [s["id"] for s in route.json()["results"]] == with_water
        bad = await client.get(
            "/v1/stations/nearest", params={"lat": LAT, "lng": LNG, "water_now": "maybe"}
        )
        assert bad.status_code == 422
        assert bad.json() == {
            "detail": "water_now: must be true or false (got 'maybe')",
            "code": "invalid_parameter",
            "field": "water_now",
        }

        # The last bottle goes: the station drops out once the claim reaches the index.
        _, token = await create_member_with_token(conn, settings)
        assert (await claim_at(client, last_bottle, token, settings)).status_code == 201

        async def gone() -> bool:
            found = [s["id"] for s in await _nearest(client, water_now="true")]
            return found == [stocked["id"], love["id"]]

        await eventually(gone, what="a station without bottles to leave water_now")
    assert never["id"] not in with_water and handed_out["id"] not in with_water
