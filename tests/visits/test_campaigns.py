"""Campaigns: the admin API and CLI, validation, stations taking part, prize pools."""

from __future__ import annotations

import json

import asyncpg
import pytest

from tests.factories import bearer, create_campaign, create_staff, create_station, run_cli


@pytest.fixture
def admin(settings) -> dict[str, str]:
    return bearer(settings.security.admin_token.get_secret_value())


async def test_admin_creates_campaign_with_defaults_stations_and_prizes(client, conn, admin):
    water = await create_station(conn, kind="water_point")
    response = await client.post(
        "/v1/campaigns",
        json={
            "name": "2025 夏季送清凉",
            "starts_on": "2025-07-01",
            "ends_on": "2025-08-31",
            "daily_start": "9:00",
            "daily_end": "18:30",
            "station_ids": [water["id"]],
            "prizes": [{"name": "夏日礼包", "total": 500, "probability": 0.05}],
        },
        headers=admin,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["daily_start"], body["daily_end"]) == ("09:00", "18:30")
    assert (body["daily_quota"], body["geofence_m"], body["stations"]) == (1, 300, 1)
    assert body["status"] == "active"
    assert [(p["name"], p["total"], p["remaining"]) for p in body["prizes"]] == [
        ("夏日礼包", 500, 500)
    ]
    listed = await client.get("/v1/campaigns", headers=admin)
    assert [c["id"] for c in listed.json()] == [body["id"]]


async def test_all_water_stations_adds_water_points_and_drinking_water_stations(
    client, conn, admin
):
    await create_station(conn, kind="water_point", amenities=[])
    await create_station(conn, kind="love_station", amenities=["drinking_water"])
    await create_station(conn, kind="love_station", amenities=["seating"])
    await create_station(conn, kind="water_point", status="closed")
    response = await client.post(
        "/v1/campaigns",
        json={
            "name": "全市派水",
            "starts_on": "2025-07-01",
            "ends_on": "2025-07-31",
            "all_water_stations": True,
        },
        headers=admin,
    )
    assert response.json()["stations"] == 2


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"ends_on": "2025-06-01"},
            {"detail": "ends_on must not be before starts_on", "code": "invalid_input"},
        ),
        (
            {"daily_start": "18:00", "daily_end": "09:00"},
            {"detail": "daily_end must be after daily_start", "code": "invalid_input"},
        ),
        (
            {"daily_start": "25:00"},
            {
                "detail": "daily_start: write local time as HH:MM (00:00 to 24:00)",
                "code": "invalid_parameter",
                "field": "daily_start",
            },
        ),
        (
            {"daily_quota": 0},
            {
                "detail": "daily_quota: Input should be greater than or equal to 1",
                "code": "invalid_parameter",
                "field": "daily_quota",
            },
        ),
        ({"station_ids": [999999]}, {"detail": "no station has this id", "code": "not_found"}),
    ],
)
async def test_invalid_campaigns_are_refused_with_the_rule(client, admin, conn, change, problem):
    body = {"name": "x", "starts_on": "2025-07-01", "ends_on": "2025-07-31", **change}
    response = await client.post("/v1/campaigns", json=body, headers=admin)
    assert response.status_code in (404, 422)
    assert response.json() == problem
    assert await conn.fetchval("SELECT count(*) FROM campaigns") == 0


async def test_duplicate_campaign_name_is_409(client, admin, conn):
    body = {"name": "送清凉", "starts_on": "2025-07-01", "ends_on": "2025-07-31"}
    assert (await client.post("/v1/campaigns", json=body, headers=admin)).status_code == 201
    again = await client.post("/v1/campaigns", json=body, headers=admin)
    assert again.status_code == 409
    assert again.json() == {
        "detail": "a campaign with this name exists; choose another name",
        "code": "conflict",
    }


