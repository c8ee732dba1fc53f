"""Membership applications (扫码入会) through the real app and database.

A rider applies without an account; a second application from the same phone updates
the open one; bad input is a 422 naming the field and stores nothing; applications
are counted per address. The administrator of the branch that owns the district lists
and decides them; everyone else gets 403. Approval makes a member who signs in at once;
a declined applicant sees the reason.
"""

from __future__ import annotations

import pytest

from stations.people import members
from tests.factories import (
    bearer,
    create_branches,
    create_member,
    create_member_with_token,
    create_staff,
    create_station,
    staff_session,
)

PHONE = "13912345678"
FORM = {
    "name": "王小明",
    "phone": PHONE,
    "occupation": "food_delivery",
    "employer": "美团",
    "district_code": "340603",
    "consent": True,
}


@pytest.fixture
async def staff(conn):
    await create_branches(
        conn, ("34", "安徽省总工会"), ("3406", "淮北市总工会"), ("6101", "西安市总工会")
    )
    station = await create_station(conn, district_code="340603")
    return {
        "city": await create_staff(conn, role="admin", branch="3406", name="淮北管理员"),
        "province": await create_staff(conn, role="admin", branch="34", name="省总管理员"),
        "other": await create_staff(conn, role="admin", branch="6101", name="西安管理员"),
        "planner": await create_staff(conn, role="planner", branch="3406", name="淮北规划"),
        "operator": await create_staff(conn, station_ids=[station["id"]], name="相山驿站"),
    }


async def apply(client, **changes):
    return await client.post("/v1/applications", json={**FORM, **changes})


async def test_an_application_is_stored_with_the_phone_hashed_and_a_reference(
    client, conn, settings
):
    response = await apply(client)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "open" and body["merged"] is False and body["submissions"] == 1
    assert len(body["reference"]) == 10
    row = await conn.fetchrow("SELECT * FROM membership_applications")
    assert bytes(row["phone_hash"]) == members.phone_hash(PHONE, settings.security)
    assert row["callback_phone"] == PHONE and row["name"] == "王小明"
    assert row["district_code"] == "340603" and row["employer"] == "美团"


async def test_a_second_application_from_the_same_phone_updates_the_open_one(client, conn):
    first = (await apply(client)).json()
    second = await apply(client, phone="+86 139-1234-5678", occupation="courier", employer="顺丰")
    assert second.status_code == 201
    body = second.json()
    assert body["merged"] is True and body["reference"] == first["reference"]
    assert body["submissions"] == 2
    rows = await conn.fetch("SELECT occupation, employer FROM membership_applications")
    assert [(r["occupation"], r["employer"]) for r in rows] == [("courier", "顺丰")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "王\x00小明"}, "name"),
        ({"employer": "美团\x07"}, "employer"),
        ({"name": "   "}, "name"),
        ({"phone": "12345"}, "phone"),
        ({"phone": "1391234\x005678"}, "phone"),
        ({"occupation": "astronaut"}, "occupation"),
        ({"district_code": "3406"}, "district_code"),
        ({"district_code": "34060\x00"}, "district_code"),
        ({"consent": False}, "consent"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    client, conn, changes, field
):
    response = await apply(client, **changes)
    assert response.status_code == 422, response.text
    # NUL and other control characters: the rule every body has (api.schemas.Input)
    plain = all(ch.isprintable() for value in changes.values() for ch in str(value))
    assert response.json()["code"] == ("invalid_parameter" if plain else "control_character")
    assert response.json()["field"] == field
    assert await conn.fetchval("SELECT count(*) FROM membership_applications") == 0


async def test_applications_are_counted_per_address(client, conn):
    for i in range(6):
        response = await apply(client, phone=f"1391234560{i}")
        assert response.status_code == 201
    response = await apply(client, phone="13912345699")
    assert response.status_code == 429
    assert response.json()["code"] == "too_many_attempts"
    assert int(response.headers["retry-after"]) >= 1
    assert await conn.fetchval("SELECT count(*) FROM membership_applications") == 6


async def test_the_branch_administrator_approves_and_the_member_signs_in_at_once(
    client, conn, staff
):
    reference = (await apply(client)).json()["reference"]
    listed = await client.get("/v1/applications", headers=bearer(staff["city"]))
    assert listed.status_code == 200
    [item] = listed.json()
    assert item["callback_phone"] == PHONE and item["branch_name"] == "淮北市总工会"
    approved = await client.post(
        f"/v1/applications/{item['id']}/approve", headers=bearer(staff["city"])
    )
    assert approved.status_code == 200, approved.text
    member_no = approved.json()["member_no"]
    assert member_no == f"RH340603{item['id']:06d}"
    row = await conn.fetchrow(
        "SELECT status, callback_phone, decided_by FROM membership_applications"
    )
    assert (row["status"], row["callback_phone"]) == ("approved", None)
    assert row["decided_by"] == "admin:淮北管理员"
    member = await conn.fetchrow("SELECT * FROM members WHERE member_no = $1", member_no)
    assert (member["name"], member["occupation"], member["district_code"]) == (
        "王小明",
        "food_delivery",
        "340603",
    )

    state = await client.post(
        "/v1/applications/lookup", json={"reference": reference.lower(), "phone": PHONE}
    )
    assert state.status_code == 200
    assert state.json()["status"] == "approved" and state.json()["member_no"] == member_no
    signed_in = await client.post("/v1/auth/member", json={"member_no": member_no, "phone": PHONE})
    assert signed_in.status_code == 201, signed_in.text

    again = await client.post(
        f"/v1/applications/{item['id']}/approve", headers=bearer(staff["province"])
    )
    assert again.status_code == 409 and again.json()["code"] == "application_decided"


