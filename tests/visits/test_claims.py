"""Claiming water: every refusal reason, idempotency, prizes, hand-over, privacy."""

from __future__ import annotations

import asyncio
import logging
import uuid
from types import SimpleNamespace

import asyncpg
import httpx
import pytest

from api.main import create_app
from stations.geo import crs, h3cells
from stations.visits.campaigns import PrizeSpec
from tests.factories import (
    HUAIBEI_CENTRE,
    bearer,
    code_for,
    create_campaign,
    create_member,
    create_member_with_token,
    create_staff,
    create_station,
    member_token,
    run_cli,
    set_stock,
    stock_left,
)

LAT, LNG = HUAIBEI_CENTRE


async def claim(
    client: httpx.AsyncClient,
    token: str,
    code: str,
    *,
    lat: float = LAT,
    lng: float = LNG,
    key: str | None = None,
    crs_name: str | None = None,
) -> httpx.Response:
    body: dict = {"code": code, "lat": lat, "lng": lng}
    if crs_name:
        body["crs"] = crs_name
    headers = bearer(token) | {"Idempotency-Key": key or str(uuid.uuid4())}
    return await client.post("/v1/claims", json=body, headers=headers)


@pytest.fixture
async def water(conn, settings):
    """A water point in a running campaign with 5 bottles, and a member with a token."""
    station = await create_station(conn, name="相山公园派水点", kind="water_point")
    campaign = await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 5)
    member_id, token = await create_member_with_token(conn, settings)
    return SimpleNamespace(
        station=station,
        campaign=campaign,
        member_id=member_id,
        token=token,
        code=code_for(station, settings),
    )


# --- granted ----------------------------------------------------------------------------


async def test_claim_granted_with_code_remaining_stock_and_station(client, conn, water):
    response = await claim(client, water.token, water.code)
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["claim_code"]) == 7
    assert body["remaining_stock"] == 4
    assert body["station"] == {
        "id": water.station["id"],
        "code": water.station["code"],
        "name": "相山公园派水点",
    }
    assert body["campaign"]["id"] == water.campaign["id"]
    assert body["prize"] is None
    assert (body["daily_quota"], body["claims_today"]) == (1, 1)
    assert await stock_left(conn, water.station["id"]) == 4
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1


async def test_what_a_claim_refers_to_cannot_be_deleted(client, conn, water):
    # Claims keep their member and station by triggers, not foreign keys (migration 0008).
    assert (await claim(client, water.token, water.code)).status_code == 201
    with pytest.raises(asyncpg.RestrictViolationError, match="close it instead"):
        await conn.execute("DELETE FROM stations WHERE id = $1", water.station["id"])
    with pytest.raises(asyncpg.RestrictViolationError, match="suspend the member instead"):
        await conn.execute("DELETE FROM members WHERE id = $1", water.member_id)
    unclaimed = await create_station(conn, name="别的驿站")
    await conn.execute("DELETE FROM stations WHERE id = $1", unclaimed["id"])
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1


async def test_claim_keeps_only_the_h3_cell_of_the_position(client, conn, water, settings):
    lat, lng = LAT + 0.0011, LNG - 0.0007
    response = await claim(client, water.token, water.code, lat=lat, lng=lng)
    assert response.status_code == 201
    row = await conn.fetchrow("SELECT * FROM claims")
    assert row["h3_cell"] == h3cells.cell_from_latlng(lat, lng, settings.h3.visit_location)
    assert h3cells.cell_resolution(row["h3_cell"]) == 9
    geo_columns = await conn.fetchval(
        """
        SELECT count(*) FROM information_schema.columns
        WHERE table_name IN ('claims', 'checkins', 'claim_requests')
          AND (udt_name IN ('geography', 'geometry')
               OR column_name IN ('lat', 'lng', 'latitude', 'longitude'))
        """
    )
    assert geo_columns == 0


