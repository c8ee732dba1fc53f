"""Proof of presence: rotating station codes on a fake clock, the campaign rule, the API."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import httpx
import pytest
from pydantic import SecretStr

from stations.errors import PresenceCodeInvalid, StationsError
from stations.people import tokens
from stations.visits import claims, presence
from tests.factories import (
    HUAIBEI_CENTRE,
    bearer,
    code_for,
    create_campaign,
    create_member_with_token,
    create_staff,
    create_station,
    set_stock,
)

LAT, LNG = HUAIBEI_CENTRE
T0 = 1_780_000_005.0
"""The fake clock's instant: five seconds into a step."""


def code_at(station, settings, at: float) -> str:
    return presence.current_code(station["code"], security=settings.security, now=at).code


@pytest.fixture
async def site(conn, settings):
    """A water point in a campaign that requires presence, a neighbour, and a member."""
    station = await create_station(conn, name="相山公园派水点", kind="water_point")
    other = await create_station(conn, name="南湖公园派水点", kind="water_point", lat=LAT + 0.001)
    campaign = await create_campaign(
        conn, [station["id"], other["id"]], presence_required=True, daily_quota=5
    )
    await set_stock(conn, station["id"], 10)
    await set_stock(conn, other["id"], 10)
    member_id, token = await create_member_with_token(conn, settings)
    return SimpleNamespace(
        station=station,
        other=other,
        campaign=campaign,
        member_id=member_id,
        token=token,
        code=code_for(station, settings),
    )


# --- the codes, on a fake clock -----------------------------------------------------------


def test_hotp_is_rfc_6238s_sha256_totp():
    """RFC 6238 appendix B, HMAC-SHA-256, eight digits, 30 s steps."""
    seed = b"12345678901234567890123456789012"
    vectors = {59: "46119246", 1111111109: "68084774", 1234567890: "91819424"}
    for at, expected in vectors.items():
        assert presence.hotp(seed, presence.step_at(at), digits=8) == expected


def test_current_and_previous_step_accepted_two_steps_old_refused(settings):
    security = settings.security
    station = {"code": "BHF4A9"}
    now = code_at(station, settings, T0)
    assert len(now) == 6 and now.isdigit()
    presence.verify("BHF4A9", now, security=security, now=T0)
    presence.verify("BHF4A9", now, security=security, now=T0 + 24)  # same step
    presence.verify("BHF4A9", now, security=security, now=T0 + 30)  # one step later
    previous = code_at(station, settings, T0 - 30)
    presence.verify("BHF4A9", previous, security=security, now=T0)
    two_steps_old = code_at(station, settings, T0 - 60)
    assert len({now, previous, two_steps_old}) == 3
    with pytest.raises(PresenceCodeInvalid) as refused:
        presence.verify("BHF4A9", two_steps_old, security=security, now=T0)
    assert refused.value.code == "presence_code_invalid"
    with pytest.raises(PresenceCodeInvalid):
        presence.verify("BHF4A9", now, security=security, now=T0 + 60)
    with pytest.raises(PresenceCodeInvalid):  # a code of the next step is not yet shown
        presence.verify("BHF4A9", code_at(station, settings, T0 + 30), security=security, now=T0)


def test_another_stations_code_and_malformed_codes_refused(settings):
    security = settings.security
    theirs = presence.current_code("K7Q2MX", security=security, now=T0).code
    assert theirs != presence.current_code("BHF4A9", security=security, now=T0).code
    for code in (theirs, "12345", "1234567", "abcdef", ""):
        with pytest.raises(PresenceCodeInvalid):
            presence.verify("BHF4A9", code, security=security, now=T0)


def test_secrets_come_from_the_server_key_not_from_the_database(settings):
    other_key = settings.security.model_copy(
        update={"pii_hash_key": SecretStr("another-server-key")}
    )
    mine = presence.station_secret("BHF4A9", security=settings.security)
    assert mine != presence.station_secret("BHF4A9", security=other_key)
    assert mine != presence.station_secret("K7Q2MX", security=settings.security)


