"""Writes through the API: the importer's rules, history, and nearest that sees them at once."""

from __future__ import annotations

import pytest

from tests.fixtures.search.app import running_app
from tests.fixtures.search.stations import demo_city, insert_stations

NEW_STATION = {
    "name": "濉溪路爱心驿站",
    "kind": "water_point",
    "amenities": ["drinking_water", "shade"],
    "opening_hours": "Mo-Su 07:00-21:00",
    "lat": 33.70,
    "lng": 116.50,
    "reason": "新设派水点",
}


def _admin(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.security.admin_token.get_secret_value()}"}


async def _nearest_id(client, lat: float, lng: float) -> int | None:
    body = (
        await client.get("/v1/stations/nearest", params={"lat": lat, "lng": lng, "k": 1})
    ).json()
    return body["results"][0]["id"] if body["results"] else None


async def test_a_created_station_is_found_by_nearest_before_the_answer_returns(settings, conn):
    await insert_stations(conn, demo_city(200, seed=1))
    async with running_app(settings) as (_, client):
        response = await client.post("/v1/stations", json=NEW_STATION, headers=_admin(settings))
        assert response.status_code == 201, response.text
        created = response.json()
        assert response.headers["etag"] == '"1"'
        # No waiting for NOTIFY: the write was applied to the index before the answer.
        assert await _nearest_id(client, 33.70, 116.50) == created["id"]
        history = (await client.get(f"/v1/stations/{created['id']}/history")).json()
    assert history["items"][0]["action"] == "create"
    assert history["items"][0]["actor"] == "admin"
    assert history["items"][0]["reason"] == "新设派水点"


async def test_writes_use_the_importer_s_rules_and_need_a_writer(settings, conn):
    async with running_app(settings) as (_, client):
        anonymous = await client.post("/v1/stations", json=NEW_STATION)
        bad = await client.post(
            "/v1/stations",
            json={**NEW_STATION, "amenities": ["sauna"], "opening_hours": "every day"},
            headers=_admin(settings),
        )
        unknown_field = await client.post(
            "/v1/stations", json={**NEW_STATION, "colour": "red"}, headers=_admin(settings)
        )
    assert anonymous.status_code == 401
    assert bad.status_code == 422
    assert "sauna" in bad.json()["detail"] and "opening_hours" in bad.json()["detail"]
    assert unknown_field.status_code == 422


async def test_a_moved_station_is_found_at_its_new_place_and_stale_versions_are_refused(
    settings, conn
):
    rows = demo_city(150, seed=2)
    await insert_stations(conn, rows)
    target = next(r for r in rows if r["status"] == "active")["id"]
    async with running_app(settings) as (_, client):
        detail = await client.get(f"/v1/stations/{target}")
        version = detail.headers["etag"]
        moved = await client.patch(
            f"/v1/stations/{target}",
            json={"lat": 33.60, "lng": 116.40, "reason": "搬到新址"},
            headers={**_admin(settings), "If-Match": version},
        )
        assert moved.status_code == 200, moved.text
        assert await _nearest_id(client, 33.60, 116.40) == target
        stale = await client.patch(
            f"/v1/stations/{target}",
            json={"name": "又改名"},
            headers={**_admin(settings), "If-Match": version},
        )
        malformed = await client.patch(
            f"/v1/stations/{target}",
            json={"name": "又改名"},
            headers={**_admin(settings), "If-Match": "yesterday"},
        )
        missing = await client.patch(
            "/v1/stations/999999", json={"name": "无"}, headers=_admin(settings)
        )
    assert stale.status_code == 409
    assert malformed.status_code == 422 and malformed.json()["detail"].startswith("If-Match:")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("permanently", "status"), [(False, "temporarily_closed"), (True, "closed")]
)
async def test_closing_and_reopening_change_what_nearest_finds_at_once(
    settings, conn, permanently, status
):
    rows = demo_city(100, seed=3)
    await insert_stations(conn, rows)
    async with running_app(settings) as (_, client):
        created = (
            await client.post("/v1/stations", json=NEW_STATION, headers=_admin(settings))
        ).json()
        closed = await client.post(
            f"/v1/stations/{created['id']}:close",
            json={"reason": "装修", "permanently": permanently},
            headers=_admin(settings),
        )
        assert closed.status_code == 200, closed.text
        assert closed.json()["status"] == status
        assert await _nearest_id(client, 33.70, 116.50) != created["id"]
        reopened = await client.post(
            f"/v1/stations/{created['id']}:reopen",
            json={"reason": "装修完成"},
            headers=_admin(settings),
        )
        assert reopened.json()["status"] == "active"
        assert await _nearest_id(client, 33.70, 116.50) == created["id"]
        history = (await client.get(f"/v1/stations/{created['id']}/history")).json()
        no_reason = await client.post(
            f"/v1/stations/{created['id']}:close", json={}, headers=_admin(settings)
        )
    assert [h["reason"] for h in history["items"][:2]] == ["装修完成", "装修"]
    assert no_reason.status_code == 422