async def test_claim_quota_of_two_grants_two_bottles_then_refuses(client, conn, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]], daily_quota=2)
    await set_stock(conn, station["id"], 10)
    _, token = await create_member_with_token(conn, settings)
    code = code_for(station, settings)
    first, second, third = [await claim(client, token, code) for _ in range(3)]
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["claims_today"] == 2
    assert third.status_code == 409
    assert third.json() == {
        "detail": "quota_used: you have claimed your 2 bottles for today; come back tomorrow",
        "code": "quota_used",
        "daily_quota": 2,
    }


async def test_claim_accepts_gcj02_and_bd09_positions(client, conn, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]], daily_quota=3, geofence_m=50)
    await set_stock(conn, station["id"], 10)
    _, token = await create_member_with_token(conn, settings)
    code = code_for(station, settings)
    glat, glng = (float(v) for v in crs.wgs84_to_gcj02(LAT, LNG))
    blat, blng = (float(v) for v in crs.gcj02_to_bd09(glat, glng))
    as_gcj = await claim(client, token, code, lat=glat, lng=glng, crs_name="gcj02")
    as_bd = await claim(client, token, code, lat=blat, lng=blng, crs_name="bd09")
    assert (as_gcj.status_code, as_bd.status_code) == (201, 201)
    # The same GCJ-02 numbers taken for WGS84 are hundreds of metres off.
    misread = await claim(client, token, code, lat=glat, lng=glng)
    assert misread.status_code == 403
    assert misread.json()["detail"].startswith("outside_geofence: ")
    assert misread.json()["code"] == "outside_geofence"
    assert misread.json()["radius_m"] == 50 and misread.json()["distance_m"] > 50


# --- refusals ---------------------------------------------------------------------------


async def test_claim_refused_when_quota_is_used(client, water):
    assert (await claim(client, water.token, water.code)).status_code == 201
    again = await claim(client, water.token, water.code)
    assert again.status_code == 409
    assert again.json() == {
        "detail": "quota_used: you have claimed your 1 bottle for today; come back tomorrow",
        "code": "quota_used",
        "daily_quota": 1,
    }


async def test_claim_refused_when_stock_is_empty(client, conn, water, settings):
    await set_stock(conn, water.station["id"], 0)
    response = await claim(client, water.token, water.code)
    assert response.status_code == 409
    assert response.json() == {
        "detail": "out_of_stock: this station has no bottles left today; "
        "try another water point nearby",
        "code": "out_of_stock",
        "stock_set": True,
    }
    assert await stock_left(conn, water.station["id"]) == 0
    assert await conn.fetchval("SELECT count(*) FROM claims") == 0


async def test_claim_refused_when_stock_was_never_set(client, conn, water):
    await conn.execute("DELETE FROM water_stock")
    response = await claim(client, water.token, water.code)
    assert response.status_code == 409
    assert response.json() == {
        "detail": "out_of_stock: this station has not set today's water stock yet; ask the staff",
        "code": "out_of_stock",
        "stock_set": False,
    }


async def test_claim_refused_outside_geofence(client, conn, water):
    lat = LAT + 0.01  # about 1.1 km north
    distance = await conn.fetchval(
        "SELECT round(ST_Distance(geom, ST_MakePoint($2, $1)::geography, false)) FROM stations",
        lat,
        LNG,
    )
    response = await claim(client, water.token, water.code, lat=lat)
    assert response.status_code == 403
    assert response.json() == {
        "detail": f"outside_geofence: you are {distance:.0f} m from the station; claims are "
        "accepted within 300 m, so scan again at the station",
        "code": "outside_geofence",
        "distance_m": int(distance),
        "radius_m": 300,
    }
    assert await stock_left(conn, water.station["id"]) == 5


async def test_the_claim_log_forgets_answers_after_its_retention(client, conn, water, settings):
    from stations.visits import claims

    far = await claim(client, water.token, water.code, lat=LAT + 0.01)
    assert far.json()["code"] == "outside_geofence"
    granted = await claim(client, water.token, water.code)
    assert granted.status_code == 201
    assert await conn.fetchval("SELECT count(*) FROM claim_requests") == 2
    assert await claims.expire_claim_log(conn, days=30) == 0  # both are from today
    await conn.execute(
        "UPDATE claim_requests SET created_at = now() - interval '31 days' "
        "WHERE outcome = 'outside_geofence'"
    )
    code, out, err = await run_cli(settings, "campaigns", "expire-claim-log", "--days", "30")
    assert (code, out.strip()) == (0, "forgot 1 answers to claim requests older than 30 days"), err
    assert await conn.fetchval("SELECT array_agg(outcome) FROM claim_requests") == ["granted"]
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1  # the claim itself stays