async def test_a_declined_applicant_sees_the_reason(client, conn, staff):
    reference = (await apply(client)).json()["reference"]
    item_id = await conn.fetchval("SELECT id FROM membership_applications")
    declined = await client.post(
        f"/v1/applications/{item_id}/decline",
        json={"reason": "请携带身份证到相山区总工会现场办理"},
        headers=bearer(staff["province"]),
    )
    assert declined.status_code == 200, declined.text
    state = await client.post(
        "/v1/applications/lookup", json={"reference": reference, "phone": PHONE}
    )
    assert state.json()["status"] == "declined"
    assert state.json()["decline_reason"] == "请携带身份证到相山区总工会现场办理"
    assert state.json()["member_no"] is None
    wrong = await client.post(
        "/v1/applications/lookup", json={"reference": reference, "phone": "13900000000"}
    )
    assert wrong.status_code == 404 and wrong.json()["code"] == "application_not_found"
    empty = await client.post(
        f"/v1/applications/{item_id}/decline", json={"reason": " "}, headers=bearer(staff["city"])
    )
    assert empty.status_code == 422 and empty.json()["field"] == "reason"
    again = await client.post(
        f"/v1/applications/{item_id}/decline",
        json={"reason": "重复"},
        headers=bearer(staff["city"]),
    )
    assert again.status_code == 409 and again.json()["code"] == "application_decided"


async def test_everyone_but_the_branch_administrators_is_refused(client, conn, settings, staff):
    await apply(client)
    item_id = await conn.fetchval("SELECT id FROM membership_applications")
    other = await client.get("/v1/applications", headers=bearer(staff["other"]))
    assert other.status_code == 200 and other.json() == []
    _, member = await create_member_with_token(conn, settings)
    for token, code in (
        (staff["other"], "outside_branch"),
        (staff["planner"], "role_required"),
        (staff["operator"], "role_required"),
        (member, "role_required"),
    ):
        for action, body in (("approve", None), ("decline", {"reason": "不符合条件"})):
            response = await client.post(
                f"/v1/applications/{item_id}/{action}", json=body, headers=bearer(token)
            )
            assert response.status_code == 403, (action, code)
            assert response.json()["code"] == code
        if code == "role_required":
            listed = await client.get("/v1/applications", headers=bearer(token))
            assert listed.status_code == 403
    assert await conn.fetchval("SELECT status FROM membership_applications") == "open"
    anonymous = await client.get("/v1/applications")
    assert anonymous.status_code == 401


async def test_the_console_session_needs_the_csrf_token_to_decide(client, conn, staff):
    from stations.people import passwords

    await apply(client)
    item_id = await conn.fetchval("SELECT id FROM membership_applications")
    await passwords.set_password(conn, name="淮北管理员", password="admin password 1")
    csrf = await staff_session(client, "淮北管理员", "admin password 1")
    refused = await client.post(f"/v1/applications/{item_id}/approve")
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    approved = await client.post(f"/v1/applications/{item_id}/approve", headers=csrf)
    assert approved.status_code == 200


async def test_a_phone_that_is_a_member_already_is_not_made_a_second_member(
    client, conn, settings, staff
):
    await create_member(conn, settings, member_no="HB000042", phone=PHONE)
    await apply(client)
    item_id = await conn.fetchval("SELECT id FROM membership_applications")
    response = await client.post(
        f"/v1/applications/{item_id}/approve", headers=bearer(staff["city"])
    )
    assert response.status_code == 409
    assert response.json()["code"] == "already_member"
    assert response.json()["member_no"] == "HB000042"
    assert await conn.fetchval("SELECT count(*) FROM members") == 1


async def test_riders_pick_districts_with_the_branch_that_owns_them(client, conn, staff):
    await create_station(conn, district="杜集区", district_code="340602", name="杜集驿站")
    response = await client.get("/v1/applications/districts")
    assert response.status_code == 200
    assert response.json() == [
        {"district": "杜集区", "district_code": "340602", "branch_name": "淮北市总工会"},
        {"district": "相山区", "district_code": "340603", "branch_name": "淮北市总工会"},
    ]


async def test_wrong_lookups_are_counted_per_address(client, conn):
    reference = (await apply(client)).json()["reference"]
    for _ in range(6):
        wrong = await client.post(
            "/v1/applications/lookup", json={"reference": "ABCDEFGHJK", "phone": PHONE}
        )
        assert wrong.status_code == 404
    refused = await client.post(
        "/v1/applications/lookup", json={"reference": reference, "phone": PHONE}
    )
    assert refused.status_code == 429 and refused.json()["code"] == "too_many_attempts"