def test_typed_blanks_and_the_scanned_presence_qr_code():
    assert presence.normalize(" 123 456 ") == "123456"
    assert presence.normalize("  ") is None
    url = "http://127.0.0.1:8000/s/BHF4A9?k=k1&sig=abc&p=654321"
    assert presence.from_scanned(url) == "654321"
    assert presence.from_scanned("http://127.0.0.1:8000/s/BHF4A9?k=k1&sig=abc") is None
    assert presence.given(url, None) == "654321"
    assert presence.given(url, "111 111") == "111111"


# --- claims decided on the fake clock -----------------------------------------------------


async def decided(conn, settings, site, *, presence_code: str | None, now: float) -> dict:
    """One claim checked at ``now`` and decided by the database; its answer or refusal."""
    request = claims.claim_request(
        token_digest=tokens.token_hash(site.token),
        idempotency_key=str(uuid.uuid4()),
        code=site.code,
        lat=LAT,
        lng=LNG,
        crs=None,
        security=settings.security,
        visit_resolution=settings.h3.visit_location,
        presence_code=presence_code,
        now=now,
    )
    [answer] = await claims.decide(conn, [request])
    try:
        return {"granted": claims.outcome(answer).body}
    except StationsError as refusal:
        return {"code": refusal.code}


async def test_fake_clock_current_code_granted_old_and_foreign_codes_refused(conn, settings, site):
    granted = await decided(
        conn, settings, site, presence_code=code_at(site.station, settings, T0), now=T0
    )
    assert granted["granted"]["station"]["id"] == site.station["id"]
    assert len(granted["granted"]["claim_code"]) == 7

    # Read at the end of its step, sent during the next: still granted.
    late = code_at(site.station, settings, T0 + 20)
    assert "granted" in await decided(conn, settings, site, presence_code=late, now=T0 + 35)

    old = code_at(site.station, settings, T0 - 60)
    with pytest.raises(PresenceCodeInvalid):
        await decided(conn, settings, site, presence_code=old, now=T0)
    foreign = code_at(site.other, settings, T0)
    with pytest.raises(PresenceCodeInvalid):
        await decided(conn, settings, site, presence_code=foreign, now=T0)
    assert await conn.fetchval("SELECT count(*) FROM claims") == 2


async def test_claim_without_a_code_refused_where_the_campaign_requires_one(conn, settings, site):
    refused = await decided(conn, settings, site, presence_code=None, now=T0)
    assert refused == {"code": "presence_code_required"}
    await conn.execute("UPDATE campaigns SET presence_required = false")
    assert "granted" in await decided(conn, settings, site, presence_code=None, now=T0)


# --- the API --------------------------------------------------------------------------------


async def post_claim(
    client: httpx.AsyncClient, token: str, code: str, presence_code: str | None = None, **kw
) -> httpx.Response:
    body: dict = {"code": code, "lat": LAT, "lng": LNG}
    if presence_code is not None:
        body["presence_code"] = presence_code
    key = kw.get("key") or str(uuid.uuid4())
    return await client.post(
        "/v1/claims", json=body, headers=bearer(token) | {"Idempotency-Key": key}
    )


async def test_api_refusals_name_their_rule(client, settings, site):
    missing = await post_claim(client, site.token, site.code)
    assert missing.status_code == 403
    assert missing.json() == {
        "detail": "presence_code_required: this campaign hands out water only to members at "
        "the station: scan the rotating code on the station's screen (or type its six "
        "digits) and claim again",
        "code": "presence_code_required",
    }
    now = presence.clock()
    old = await post_claim(client, site.token, site.code, code_at(site.station, settings, now - 60))
    assert old.status_code == 403
    assert old.json()["code"] == "presence_code_invalid"
    assert old.json()["detail"].startswith("presence_code_invalid: this is not the code")
    foreign = await post_claim(client, site.token, site.code, code_at(site.other, settings, now))
    assert (foreign.status_code, foreign.json()["code"]) == (403, "presence_code_invalid")
    typo = await post_claim(client, site.token, site.code, "12a456")
    assert (typo.status_code, typo.json()["code"]) == (403, "presence_code_invalid")

    current = code_at(site.station, settings, now)
    granted = await post_claim(client, site.token, site.code, f"{current[:3]} {current[3:]}")
    assert granted.status_code == 201, granted.text