async def test_claim_refused_when_campaign_has_ended(client, conn, water):
    await conn.execute(
        "UPDATE campaigns SET starts_on = current_date - 10, ends_on = current_date - 3"
    )
    response = await claim(client, water.token, water.code)
    assert response.status_code == 409
    assert response.json() == {
        "detail": "campaign_closed: no water campaign runs at this station today",
        "code": "campaign_closed",
    }


async def test_claim_refused_outside_daily_hours(client, conn, water):
    # A one-minute window twelve hours away from the station's local time now.
    now_local = await conn.fetchval("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::time")
    start_hour = (now_local.hour + 12) % 24
    await conn.execute(
        "UPDATE campaigns SET daily_start = make_time($1, 0, 0), daily_end = make_time($1, 1, 0)",
        start_hour,
    )
    response = await claim(client, water.token, water.code)
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"campaign_closed: water is handed out here from {start_hour:02d}:00 to "
        f"{start_hour:02d}:01 local time; come back then",
        "code": "campaign_closed",
        "daily_start": f"{start_hour:02d}:00",
        "daily_end": f"{start_hour:02d}:01",
    }


async def test_claim_refused_at_station_outside_the_campaign(client, conn, water, settings):
    other = await create_station(conn, kind="water_point", lat=LAT + 0.02)
    await set_stock(conn, other["id"], 5)
    response = await claim(client, water.token, code_for(other, settings), lat=LAT + 0.02)
    assert response.status_code == 409
    assert response.json() == {
        "detail": "station_not_in_campaign: this station does not take part in today's water "
        "campaign; look for a participating water point nearby",
        "code": "station_not_in_campaign",
    }


async def test_claim_refused_at_temporarily_closed_station(client, conn, water):
    await conn.execute("UPDATE stations SET status = 'temporarily_closed'")
    response = await claim(client, water.token, water.code)
    assert response.status_code == 409
    assert response.json() == {
        "detail": "station_closed: this station is temporarily closed and hands out no water",
        "code": "station_closed",
        "station_status": "temporarily_closed",
    }


async def test_claim_refused_for_suspended_member(client, conn, water):
    await conn.execute("UPDATE members SET status = 'suspended' WHERE id = $1", water.member_id)
    response = await claim(client, water.token, water.code)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "member_suspended: your union membership is suspended; "
        "ask your union branch to reinstate it",
        "code": "member_suspended",
    }
    assert await stock_left(conn, water.station["id"]) == 5


async def test_claim_refused_with_forged_code(client, water, settings):
    forged = water.code.rsplit("sig=", 1)[0] + "sig=" + "a" * 16
    response = await claim(client, water.token, forged)
    assert response.status_code == 422
    assert response.json() == {
        "detail": "invalid_code: the code's signature does not match its station (altered or "
        "forged code); scan the poster at the station itself",
        "code": "invalid_code",
    }


async def test_claim_refused_with_code_altered_to_another_station(client, conn, water, settings):
    other = await create_station(conn, kind="water_point")
    altered = water.code.replace(f"/s/{water.station['code']}?", f"/s/{other['code']}?")
    response = await claim(client, water.token, altered)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("invalid_code: the code's signature does not")
    assert response.json()["code"] == "invalid_code"


async def test_claim_refused_with_text_that_is_not_a_station_code(client, water):
    response = await claim(client, water.token, "https://example.com/pay?to=someone")
    assert response.status_code == 422
    assert response.json() == {
        "detail": "invalid_code: this is not a Love Stations station code; "
        "scan the QR code on the station's poster",
        "code": "invalid_code",
    }


async def test_claim_refused_when_station_of_a_genuine_code_is_gone(client, conn, water):
    await conn.execute("UPDATE stations SET code = 'ZZZZZZ'")
    response = await claim(client, water.token, water.code)
    assert response.status_code == 422
    assert response.json() == {
        "detail": f"invalid_code: no station has the code {water.station['code']} any more; "
        "ask the staff for the current poster",
        "code": "invalid_code",
    }


