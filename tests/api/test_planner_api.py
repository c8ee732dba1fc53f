"""The planner's coverage endpoints as the staff console uses them: with the session
cookie (branch-scoped, CSRF on the candidate ranking), the regions a planner may pick,
the band areas the console draws, and the downloads (gaps CSV, cells GeoParquet).
Bearer tokens keep working as before; a token in the query string stays refused."""

from __future__ import annotations

import csv
import io

import geopandas
import pytest

from tests.factories import (
    bearer,
    create_branches,
    create_member_with_token,
    create_staff,
    staff_session,
)
from tests.fixtures.coverage.demo_city import build_demo_city

PASSWORD = "planner password 1"
CODES = {"相山区": "340603", "杜集区": "340602", "烈山区": "340604"}
DISTRICT = {"district": "相山区", "res": 8}


@pytest.fixture
async def city(conn, settings):
    """The demo city with district codes, two city branches and their planners."""
    await build_demo_city(conn)
    for name, code in CODES.items():
        await conn.execute("UPDATE stations SET district_code = $2 WHERE district = $1", name, code)
    await create_branches(conn, ("3406", "淮北市总工会"), ("6101", "西安市总工会"))
    await create_staff(conn, role="planner", name="淮北规划", branch="3406", password=PASSWORD)
    await create_staff(conn, role="planner", name="西安规划", branch="6101", password=PASSWORD)


async def test_the_session_cookie_opens_coverage_within_the_branch(client, city):
    csrf = await staff_session(client, "淮北规划", PASSWORD)
    for path in ("/v1/coverage/summary", "/v1/coverage/areas", "/maps/coverage"):
        response = await client.get(path, params={"city": "huaibei", "res": 8})
        assert response.status_code == 200, (path, response.text)
    body = {"candidates": [{"lat": 33.955, "lng": 116.80}, {"lat": 33.99, "lng": 116.78}]}
    refused = await client.post("/v1/coverage/suggestions", params=DISTRICT, json=body)
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    ranked = await client.post("/v1/coverage/suggestions", params=DISTRICT, json=body, headers=csrf)
    assert ranked.status_code == 200, ranked.text
    sites = ranked.json()["sites"]
    assert sites and all(s["gain"] > 0 for s in sites)
    assert [s["rank"] for s in sites] == list(range(1, len(sites) + 1))


async def test_another_branchs_planner_is_refused_the_district(client, city):
    await staff_session(client, "西安规划", PASSWORD)
    for path in ("/v1/coverage/summary", "/v1/coverage/areas", "/v1/coverage/gaps"):
        response = await client.get(path, params=DISTRICT)
        assert response.status_code == 403, path
        assert response.json()["code"] == "outside_branch"
    regions = (await client.get("/v1/coverage/regions")).json()
    # Huaibei's outline holds stations of 3406; Xi'an's holds none of another branch.
    assert [c["city"] for c in regions["cities"]] == ["xian"] and regions["districts"] == []


async def test_bearer_tokens_still_work_and_query_tokens_do_not(client, conn, settings, city):
    token = await create_staff(conn, role="planner", name="淮北规划二", branch="3406")
    response = await client.get("/v1/coverage/summary", params=DISTRICT, headers=bearer(token))
    assert response.status_code == 200
    response = await client.get("/maps/coverage", params={**DISTRICT, "token": token})
    assert response.status_code == 401
    _, member = await create_member_with_token(conn, settings)
    response = await client.get("/v1/coverage/regions", headers=bearer(member))
    assert response.status_code == 403 and response.json()["code"] == "role_required"


async def test_regions_list_what_the_branch_may_analyse(client, city):
    await staff_session(client, "淮北规划", PASSWORD)
    response = await client.get("/v1/coverage/regions")
    assert response.status_code == 200
    body = response.json()
    assert [c["city"] for c in body["cities"]] == ["huaibei", "xian"]  # Xi'an: no station
    assert body["cities"][0]["name_zh"] == "淮北市（中心城区）"
    assert {d["district"]: d["district_code"] for d in body["districts"]} == CODES
    assert body["target"] == "walk_15min"
    assert "beyond" not in [b["name"] for b in body["bands"]]


async def test_areas_are_the_bands_and_the_gaps_the_map_draws(client, city):
    await staff_session(client, "淮北规划", PASSWORD)
    params = {"city": "huaibei", "res": 8}
    areas = (await client.get("/v1/coverage/areas", params=params)).json()
    summary = (await client.get("/v1/coverage/summary", params=params)).json()
    bands = [f["properties"] for f in areas["features"] if f["properties"]["layer"] == "band"]
    gaps = [f["properties"] for f in areas["features"] if f["properties"]["layer"] == "gap"]
    present = [b["name"] for b in summary["bands"] if b["cells"] > 0]
    assert [b["band"] for b in bands] == present
    inside = {b["name"]: b["inside_target"] for b in summary["bands"]}
    assert [b["inside"] for b in bands] == [inside[b["band"]] for b in bands]
    outside = sum(b["demand"] for b in summary["bands"] if not b["inside_target"])
    assert outside > 0
    assert sum(g["demand"] for g in gaps) == pytest.approx(outside, abs=0.05 * len(gaps))
    assert areas["properties"]["bbox"][0] < 116.8 < areas["properties"]["bbox"][2]


async def test_downloads_gaps_csv_and_cells_geoparquet(client, city, tmp_path):
    await staff_session(client, "淮北规划", PASSWORD)
    params = {"city": "huaibei", "res": 8}
    gaps = (await client.get("/v1/coverage/gaps", params=params)).json()["gaps"]
    response = await client.get("/v1/coverage/gaps", params={**params, "f": "csv"})
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="coverage-gaps.csv"'
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(gaps) > 0
    assert [r["cell"] for r in rows] == [g["cell"] for g in gaps]
    assert float(rows[0]["uncovered_demand"]) == gaps[0]["uncovered_demand"]

    cells = (await client.get("/v1/coverage/cells", params=params)).json()["features"]
    response = await client.get("/v1/coverage/cells", params={**params, "f": "parquet"})
    assert response.status_code == 200
    assert "coverage-cells.parquet" in response.headers["content-disposition"]
    path = tmp_path / "cells.parquet"
    path.write_bytes(response.content)
    frame = geopandas.read_parquet(path)
    assert frame.crs.to_epsg() == 4326
    assert sorted(frame["cell"]) == sorted(c["properties"]["cell"] for c in cells)
    assert frame["demand"].sum() == pytest.approx(sum(c["properties"]["demand"] for c in cells))
