"""Administrators manage their branch's staff accounts: create, one-time link, disable."""

from __future__ import annotations

import pytest

from tests.factories import (
    bearer,
    create_branches,
    create_member_with_token,
    create_staff,
    create_station,
)


@pytest.fixture
async def branch(conn):
    await create_branches(
        conn, ("34", "安徽省总工会"), ("3406", "淮北市总工会"), ("6101", "西安市总工会")
    )
    own = await create_station(conn, district_code="340603", name="相山公园派水点")
    other = await create_station(
        conn, district_code="610113", name="雁塔派水点", lat=34.26, lng=108.94
    )
    return {
        "admin": await create_staff(conn, role="admin", branch="3406", name="淮北管理员"),
        "other": await create_staff(conn, role="admin", branch="6101", name="西安管理员"),
        "own": own,
        "foreign": other,
    }


async def test_an_operator_account_gets_a_link_that_sets_its_password(client, conn, branch):
    created = await client.post(
        "/v1/accounts",
        json={
            "name": "相山公园",
            "role": "operator",
            "station_codes": [branch["own"]["code"].lower()],
        },
        headers=bearer(branch["admin"]),
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["station_codes"] == [branch["own"]["code"]] and not account["has_password"]
    assert (
        await conn.fetchval("SELECT count(*) FROM api_tokens WHERE account_id = $1", account["id"])
        == 0
    )
    link = await client.post(
        f"/v1/accounts/{account['id']}/password-link", headers=bearer(branch["admin"])
    )
    assert link.status_code == 201, link.text
    path = link.json()["path"]
    assert path.startswith("/staff/#/set-password?token=")
    token = path.split("token=", 1)[1]
    done = await client.post(
        "/v1/auth/staff/password", json={"token": token, "password": "xiangshan park 2026"}
    )
    assert done.status_code in (200, 201), done.text
    signed = await client.post(
        "/v1/auth/staff", json={"name": "相山公园", "password": "xiangshan park 2026"}
    )
    assert signed.status_code == 201


async def test_accounts_stay_within_the_branch(client, conn, branch, settings):
    admin, other = bearer(branch["admin"]), bearer(branch["other"])
    foreign = await client.post(
        "/v1/accounts",
        json={"name": "雁塔", "role": "operator", "station_ids": [branch["foreign"]["id"]]},
        headers=admin,
    )
    assert foreign.status_code == 403 and foreign.json()["code"] == "outside_branch"
    above = await client.post(
        "/v1/accounts", json={"name": "省规划", "role": "planner", "branch": "34"}, headers=admin
    )
    assert above.status_code == 403 and above.json()["code"] == "outside_branch"
    planner = await client.post(
        "/v1/accounts", json={"name": "淮北规划", "role": "planner"}, headers=admin
    )
    assert planner.status_code == 201 and planner.json()["branch"] == "3406"
    twice = await client.post(
        "/v1/accounts", json={"name": "淮北规划", "role": "planner"}, headers=admin
    )
    assert twice.status_code == 409
    pid = planner.json()["id"]
    for path in (f"/v1/accounts/{pid}/password-link", f"/v1/accounts/{pid}/disable"):
        refused = await client.post(path, headers=other)
        assert refused.status_code == 403 and refused.json()["code"] == "outside_branch"
    _, member = await create_member_with_token(conn, settings)
    operator = await create_staff(conn, station_ids=[branch["own"]["id"]])
    for token in (member, operator):
        refused = await client.post(f"/v1/accounts/{pid}/disable", headers=bearer(token))
        assert refused.status_code == 403 and refused.json()["code"] == "role_required"
    disabled = await client.post(f"/v1/accounts/{pid}/disable", headers=admin)
    assert disabled.status_code == 200 and disabled.json()["disabled_at"] is not None
    link = await client.post(f"/v1/accounts/{pid}/password-link", headers=admin)
    assert link.status_code == 422
    me = await conn.fetchval("SELECT id FROM accounts WHERE name = '淮北管理员'")
    myself = await client.post(f"/v1/accounts/{me}/disable", headers=admin)
    assert myself.status_code == 422
    missing = await client.post("/v1/accounts/999999/disable", headers=admin)
    assert missing.status_code == 404 and missing.json()["code"] == "account_not_found"