async def test_claim_needs_a_member_token(client, conn, water):
    admin = await create_staff(conn, role="admin")
    response = await claim(client, admin, water.code)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "this needs the role member; you are admin",
        "code": "role_required",
        "roles": ["member"],
        "role": "admin",
    }


async def test_claim_with_revoked_token_is_401_even_while_cached(client, conn, water):
    assert (await claim(client, water.token, water.code)).status_code == 201
    await conn.execute("UPDATE api_tokens SET revoked_at = now()")
    # The worker still trusts the token for a few seconds; the claim re-checks it.
    response = await claim(client, water.token, water.code)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "the bearer token is not valid (expired, revoked or mistyped)",
        "code": "unauthorized",
    }


# --- idempotency ------------------------------------------------------------------------


async def test_retry_with_same_key_returns_first_answer_byte_for_byte(client, conn, water):
    first = await claim(client, water.token, water.code, key="retry-1")
    again = await claim(client, water.token, water.code, key="retry-1")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1
    assert await stock_left(conn, water.station["id"]) == 4


async def test_retry_of_a_refusal_returns_the_same_refusal(client, conn, water):
    await set_stock(conn, water.station["id"], 0)
    first = await claim(client, water.token, water.code, key="k-empty")
    await set_stock(conn, water.station["id"], 3)
    again = await claim(client, water.token, water.code, key="k-empty")
    assert first.status_code == again.status_code == 409
    assert again.content == first.content
    assert first.json() == {
        "detail": "out_of_stock: this station has no bottles left today; "
        "try another water point nearby",
        "code": "out_of_stock",
        "stock_set": True,
    }
    fresh = await claim(client, water.token, water.code, key="k-new")
    assert fresh.status_code == 201


async def test_same_key_with_different_body_is_422(client, conn, water):
    assert (await claim(client, water.token, water.code, key="k1")).status_code == 201
    response = await claim(client, water.token, water.code, key="k1", lat=LAT + 0.0001)
    assert response.status_code == 422
    assert response.json() == {
        "detail": "idempotency_key_reused: this Idempotency-Key already answered a different "
        "claim request; send a new key for a new claim and the same body when retrying",
        "code": "idempotency_key_reused",
    }
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1


async def test_same_key_from_another_member_is_a_separate_claim(client, conn, water, settings):
    _, other_token = await create_member_with_token(conn, settings)
    first = await claim(client, water.token, water.code, key="shared")
    second = await claim(client, other_token, water.code, key="shared")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["claim_code"] != second.json()["claim_code"]


