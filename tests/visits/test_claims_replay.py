"""A retried claim gets its stored answer before any rule is checked again, the QR code's
signature and key included: rotating the poster keys never turns a granted claim into a
refusal for the rider whose answer was lost on the way."""

from __future__ import annotations

import uuid

from pydantic import SecretStr

from stations.visits import qr
from tests.factories import (
    HUAIBEI_CENTRE,
    bearer,
    create_campaign,
    create_member_with_token,
    create_station,
    set_stock,
    stock_left,
)
from tests.fixtures.search.app import running_app

LAT, LNG = HUAIBEI_CENTRE
BASE = "https://stations.example.org"
KEYS = {"k1": SecretStr("first-key"), "k2": SecretStr("second-key")}


def with_keys(settings, *, keys=KEYS, active=("k1",), retired=()):
    security = settings.security.model_copy(
        update={
            "qr_keys": dict(keys),
            "qr_active_keys": list(active),
            "qr_retired_keys": list(retired),
        }
    )
    return settings.model_copy(update={"security": security})


async def post_claim(client, token, code, key, *, lat=LAT):
    return await client.post(
        "/v1/claims",
        json={"code": code, "lat": lat, "lng": LNG},
        headers=bearer(token) | {"Idempotency-Key": key},
    )


async def test_a_granted_claim_replays_after_its_poster_key_is_retired_or_removed(conn, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 5)
    _, token = await create_member_with_token(conn, settings)
    before = with_keys(settings)
    poster = qr.poster_url(station["code"], security=before.security, base_url=BASE)

    async with running_app(before) as (_, client):
        first = await post_claim(client, token, poster, "lost-answer")
    assert first.status_code == 201, first.text

    rotated = with_keys(settings, active=["k2"], retired=["k1"])
    removed = with_keys(settings, keys={"k2": KEYS["k2"]}, active=["k2"])
    for after in (rotated, removed):
        async with running_app(after) as (_, client):
            retry = await post_claim(client, token, poster, "lost-answer")
            fresh = await post_claim(client, token, poster, str(uuid.uuid4()))
            moved = await post_claim(client, token, poster, "lost-answer", lat=LAT + 0.0001)
        assert retry.status_code == 201, retry.text
        assert retry.content == first.content
        assert retry.headers["Idempotent-Replayed"] == "true"
        # Only the retry of a stored answer is spared the key check.
        assert fresh.status_code == 422
        assert fresh.json()["code"] == ("code_retired" if after is rotated else "invalid_code")
        assert moved.status_code == 422
        assert moved.json()["code"] == "idempotency_key_reused"
    assert await stock_left(conn, station["id"]) == 4
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1


async def test_a_stored_refusal_replays_after_its_poster_key_is_retired(conn, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]])
    _, token = await create_member_with_token(conn, settings)  # no stock set today
    before = with_keys(settings)
    poster = qr.poster_url(station["code"], security=before.security, base_url=BASE)
    async with running_app(before) as (_, client):
        first = await post_claim(client, token, poster, "no-stock")
    async with running_app(with_keys(settings, active=["k2"], retired=["k1"])) as (_, client):
        retry = await post_claim(client, token, poster, "no-stock")
    assert first.status_code == retry.status_code == 409
    assert retry.content == first.content
    assert retry.json()["code"] == "out_of_stock"


async def test_a_retired_code_under_another_members_key_is_refused(conn, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 5)
    _, token = await create_member_with_token(conn, settings)
    _, other = await create_member_with_token(conn, settings)
    before = with_keys(settings)
    poster = qr.poster_url(station["code"], security=before.security, base_url=BASE)
    async with running_app(before) as (_, client):
        assert (await post_claim(client, token, poster, "mine")).status_code == 201
    async with running_app(with_keys(settings, active=["k2"], retired=["k1"])) as (_, client):
        theirs = await post_claim(client, other, poster, "mine")
        unknown = await post_claim(client, "ls_" + "x" * 43, poster, "mine")
    # Nothing is stored under their key (nor under a token nobody holds): refused.
    assert theirs.status_code == 422 and theirs.json()["code"] == "code_retired"
    assert unknown.status_code == 422 and unknown.json()["code"] == "code_retired"
