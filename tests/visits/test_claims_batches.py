"""Water claims decided several to a transaction: the same answers, no deadlocks."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import uuid

import pytest

from stations.db import connection as dbconn
from stations.errors import DatabaseUnavailable, StationsError
from stations.people import tokens
from stations.settings import Settings
from stations.visits import claims
from stations.visits.campaigns import PrizeSpec
from tests.factories import (
    HUAIBEI_CENTRE,
    code_for,
    create_campaign,
    create_member_with_token,
    create_staff,
    create_station,
    set_stock,
    stock_left,
)
from tests.fixtures.search.app import eventually

LAT, LNG = HUAIBEI_CENTRE


def request(
    settings: Settings,
    token: str,
    station,
    *,
    key: str | None = None,
    lat: float = LAT,
    lng: float = LNG,
) -> claims.ClaimRequest:
    return claims.claim_request(
        token_digest=tokens.token_hash(token),
        idempotency_key=key or str(uuid.uuid4()),
        code=code_for(station, settings),
        lat=lat,
        lng=lng,
        crs=None,
        security=settings.security,
        visit_resolution=settings.h3.visit_location,
    )


async def members(conn, settings, count: int) -> list[str]:
    return [(await create_member_with_token(conn, settings))[1] for _ in range(count)]


async def test_one_batch_gives_each_claim_its_own_answer(conn, settings):
    station = await create_station(conn, name="相山公园派水点", kind="water_point")
    elsewhere = await create_station(conn, name="南湖派水点", kind="water_point", lng=LNG + 0.05)
    await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 5)
    member, far_member = await members(conn, settings, 2)
    _, suspended = await create_member_with_token(conn, settings, status="suspended")
    operator = await create_staff(conn, station_ids=[station["id"]])
    batch = [
        request(settings, member, station),
        request(settings, suspended, station),
        request(settings, operator, station),
        request(settings, "ls_" + "0" * 40, station),
        request(settings, far_member, station, lat=LAT + 0.01),
        request(settings, member, elsewhere),
    ]

    answers = await claims.decide(conn, batch)

    assert [a["outcome"] for a in answers] == [
        "granted",
        "member_suspended",
        "not_a_member",
        "token_invalid",
        "outside_geofence",
        "station_not_in_campaign",
    ]
    assert answers[0]["response"]["remaining_stock"] == 4
    assert answers[2]["response"] == {"role": "operator"}
    assert answers[4]["response"]["distance_m"] > 1000
    assert not any(a["replayed"] for a in answers)
    # Answers are kept for the members' keys; a token that is no member's has no key.
    assert await conn.fetchval("SELECT count(*) FROM claim_requests") == 4
    assert await stock_left(conn, station["id"]) == 4

    again = await claims.decide(conn, batch)
    for first, replay, index in zip(answers, again, range(len(batch)), strict=True):
        assert replay["outcome"] == first["outcome"]
        assert replay["response"] == first["response"]
        assert replay["replayed"] == (index in (0, 1, 4, 5))
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1


async def test_claims_at_one_station_in_a_batch_are_decided_as_one_by_one(conn, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]], daily_quota=1)
    await set_stock(conn, station["id"], 3)
    first, second, third, fourth = await members(conn, settings, 4)
    batch = [
        request(settings, first, station),
        request(settings, first, station),  # a second bottle: over a quota of one
        request(settings, second, station),
        request(settings, third, station),
        request(settings, fourth, station),  # no bottle left
    ]

    answers = await claims.decide(conn, batch)

    assert [a["outcome"] for a in answers] == [
        "granted",
        "quota_used",
        "granted",
        "granted",
        "out_of_stock",
    ]
    assert [answers[i]["response"]["remaining_stock"] for i in (0, 2, 3)] == [2, 1, 0]
    assert answers[4]["response"]["stock_set"] is True
    assert await stock_left(conn, station["id"]) == 0
    codes = {answers[i]["response"]["claim_code"] for i in (0, 2, 3)}
    assert len(codes) == 3


async def test_one_members_claims_at_two_stations_in_a_batch_take_one_bottle(conn, settings):
    near = await create_station(conn, name="A 派水点", kind="water_point")
    also_near = await create_station(conn, name="B 派水点", kind="water_point", lat=LAT + 0.001)
    await create_campaign(conn, [near["id"], also_near["id"]], daily_quota=1)
    await set_stock(conn, near["id"], 5)
    await set_stock(conn, also_near["id"], 5)
    (member,) = await members(conn, settings, 1)

    answers = await claims.decide(
        conn, [request(settings, member, also_near), request(settings, member, near)]
    )

    assert sorted(a["outcome"] for a in answers) == ["granted", "quota_used"]
    left = [await stock_left(conn, s["id"]) for s in (near, also_near)]
    assert sorted(left) == [4, 5]
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1


async def test_a_key_sent_twice_in_one_batch_is_decided_once(conn, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]], daily_quota=2)
    await set_stock(conn, station["id"], 5)
    (member,) = await members(conn, settings, 1)
    retry = request(settings, member, station, key="k-retry")
    other = request(settings, member, station, key="k-reused")
    moved = request(settings, member, station, key="k-reused", lat=LAT + 0.0005)

    answers = await claims.decide(conn, [retry, other, retry, moved])

    assert [a["outcome"] for a in answers] == [
        "granted",
        "granted",
        "granted",
        "idempotency_key_reused",
    ]
    assert [a["replayed"] for a in answers] == [False, False, True, False]
    assert answers[2]["response"] == answers[0]["response"]
    assert await conn.fetchval("SELECT count(*) FROM claims") == 2
    assert await conn.fetchval("SELECT count(*) FROM claim_requests") == 2
    assert await stock_left(conn, station["id"]) == 3


async def test_desk_decides_claims_that_arrive_together_in_one_transaction(conn, pool, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 10)
    desk = claims.ClaimDesk(pool, in_flight=1)
    riders = await members(conn, settings, 4)

    results = await asyncio.gather(*(desk.claim(request(settings, t, station)) for t in riders))

    assert sorted(r.body["remaining_stock"] for r in results) == [6, 7, 8, 9]
    # claimed_at is now(), the start of the claim's transaction: all four shared one.
    assert await conn.fetchval("SELECT count(DISTINCT claimed_at) FROM claims") == 1
    assert await conn.fetchval("SELECT count(*) FROM claims") == 4


async def test_desk_retries_a_failed_batch_claim_by_claim(conn, pool, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 10)
    desk = claims.ClaimDesk(pool, in_flight=1)
    first, second, third, fourth = await members(conn, settings, 4)
    # Past the API's checks, a key the database refuses (claim_requests allows 100
    # characters) fails its whole transaction.
    unkeyable = dataclasses.replace(request(settings, third, station), idempotency_key="k" * 101)

    results = await asyncio.gather(
        desk.claim(request(settings, first, station)),
        desk.claim(request(settings, second, station)),
        desk.claim(unkeyable),
        desk.claim(request(settings, fourth, station)),
        return_exceptions=True,
    )

    assert isinstance(results[0], claims.ClaimResult)
    assert isinstance(results[1], claims.ClaimResult)
    assert isinstance(results[2], StationsError)
    assert isinstance(results[3], claims.ClaimResult)
    assert await conn.fetchval("SELECT count(*) FROM claims") == 3
    assert await conn.fetchval("SELECT count(*) FROM claim_requests") == 3
    assert await stock_left(conn, station["id"]) == 7


async def _blocked_claims(conn, pool, settings, desk):
    """Three claims at one station whose stock row another transaction holds: the first
    batch waits for the row in the database, the other two wait for the desk."""
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 10)
    requests = [request(settings, t, station) for t in await members(conn, settings, 3)]
    holder = await dbconn.connect(settings.db)
    hold = holder.transaction()
    await hold.start()
    await holder.execute("SELECT * FROM water_stock FOR UPDATE")
    first = asyncio.create_task(desk.claim(requests[0]))
    await eventually(
        lambda: conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        ),
        what="the first batch to wait for the stock row",
    )
    rest = [asyncio.create_task(desk.claim(r)) for r in requests[1:]]
    await asyncio.sleep(0.05)
    return station, requests, [first, *rest], holder, hold


async def test_claims_behind_a_cancelled_batch_are_answered_not_left_waiting(conn, pool, settings):
    # A worker's task cancelled (its event loop stopping, say) used to leave the claims
    # queued behind its batch with futures nobody would ever resolve: their requests hung.
    desk = claims.ClaimDesk(pool, in_flight=1)
    station, requests, sent, holder, hold = await _blocked_claims(conn, pool, settings, desk)
    try:
        for task in list(desk._tasks):
            task.cancel()
        answers = await asyncio.wait_for(asyncio.gather(*sent, return_exceptions=True), 10)
    finally:
        await hold.rollback()
        await holder.close()
    assert [type(a) for a in answers] == [DatabaseUnavailable] * 3
    assert "send it again with the same Idempotency-Key" in answers[0].detail
    # Nothing was decided; the retries (same keys) are.
    assert await conn.fetchval("SELECT count(*) FROM claim_requests") == 0
    retried = await asyncio.gather(*(desk.claim(r) for r in requests))
    assert sorted(r.body["remaining_stock"] for r in retried) == [7, 8, 9]
    assert await stock_left(conn, station["id"]) == 7


async def test_closing_the_desk_answers_every_claim_and_frees_the_pool(conn, settings):
    own_pool = await dbconn.create_pool(settings.db)
    desk = claims.ClaimDesk(own_pool, in_flight=1)
    station, _, sent, holder, hold = await _blocked_claims(conn, own_pool, settings, desk)
    try:
        await asyncio.wait_for(desk.close(timeout_s=0.5), 10)
        answers = await asyncio.wait_for(asyncio.gather(*sent, return_exceptions=True), 10)
        await asyncio.wait_for(own_pool.close(), 10)  # no batch keeps a connection
    finally:
        await hold.rollback()
        await holder.close()
    assert [type(a) for a in answers] == [DatabaseUnavailable] * 3
    late = request(settings, (await members(conn, settings, 1))[0], station)
    with pytest.raises(DatabaseUnavailable, match=r"^the server is stopping"):
        await desk.claim(late)


async def test_concurrent_batches_never_deadlock_and_keep_every_invariant(conn, pool, settings):
    """Batches meet at the same stations, members and prize pools, in random order.

    Each batch is sent as one call with no retry, so a lock cycle between two batches
    would fail the test with PostgreSQL's deadlock error.
    """
    stations = [
        await create_station(conn, name=f"派水点{n}", kind="water_point", lat=LAT + n * 1e-4)
        for n in range(4)
    ]
    await create_campaign(
        conn,
        [s["id"] for s in stations],
        daily_quota=3,
        prizes=[PrizeSpec("毛巾", 40, 0.3), PrizeSpec("防晒袖套", 40, 0.3)],
    )
    for station in stations:
        await set_stock(conn, station["id"], 60)
    riders = await members(conn, settings, 24)
    rng = random.Random(20261122)

    async def send(batches: list[list[claims.ClaimRequest]]) -> list[str]:
        outcomes = []
        async with pool.acquire() as connection:
            for batch in batches:
                answers = await connection.fetchval(
                    claims.SQL.claim_water_batch, *claims.batch_arguments(batch)
                )
                outcomes += [a["outcome"] for a in answers if not a["replayed"]]
        return outcomes

    def random_batch() -> list[claims.ClaimRequest]:
        batch = [request(settings, rng.choice(riders), rng.choice(stations)) for _ in range(10)]
        batch.append(batch[rng.randrange(len(batch))])  # a retry in the same batch
        rng.shuffle(batch)
        return batch

    work = [[random_batch() for _ in range(12)] for _ in range(6)]
    outcomes = [o for part in await asyncio.gather(*(send(w) for w in work)) for o in part]

    granted = outcomes.count("granted")
    assert granted == 24 * 3  # every member's quota, well within the stock
    assert set(outcomes) <= {"granted", "quota_used"}
    row = await conn.fetchrow(
        """
        SELECT (SELECT count(*) FROM claims) AS claims,
               (SELECT sum(allocated - remaining) FROM water_stock) AS bottles,
               (SELECT count(*) FROM claims WHERE prize_pool_id IS NOT NULL) AS prizes,
               (SELECT sum(total - remaining) FROM prize_pools) AS pool_taken,
               (SELECT max(n) FROM (SELECT count(*) AS n FROM claims GROUP BY member_id) q)
                   AS most_per_member,
               (SELECT count(*) FROM claim_requests) AS answers
        """
    )
    assert row["claims"] == row["bottles"] == granted
    assert row["prizes"] == row["pool_taken"] > 0
    assert row["most_per_member"] == 3
    assert row["answers"] == len(outcomes)


@pytest.mark.parametrize("size", [1, 40])
async def test_batch_answers_are_in_request_order(conn, settings, size):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 100)
    riders = await members(conn, settings, size)
    batch = [request(settings, t, station, key=f"order-{n}") for n, t in enumerate(riders)]

    answers = await claims.decide(conn, batch)

    assert [a["outcome"] for a in answers] == ["granted"] * size
    stored = await conn.fetch(
        "SELECT idempotency_key, response FROM claim_requests ORDER BY idempotency_key"
    )
    by_key = {r["idempotency_key"]: r["response"] for r in stored}
    assert [by_key[r.idempotency_key] for r in batch] == [a["response"] for a in answers]


# Tables that are empty when a campaign starts and grow by a row per claim: a plan
# cached while they were empty must still find a claim's rows by key, not scan them.
GROWING = {"claims", "claim_requests", "water_stock"}


def scans_without_key(plan: dict, seen: set[str]) -> list[str]:
    found = []
    relation = plan.get("Relation Name")
    if relation in GROWING and "Scan" in plan["Node Type"]:
        seen.add(relation)
        if plan["Node Type"] == "Seq Scan" or (
            plan["Node Type"] in ("Index Scan", "Index Only Scan") and "Index Cond" not in plan
        ):
            found.append(f"{plan['Node Type']} on {relation}")
    for child in plan.get("Plans", []):
        found += scans_without_key(child, seen)
    return found


async def test_cached_plans_find_claims_by_key_though_planned_on_empty_tables(conn, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]], daily_quota=2)
    await set_stock(conn, station["id"], 5)
    riders = await members(conn, settings, 2)
    await conn.execute("ANALYZE")  # the claim tables' statistics now say: empty
    fresh = await dbconn.connect(settings.db, database=settings.db.name)
    plans: list[str] = []
    fresh.add_log_listener(lambda _conn, message: plans.append(message.message))
    try:
        await fresh.execute(
            """
            LOAD 'auto_explain';
            SET auto_explain.log_min_duration = 0;
            SET auto_explain.log_nested_statements = on;
            SET auto_explain.log_format = 'json';
            SET auto_explain.log_level = 'notice';
            """
        )
        for _ in range(2):  # the second call runs on the plans cached by the first
            batch = [request(settings, t, station) for t in riders]
            answers = await claims.decide(fresh, batch + batch[:1])
            assert [a["outcome"] for a in answers] == ["granted", "granted", "granted"]
    finally:
        await fresh.close()

    seen: set[str] = set()
    problems = []
    for message in plans:
        plan = json.loads(message[message.index("{") :])["Plan"]
        problems += scans_without_key(plan, seen)
    assert seen == GROWING
    assert problems == []
