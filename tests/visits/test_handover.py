"""Hand-over checks: the code alone is not enough; the member's QR code or digits are."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import segno

from stations.visits import claims, qr
from tests.factories import (
    bearer,
    claim_at,
    create_campaign,
    create_member,
    create_staff,
    create_station,
    member_token,
    run_tool,
    set_stock,
)


@pytest.fixture
async def desk(client, conn, settings):
    """Two members' claims at a water point, and the station's operator."""
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 10)
    people = []
    for number in ("HB20260417", "HB20269931"):
        member_id, member_no, _ = await create_member(conn, settings, member_no=number)
        token = await member_token(conn, member_id)
        granted = await claim_at(client, station, token, settings)
        assert granted.status_code == 201, granted.text
        people.append(
            SimpleNamespace(
                id=member_id,
                member_no=member_no,
                token=token,
                claim=granted.json()["claim_code"],
            )
        )
    operator = await create_staff(conn, station_ids=[station["id"]])
    return SimpleNamespace(station=station, first=people[0], second=people[1], operator=operator)


async def hand_over(client, desk, code, body=None):
    return await client.post(
        f"/v1/claims/{code}/handover", json=body, headers=bearer(desk.operator)
    )


async def test_the_typed_code_alone_is_not_enough(client, conn, desk):
    refused = await hand_over(client, desk, desk.first.claim)
    assert refused.status_code == 422
    assert refused.json()["code"] == "handover_proof_required"
    assert await conn.fetchval("SELECT count(*) FROM claims WHERE handed_over_at IS NOT NULL") == 0


async def test_the_code_and_the_last_four_of_the_member_number(client, desk):
    done = await hand_over(client, desk, desk.first.claim, {"member_digits": "0417"})
    assert done.status_code == 200, done.text
    assert done.json()["confirmed_now"] is True

    wrong = await hand_over(client, desk, desk.second.claim, {"member_digits": "0417"})
    assert wrong.status_code == 403
    assert wrong.json() == {
        "detail": "handover_digits_wrong: these are not the last four characters of the "
        "claim's member number; ask the member again, or scan the claim's QR code on their "
        "phone",
        "code": "handover_digits_wrong",
    }
    lower = await hand_over(client, desk, desk.second.claim.lower(), {"member_digits": "9931"})
    assert lower.status_code == 200


async def test_the_claim_qr_code_from_the_members_page(client, settings, desk, tmp_path):
    shown = await client.get(
        f"/v1/claims/{desk.first.claim}/qr.svg", headers=bearer(desk.first.token)
    )
    assert shown.status_code == 200
    expected = claims.handover_qr_text(desk.first.claim, desk.first.id, security=settings.security)
    assert expected.startswith(f"{desk.first.claim}.") and len(expected) == 7 + 1 + 16
    # The page's QR code draws exactly this text; a real decoder reads it back.
    assert shown.content == qr.render_claim_svg(expected)
    png = tmp_path / "claim.png"
    segno.make_qr(expected, error="m").save(str(png), scale=10)
    assert (await run_tool("zbarimg", "--quiet", "--raw", str(png))).strip() == expected

    done = await hand_over(client, desk, desk.first.claim, {"qr": expected})
    assert done.status_code == 200, done.text
    assert done.json()["claim_code"] == desk.first.claim


async def test_a_forged_or_borrowed_qr_code_is_refused(client, settings, desk):
    security = settings.security
    # Another member's tag on this claim's code: a QR code nobody's page showed.
    borrowed = claims.handover_qr_text(desk.first.claim, desk.second.id, security=security)
    refused = await hand_over(client, desk, desk.first.claim, {"qr": borrowed})
    assert refused.status_code == 403
    assert refused.json()["code"] == "handover_qr_invalid"
    # The second claim's genuine QR code sent for the first claim.
    other = claims.handover_qr_text(desk.second.claim, desk.second.id, security=security)
    refused = await hand_over(client, desk, desk.first.claim, {"qr": other})
    assert refused.json()["code"] == "handover_qr_invalid"
    # A made-up tag, and the bare code as a QR code (what the page showed before).
    for text in (f"{desk.first.claim}.AAAAAAAAAAAAAAAA", desk.first.claim):
        refused = await hand_over(client, desk, desk.first.claim, {"qr": text})
        assert (refused.status_code, refused.json()["code"]) == (403, "handover_qr_invalid")


async def test_wrong_guesses_are_throttled_per_claim(client, conn, desk):
    for guess in ("0000", "1111", "2222", "3333"):
        wrong = await hand_over(client, desk, desk.second.claim, {"member_digits": guess})
        assert wrong.status_code == 403
    # Past three free guesses even the right digits wait (and a locked claim stays so).
    waiting = await hand_over(client, desk, desk.second.claim, {"member_digits": "9931"})
    assert waiting.status_code == 429
    assert waiting.json()["code"] == "too_many_attempts"
    assert int(waiting.headers["Retry-After"]) >= 1
    # Another claim of the same station is not held up by them.
    done = await hand_over(client, desk, desk.first.claim, {"member_digits": "0417"})
    assert done.status_code == 200
    # Once the wait is over, the right digits confirm it.
    await conn.execute("UPDATE throttles SET blocked_until = now() - interval '1 second'")
    done = await hand_over(client, desk, desk.second.claim, {"member_digits": "9931"})
    assert done.status_code == 200, done.text


async def test_an_unknown_code_is_404_and_counts_against_the_account(client, desk):
    unknown = await hand_over(client, desk, "0000000", {"member_digits": "1234"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "claim_not_found")
