"""Edge cases that must answer cleanly: no stations, no demand, no cells."""

from __future__ import annotations

import pytest

from tests.factories import create_demand_point


@pytest.fixture
def auth(settings):
    return {"Authorization": f"Bearer {settings.security.admin_token.get_secret_value()}"}


async def test_an_area_with_no_stations_is_all_beyond_with_unknown_distances(client, conn, auth):
    await create_demand_point(conn, lat=33.95, lng=116.80, weight=2)
    params = {"bbox": "116.78,33.94,116.82,33.96", "res": 8}
    summary = await client.get("/v1/coverage/summary", params=params, headers=auth)
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["stations_used"] == 0
    assert body["target"]["covered_share"] == 0.0
    assert body["bands"][-1]["share"] == 1.0
    assert body["worst_cells"][0]["distance_m"] is None
    cells = await client.get("/v1/coverage/cells", params=params, headers=auth)
    assert all(f["properties"]["distance_m"] is None for f in cells.json()["features"])
    page = await client.get("/maps/coverage", params={**params, "suggest": 2}, headers=auth)
    assert page.status_code == 200
    sites = await client.get("/v1/coverage/suggestions", params=params, headers=auth)
    assert sites.json()["sites"][0]["gain"] == 2.0


async def test_an_area_too_small_to_hold_a_cell_centre_answers_with_zeros(client, auth):
    params = {"bbox": "116.80000,33.95000,116.80001,33.95001", "res": 7}
    summary = await client.get("/v1/coverage/summary", params=params, headers=auth)
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["cells"] == 0 and body["demand"]["total"] == 0
    assert body["target"]["covered_share"] is None
    page = await client.get("/maps/coverage", params={**params, "suggest": 3}, headers=auth)
    assert page.status_code == 200
    assert "该范围内暂无需求数据" in page.text
    sites = await client.get("/v1/coverage/suggestions", params=params, headers=auth)
    assert sites.status_code == 200 and sites.json()["sites"] == []
