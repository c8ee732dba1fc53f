"""Default daily allocation: water does not stop every morning.

A campaign's default (for its stations) or a station's own (overriding it) fills each
local day nobody set: the day's first claim creates the day's stock from it in the
claim's own transaction, readers (operators, riders' search answers) see it before
that, and an operator's allocation for a day always wins. Concurrent first claims,
batched or not, never hand out more than the default or more than a quota.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

from stations.visits import claims, stock
from tests.factories import (
    HUAIBEI_CENTRE,
    bearer,
    claim_at,
    create_campaign,
    create_member_with_token,
    create_staff,
    create_station,
    stock_left,
)
from tests.fixtures.search.app import eventually, running_app
from tests.visits.test_claims_batches import members, request

LAT, LNG = HUAIBEI_CENTRE


async def test_first_claim_of_the_day_starts_from_the_campaigns_default(client, conn, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]], daily_allocation=50)
    _, token = await create_member_with_token(conn, settings)
    assert await conn.fetchval("SELECT count(*) FROM water_stock") == 0

    response = await claim_at(client, station, token, settings)

    assert response.status_code == 201, response.json()
    assert response.json()["remaining_stock"] == 49
    row = await conn.fetchrow("SELECT allocated, remaining FROM water_stock")
    assert (row["allocated"], row["remaining"]) == (50, 49)


async def test_a_stations_own_default_overrides_its_campaigns(conn, settings):
    station = await create_station(conn, kind="water_point")
    other = await create_station(conn, kind="water_point", lat=30.0)
    await create_campaign(conn, [station["id"], other["id"]], daily_allocation=50)
    await stock.set_default(conn, station_id=station["id"], daily_allocation=8, actor="test")

    view = await stock.get_stock(conn, station_id=station["id"])
    assert view["from_default"] is True
    assert (view["allocated"], view["remaining"], view["handed_out"]) == (8, 8, 0)
    assert view["station_default"] == 8 and view["default_allocation"] == 8
    assert view["campaign"]["daily_allocation"] == 50
    assert (await stock.get_stock(conn, station_id=other["id"]))["default_allocation"] == 50

    (member,) = await members(conn, settings, 1)
    answers = await claims.decide(conn, [request(settings, member, station)])
    assert answers[0]["response"]["remaining_stock"] == 7

    # Back to the campaign's default for the days nobody started yet.
    cleared = await stock.set_default(
        conn, station_id=station["id"], daily_allocation=None, actor="test"
    )
    assert cleared["station_default"] is None and cleared["default_allocation"] == 50
    assert (cleared["allocated"], cleared["remaining"]) == (8, 7)  # today already started


async def test_an_operators_allocation_for_the_day_wins_over_the_default(conn, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]], daily_allocation=50)
    await stock.set_allocation(conn, station_id=station["id"], allocated=3)
    riders = await members(conn, settings, 4)

    answers = await claims.decide(conn, [request(settings, t, station) for t in riders])

    assert [a["outcome"] for a in answers] == ["granted"] * 3 + ["out_of_stock"]
    assert answers[3]["response"]["stock_set"] is True
    assert await conn.fetchval("SELECT allocated FROM water_stock") == 3


async def test_a_top_up_before_the_first_claim_adds_to_the_default(conn):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]], daily_allocation=50)

    view = await stock.top_up(conn, station_id=station["id"], count=20)

    assert (view["allocated"], view["remaining"], view["from_default"]) == (70, 70, False)
    # a second top-up adds its own bottles only (the default started the day once)
    view = await stock.top_up(conn, station_id=station["id"], count=5)
    assert (view["allocated"], view["remaining"]) == (75, 75)


async def test_a_default_of_zero_is_a_day_without_water(conn, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]], daily_allocation=0)
    (member,) = await members(conn, settings, 1)

    answers = await claims.decide(conn, [request(settings, member, station)])

    assert answers[0]["outcome"] == "out_of_stock"
    assert answers[0]["response"]["stock_set"] is True


async def test_without_a_campaign_today_a_stations_default_hands_out_nothing(conn, settings):
    station = await create_station(conn, kind="water_point")
    await stock.set_default(conn, station_id=station["id"], daily_allocation=30, actor="test")

    view = await stock.get_stock(conn, station_id=station["id"])
    assert view["default_allocation"] is None and view["campaign"] is None
    assert (view["allocated"], view["remaining"]) == (0, 0)
    water = await stock.water_today(conn, [station["id"]], at=datetime.now(UTC))
    assert water[station["id"]].allocated is None


async def test_riders_see_the_default_before_the_first_claim(conn, settings):
    station = await create_station(conn, kind="water_point", name="人民路派水点")
    dry = await create_station(conn, kind="water_point", name="淮海路派水点", lat=LAT + 0.001)
    await create_campaign(conn, [station["id"], dry["id"]], daily_allocation=40)
    await stock.set_default(conn, station_id=dry["id"], daily_allocation=0, actor="test")
    water = await stock.water_today(conn, [station["id"]], at=datetime.now(UTC))
    assert (water[station["id"]].allocated, water[station["id"]].remaining) == (40, 40)

    async with running_app(settings) as (_, client):

        async def waters() -> dict[int, dict | None]:
            answer = await client.get("/v1/stations/nearest", params={"lat": LAT, "lng": LNG})
            return {s["id"]: s["water_today"] for s in answer.json()["results"]}

        found = await waters()
        assert found[station["id"]]["remaining"] == 40
        # A default of 0 is a day without water, not a day nobody set.
        assert (found[dry["id"]]["allocated"], found[dry["id"]]["remaining"]) == (0, 0)
        detail = (await client.get(f"/v1/stations/{station['id']}")).json()
        assert detail["water_today"]["allocated"] == 40

        # An operator's new default reaches search answers within the live data's poll.
        await stock.set_default(conn, station_id=station["id"], daily_allocation=25, actor="op")

        async def shows_25() -> bool:
            return (await waters())[station["id"]]["remaining"] == 25

        await eventually(shows_25, what="a station's new default to reach search")


async def test_operators_set_their_stations_default_through_the_api(client, conn):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]], daily_allocation=50)
    operator = await create_staff(conn, station_ids=[station["id"]])
    other = await create_staff(conn, station_ids=[])
    path = f"/v1/stations/{station['id']}/stock/default"

    response = await client.put(path, json={"daily_allocation": 12}, headers=bearer(operator))
    assert response.status_code == 200, response.json()
    assert response.json()["default_allocation"] == 12
    assert response.json()["remaining"] == 12 and response.json()["from_default"] is True

    refused = await client.put(path, json={"daily_allocation": 12}, headers=bearer(other))
    assert refused.status_code == 403 and refused.json()["code"] == "not_station_operator"
    bad = await client.put(path, json={"daily_allocation": -1}, headers=bearer(operator))
    assert bad.status_code == 422 and bad.json()["field"] == "daily_allocation"
    assert await conn.fetchval("SELECT daily_allocation FROM water_defaults") == 12

    cleared = await client.put(path, json={"daily_allocation": None}, headers=bearer(operator))
    assert cleared.json()["default_allocation"] == 50
    assert await conn.fetchval("SELECT count(*) FROM water_defaults") == 0


async def test_concurrent_first_claims_never_exceed_the_default(conn, pool, settings):
    """Many members claim at once at stations nobody set today, on separate connections
    and in batches: each station hands out exactly its default, quotas hold, and no two
    transactions deadlock creating the day's rows."""
    stations = [
        await create_station(conn, name=f"派水点{n}", kind="water_point", lat=33.9556 + n * 1e-4)
        for n in range(3)
    ]
    await create_campaign(conn, [s["id"] for s in stations], daily_quota=2, daily_allocation=15)
    await stock.set_default(conn, station_id=stations[0]["id"], daily_allocation=9, actor="test")
    riders = await members(conn, settings, 40)
    rng = random.Random(20261206)

    async def send(batches):
        outcomes = []
        async with pool.acquire() as connection:
            for batch in batches:
                answers = await connection.fetchval(
                    claims.SQL.claim_water_batch, *claims.batch_arguments(batch)
                )
                outcomes += [a["outcome"] for a in answers if not a["replayed"]]
        return outcomes

    work = [
        [[request(settings, rng.choice(riders), rng.choice(stations)) for _ in range(8)]]
        for _ in range(20)
    ]
    outcomes = [o for part in await asyncio.gather(*(send(w) for w in work)) for o in part]

    assert set(outcomes) <= {"granted", "quota_used", "out_of_stock"}
    assert outcomes.count("granted") == 9 + 15 + 15  # every bottle of every default
    rows = await conn.fetch(
        "SELECT station_id, allocated, remaining FROM water_stock ORDER BY station_id"
    )
    assert [(r["allocated"], r["remaining"]) for r in rows] == [(9, 0), (15, 0), (15, 0)]
    for s, expected in zip(stations, (9, 15, 15), strict=True):
        taken = await conn.fetchval("SELECT count(*) FROM claims WHERE station_id = $1", s["id"])
        assert taken == expected
        assert await stock_left(conn, s["id"]) == 0
    most = await conn.fetchval(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM claims GROUP BY member_id) q"
    )
    assert most <= 2