async def test_patch_changes_only_what_is_sent_and_stations_move(client, conn, admin):
    first, second = await create_station(conn), await create_station(conn)
    campaign = await create_campaign(conn, [first["id"]], daily_quota=2)
    patched = await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"geofence_m": 150}, headers=admin
    )
    assert (patched.json()["geofence_m"], patched.json()["daily_quota"]) == (150, 2)
    moved = await client.post(
        f"/v1/campaigns/{campaign['id']}/stations",
        json={"add": [second["id"]], "remove": [first["id"]]},
        headers=admin,
    )
    assert moved.json() == [second["id"]]
    cancelled = await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"status": "cancelled"}, headers=admin
    )
    assert cancelled.json()["status"] == "cancelled"


async def test_operator_reads_campaigns_but_cannot_change_them(client, conn):
    station = await create_station(conn)
    campaign = await create_campaign(conn, [station["id"]])
    operator = await create_staff(conn, station_ids=[station["id"]])
    read = await client.get(f"/v1/campaigns/{campaign['id']}", headers=bearer(operator))
    assert read.status_code == 200
    write = await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"daily_quota": 5}, headers=bearer(operator)
    )
    assert write.status_code == 403


async def test_unknown_campaign_is_404(client, admin):
    response = await client.get("/v1/campaigns/4242", headers=admin)
    assert response.status_code == 404
    assert response.json() == {
        "detail": "no campaign has id 4242",
        "code": "campaign_not_found",
        "campaign_id": 4242,
    }


async def test_campaigns_and_prize_pools_are_never_deleted(conn):
    campaign = await create_campaign(conn, [])
    with pytest.raises(asyncpg.RestrictViolationError, match="campaigns rows are never deleted"):
        await conn.execute("DELETE FROM campaigns WHERE id = $1", campaign["id"])


async def test_prize_pool_remaining_can_never_go_negative_or_exceed_total(conn):
    from stations.visits.campaigns import PrizeSpec

    campaign = await create_campaign(conn, [], prizes=[PrizeSpec("礼包", 2, 0.5)])
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("UPDATE prize_pools SET remaining = -1")
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("UPDATE prize_pools SET remaining = 3")
    assert campaign["prizes"][0]["remaining"] == 2


async def test_cli_creates_lists_and_cancels_a_campaign(conn, settings):
    station = await create_station(conn, kind="water_point")
    code, out, err = await run_cli(
        settings,
        "campaigns",
        "create",
        "夏季送清凉",
        "--from",
        "2025-07-01",
        "--to",
        "2025-08-31",
        "--hours",
        "10:00-18:00",
        "--quota",
        "2",
        "--station",
        station["code"],
        "--prize",
        "夏日礼包:500:0.05",
    )
    assert code == 0, err
    created = json.loads(out)
    assert (created["daily_start"], created["daily_quota"], created["stations"]) == (
        "10:00",
        2,
        1,
    )
    assert created["prizes"][0]["probability"] == 0.05
    code, out, _ = await run_cli(settings, "campaigns", "list")
    assert "夏季送清凉" in out and "10:00-18:00 quota 2" in out
    code, out, _ = await run_cli(settings, "campaigns", "cancel", str(created["id"]))
    assert out.strip() == f"campaign {created['id']} cancelled"
    code, _, err = await run_cli(
        settings,
        "campaigns",
        "create",
        "坏",
        "--from",
        "2025-07-01",
        "--to",
        "2025-07-02",
        "--prize",
        "礼包:many:0.1",
    )
    assert code == 1
    assert err.strip() == (
        "error: prize '礼包:many:0.1': write it as name:total:probability, e.g. 夏日礼包:500:0.05"
    )


async def test_cli_creates_a_campaign_that_requires_the_presence_code(conn, settings):
    station = await create_station(conn, kind="water_point")
    code, out, err = await run_cli(
        settings,
        "campaigns",
        "create",
        "到站领水",
        "--from",
        "2025-07-01",
        "--to",
        "2025-08-31",
        "--station",
        station["code"],
        "--presence-required",
    )
    assert code == 0, err
    assert json.loads(out)["presence_required"] is True
    default = await create_campaign(conn, [station["id"]])
    assert default["presence_required"] is False