async def test_first_answer_survives_a_restart(client, conn, water, settings):
    first = await claim(client, water.token, water.code, key="before-restart")
    fresh_app = create_app(settings)
    async with fresh_app.router.lifespan_context(fresh_app):
        transport = httpx.ASGITransport(app=fresh_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as restarted:
            again = await claim(restarted, water.token, water.code, key="before-restart")
    assert again.status_code == 201
    assert again.content == first.content


async def test_concurrent_duplicates_make_one_claim_and_get_one_answer(client, conn, water):
    responses = await asyncio.gather(
        *(claim(client, water.token, water.code, key="double-tap") for _ in range(8))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1
    assert await stock_left(conn, water.station["id"]) == 4


async def test_claim_without_idempotency_key_is_422(client, water):
    response = await client.post(
        "/v1/claims",
        json={"code": water.code, "lat": LAT, "lng": LNG},
        headers=bearer(water.token),
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": "Idempotency-Key: send a header with a new unique value (e.g. a UUID) for each "
        "claim, and the same value when retrying that claim",
        "code": "invalid_parameter",
        "field": "Idempotency-Key",
    }


# --- prizes -----------------------------------------------------------------------------


async def test_prize_pool_is_never_over_awarded(client, conn, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(
        conn,
        [station["id"]],
        prizes=[PrizeSpec("夏日礼包", 3, 1.0)],
    )
    await set_stock(conn, station["id"], 40)
    code = code_for(station, settings)
    tokens = [(await create_member_with_token(conn, settings))[1] for _ in range(30)]
    responses = await asyncio.gather(*(claim(client, t, code) for t in tokens))
    assert [r.status_code for r in responses] == [201] * 30
    prizes = [r.json()["prize"] for r in responses]
    assert prizes.count("夏日礼包") == 3
    assert prizes.count(None) == 27
    assert await conn.fetchval("SELECT remaining FROM prize_pools") == 0
    assert await conn.fetchval("SELECT count(*) FROM claims WHERE prize_pool_id IS NOT NULL") == 3


# --- hand-over and lists ----------------------------------------------------------------


async def test_operator_confirms_handover_at_own_station_only(client, conn, water):
    code = (await claim(client, water.token, water.code)).json()["claim_code"]
    own = await create_staff(conn, station_ids=[water.station["id"]])
    other_station = await create_station(conn)
    stranger = await create_staff(conn, station_ids=[other_station["id"]])

    refused = await client.post(f"/v1/claims/{code}/handover", headers=bearer(stranger))
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": f"you do not operate station {water.station['id']}",
        "code": "not_station_operator",
        "station_id": water.station["id"],
    }
    by_member = await client.post(f"/v1/claims/{code}/handover", headers=bearer(water.token))
    assert by_member.status_code == 403

    done = await client.post(f"/v1/claims/{code.lower()}/handover", headers=bearer(own))
    assert done.status_code == 200
    handed_over_at = done.json()["handed_over_at"]
    assert handed_over_at is not None
    twice = await client.post(f"/v1/claims/{code}/handover", headers=bearer(own))
    assert twice.json()["handed_over_at"] == handed_over_at


async def test_handover_of_unknown_code_is_404(client, conn, water):
    own = await create_staff(conn, station_ids=[water.station["id"]])
    response = await client.post("/v1/claims/0000000/handover", headers=bearer(own))
    assert response.status_code == 404
    assert response.json() == {
        "detail": "no claim has the code 0000000; check the code with the member",
        "code": "claim_not_found",
        "claim_code": "0000000",
    }


async def test_handover_refused_for_yesterdays_claim(client, conn, water):
    code = (await claim(client, water.token, water.code)).json()["claim_code"]
    await conn.execute("UPDATE claims SET local_day = local_day - 1")
    own = await create_staff(conn, station_ids=[water.station["id"]])
    response = await client.post(f"/v1/claims/{code}/handover", headers=bearer(own))
    assert response.status_code == 409
    yesterday = await conn.fetchval("SELECT local_day FROM claims")
    assert response.json() == {
        "detail": f"claim_expired: this claim was for {yesterday.isoformat()}; claims are good "
        "on the day they are made only",
        "code": "claim_expired",
        "local_day": yesterday.isoformat(),
    }


async def test_member_sees_own_claims_and_operator_sees_todays_at_own_stations(
    client, conn, water, settings
):
    _, other_token = await create_member_with_token(conn, settings)
    mine = (await claim(client, water.token, water.code)).json()["claim_code"]
    theirs = (await claim(client, other_token, water.code)).json()["claim_code"]

    listed = await client.get("/v1/claims", headers=bearer(water.token))
    assert [c["claim_code"] for c in listed.json()] == [mine]

    operator = await create_staff(conn, station_ids=[water.station["id"]])
    at_station = await client.get("/v1/claims", headers=bearer(operator))
    assert {c["claim_code"] for c in at_station.json()} == {mine, theirs}
    campaign = {"id": water.campaign["id"], "name": water.campaign["name"]}
    assert [c["campaign"] for c in at_station.json()] == [campaign, campaign]
    assert listed.json()[0]["campaign"] == campaign

    elsewhere = await create_staff(conn, station_ids=[(await create_station(conn))["id"]])
    assert (await client.get("/v1/claims", headers=bearer(elsewhere))).json() == []
    forbidden = await client.get(
        f"/v1/claims?station_id={water.station['id']}", headers=bearer(elsewhere)
    )
    assert forbidden.status_code == 403


# --- privacy ----------------------------------------------------------------------------


async def test_no_token_or_phone_reaches_the_logs(client, conn, settings, caplog):
    caplog.set_level(logging.DEBUG)
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 2)
    member_id, number, phone = await create_member(conn, settings)
    signed_in = await client.post("/v1/auth/member", json={"member_no": number, "phone": phone})
    token = signed_in.json()["token"]
    await claim(client, token, code_for(station, settings))
    await claim(client, token, code_for(station, settings))
    await client.post("/v1/auth/member", json={"member_no": number, "phone": "13900000000"})
    assert caplog.records, "the run should have logged something to check"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert token not in logged and token[3:] not in logged
    assert phone not in logged
    assert await member_token(conn, member_id) not in logged


async def test_one_members_simultaneous_claims_at_two_stations_take_one_bottle_and_prize(
    client, conn, settings
):
    first = await create_station(conn, kind="water_point")
    second = await create_station(conn, kind="water_point", lat=LAT + 0.01)
    await create_campaign(conn, [first["id"], second["id"]], prizes=[PrizeSpec("夏日礼包", 5, 1.0)])
    for station in (first, second):
        await set_stock(conn, station["id"], 5)
    _, token = await create_member_with_token(conn, settings)
    for _ in range(5):
        responses = await asyncio.gather(
            claim(client, token, code_for(first, settings)),
            claim(client, token, code_for(second, settings), lat=LAT + 0.01),
        )
        statuses = sorted(r.status_code for r in responses)
        if statuses != [409, 409]:
            assert statuses == [201, 409]
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1
    assert await conn.fetchval("SELECT sum(allocated - remaining) FROM water_stock") == 1
    assert await conn.fetchval("SELECT total - remaining FROM prize_pools") == 1


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE campaigns SET status = 'cancelled'",
        "UPDATE campaigns SET starts_on = current_date + 2, ends_on = current_date + 9",
    ],
)
async def test_claim_refused_when_campaign_is_cancelled_or_not_started(client, conn, water, change):
    await conn.execute(change)
    response = await claim(client, water.token, water.code)
    assert response.status_code == 409
    assert response.json() == {
        "detail": "campaign_closed: no water campaign runs at this station today",
        "code": "campaign_closed",
    }