async def test_the_presence_screens_qr_code_is_enough_to_claim(client, conn, settings, site):
    operator = await create_staff(conn, station_ids=[site.station["id"]])
    shown = await client.get(
        f"/v1/stations/{site.station['id']}/presence", headers=bearer(operator)
    )
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["station_code"] == site.station["code"] and body["step_s"] == 30
    assert body["qr_text"] == f"{site.code}&p={body['code']}"
    assert body["qr_svg"].startswith("<svg")
    granted = await post_claim(client, site.token, body["qr_text"])
    assert granted.status_code == 201, granted.text

    # The page the QR code opens says the campaign wants the code.
    scanned = await client.get(body["qr_text"].removeprefix("http://127.0.0.1:8000"))
    assert scanned.status_code == 200 and scanned.json()["presence_required"] is True


async def test_presence_page_is_for_the_stations_own_staff(client, conn, site):
    stranger = await create_staff(conn, station_ids=[site.other["id"]])
    refused = await client.get(
        f"/v1/stations/{site.station['id']}/presence", headers=bearer(stranger)
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "not_station_operator")
    member = await client.get(
        f"/v1/stations/{site.station['id']}/presence", headers=bearer(site.token)
    )
    assert member.status_code == 403


async def test_a_retry_after_the_code_changed_gets_the_first_answer(
    client, settings, site, monkeypatch
):
    code = code_at(site.station, settings, presence.clock())
    key = str(uuid.uuid4())
    first = await post_claim(client, site.token, site.code, code, key=key)
    assert first.status_code == 201, first.text
    later = presence.clock() + 120
    monkeypatch.setattr(presence, "clock", lambda: later)
    again = await post_claim(client, site.token, site.code, code, key=key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    fresh = await post_claim(client, site.token, site.code, code)
    assert fresh.json()["code"] == "presence_code_invalid"


async def test_check_ins_carry_the_code_where_a_campaign_requires_it(client, settings, site):
    async def check_in(presence_code=None):
        body: dict = {"code": site.code, "lat": LAT, "lng": LNG}
        if presence_code is not None:
            body["presence_code"] = presence_code
        return await client.post("/v1/checkins", json=body, headers=bearer(site.token))

    missing = await check_in()
    assert (missing.status_code, missing.json()["code"]) == (403, "presence_code_required")
    now = presence.clock()
    old = await check_in(code_at(site.station, settings, now - 60))
    assert (old.status_code, old.json()["code"]) == (403, "presence_code_invalid")
    done = await check_in(code_at(site.station, settings, now))
    assert done.status_code == 201, done.text
    assert done.json()["presence_verified"] is True


async def test_campaigns_take_and_change_the_rule(client, conn, settings):
    station = await create_station(conn, kind="water_point")
    admin = bearer(settings.security.admin_token.get_secret_value())
    created = await client.post(
        "/v1/campaigns",
        json={
            "name": "到站领水",
            "starts_on": "2026-06-01",
            "ends_on": "2026-08-31",
            "station_ids": [station["id"]],
            "presence_required": True,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["presence_required"] is True
    cid = created.json()["id"]
    changed = await client.patch(
        f"/v1/campaigns/{cid}", json={"presence_required": False}, headers=admin
    )
    assert changed.json()["presence_required"] is False
    kept = await client.patch(f"/v1/campaigns/{cid}", json={"daily_quota": 2}, headers=admin)
    assert kept.json()["presence_required"] is False
    wrong = await client.patch(
        f"/v1/campaigns/{cid}", json={"presence_required": "yes please"}, headers=admin
    )
    assert (wrong.status_code, wrong.json()["field"]) == (422, "presence_required")