async def test_claim_codes_come_from_a_key_drawn_per_database_not_a_formula(conn):
    key = await conn.fetchval("SELECT k FROM claim_code_key")
    assert len(key) == 32
    codes = [await conn.fetchval("SELECT claim_code($1)", i) for i in (41, 42)]

    def affine(n: int) -> str:  # the codes before: the next one could be computed
        v, out = (n * 20408163265 + 7777777) % 32**7, ""
        for _ in range(7):
            out = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[v % 32] + out
            v //= 32
        return out

    assert codes != [affine(41), affine(42)]
    scratch = conn.transaction()
    await scratch.start()
    try:
        await conn.execute("UPDATE claim_code_key SET k = sha256('another key'::bytea)")
        other = [await conn.fetchval("SELECT claim_code($1)", i) for i in (41, 42)]
        assert await conn.fetchval("SELECT claim_id($1)", codes[1]) != 42
    finally:
        await scratch.rollback()
    assert other[0] != codes[0] and other[1] != codes[1]  # the key decides every code
    assert await conn.fetchval("SELECT claim_id($1)", codes[1]) == 42


async def test_claim_codes_are_the_ids_in_disguise_and_read_back(conn):
    ids = [1, 2, 3, 1000, 123456789, 34359738367]
    codes = [await conn.fetchval("SELECT claim_code($1)", i) for i in ids]
    assert len(set(codes)) == len(ids) and all(len(c) == 7 for c in codes)
    assert codes[0][:3] != codes[1][:3]
    for claim_id, code in zip(ids, codes, strict=True):
        assert await conn.fetchval("SELECT claim_id($1)", code) == claim_id
        misread = code.lower().replace("0", "o").replace("1", "l")
        assert await conn.fetchval("SELECT claim_id($1)", misread) == claim_id
    assert await conn.fetchval("SELECT claim_id('ABC')") is None
    assert await conn.fetchval("SELECT claim_id('UUUUUUU')") is None
