"""The coverage endpoints through the real app: auth, parameters, bodies."""

from __future__ import annotations

import numpy as np
import pytest

from stations.geo.crs import wgs84_to_gcj02
from tests.fixtures.coverage.demo_city import build_demo_city


@pytest.fixture
def auth(settings):
    return {"Authorization": f"Bearer {settings.security.admin_token.get_secret_value()}"}


async def test_coverage_needs_a_planner_or_admin_token(client):
    response = await client.get("/v1/coverage/summary", params={"city": "huaibei"})
    assert response.status_code == 401
    response = await client.get(
        "/maps/coverage", params={"city": "huaibei"}, headers={"Authorization": "Bearer x"}
    )
    assert response.status_code == 401


async def test_summary_reports_bands_target_worst_cells_and_districts(client, conn, auth):
    await build_demo_city(conn)
    response = await client.get(
        "/v1/coverage/summary", params={"city": "huaibei", "lang": "en", "top": 5}, headers=auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resolution"] == 9
    assert [b["name"] for b in body["bands"]][-1] == "beyond"
    assert body["bands"][-1]["cumulative_share"] == pytest.approx(1.0)
    assert body["target"]["name"] == "walk_15min"
    assert 0 < body["target"]["covered_share"] < 1
    assert len(body["worst_cells"]) == 5
    assert {d["district"] for d in body["districts"]["rows"]} >= {"相山区", "杜集区", "烈山区"}
    assert "straight-line" in body["notes"][0]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        (
            {"city": "huaibei", "res": 12},
            "res: H3 resolution 12 is not supported; allowed values: 7, 8, 9, 10",
        ),
        ({"bbox": "1,2,3"}, "bbox: '1,2,3' is not a bbox"),
        ({"city": "huaibei", "bbox": "116.7,33.8,116.9,34.0"}, "region: give exactly one of bbox"),
        ({}, "region: give exactly one of bbox, polygon, district or city"),
        ({"city": "huaibei", "amenity": "sauna"}, "amenity: unknown 'sauna'; allowed values:"),
        ({"city": "huaibei", "target": "car_5min"}, "target: 'car_5min' is not a band"),
        ({"city": "huaibei", "lang": "fr"}, "lang: Input should be 'zh' or 'en'"),
        ({"city": "huaibei", "crs": "EPSG:32650"}, "crs: EPSG:32650 is projected"),
        ({"city": "huaibei", "crs": "mars"}, "crs: unknown CRS 'mars'"),
        ({"city": "huaibei", "open_at": "2025-07-01T12:00:00"}, "open_at: give a time zone"),
        ({"city": "huaibei", "walk_kmh": "-1"}, "walk_kmh: must be > 0"),
        ({"polygon": "{not json"}, "polygon: not JSON"),
        ({"bbox": "70,15,140,55", "res": 10}, "res: the region has about"),
    ],
)
async def test_bad_parameters_are_422_naming_the_parameter(client, auth, params, detail):
    response = await client.get("/v1/coverage/summary", params=params, headers=auth)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(detail)


async def test_cells_are_geojson_hexagons_in_the_requested_crs(client, conn, auth):
    await build_demo_city(conn, stations=10, demand=300)
    params = {"city": "huaibei", "res": 7}  # a city, so the crs moves only the output
    wgs = await client.get("/v1/coverage/cells", params=params, headers=auth)
    assert wgs.status_code == 200
    assert wgs.headers["content-type"] == "application/geo+json"
    body = wgs.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) > 5
    first = body["features"][0]
    assert len(first["geometry"]["coordinates"][0]) == 7  # a closed hexagon
    assert set(first["properties"]) == {
        "cell",
        "band",
        "band_label",
        "distance_m",
        "demand",
        "nearest_station_id",
    }
    gcj = (
        await client.get("/v1/coverage/cells", params={**params, "crs": "gcj02"}, headers=auth)
    ).json()
    assert gcj["features"][0]["id"] == first["id"]
    lng, lat = first["geometry"]["coordinates"][0][0]
    glat, glng = wgs84_to_gcj02(np.array([lat]), np.array([lng]))
    assert gcj["features"][0]["geometry"]["coordinates"][0][0] == pytest.approx(
        [float(glng[0]), float(glat[0])], abs=2e-7
    )


async def test_suggestions_from_cells_and_from_an_uploaded_list(client, conn, auth):
    await build_demo_city(conn)
    params = {"city": "huaibei", "suggest": 3}
    response = await client.get("/v1/coverage/suggestions", params=params, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [s["rank"] for s in body["sites"]] == [1, 2, 3]
    assert body["covered_share_after"] > body["covered_share_before"]
    assert "63.2%" in body["guarantee"]

    best = body["sites"][0]
    posted = await client.post(
        "/v1/coverage/suggestions",
        params={"city": "huaibei", "suggest": 2},
        json={
            "candidates": [
                {"id": "far", "lat": 33.83, "lng": 116.69},
                {"id": "shop", "name": "便利店", "lat": best["lat"], "lng": best["lng"]},
            ]
        },
        headers=auth,
    )
    assert posted.status_code == 200, posted.text
    sites = posted.json()["sites"]
    assert sites[0]["id"] == "shop" and sites[0]["gain"] == pytest.approx(best["gain"])
    bad = await client.post(
        "/v1/coverage/suggestions",
        params={"city": "huaibei"},
        json={"candidates": []},
        headers=auth,
    )
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("candidates: List should have at least 1 item")


async def test_map_page_loads_assets_from_the_service(client, conn, auth):
    await build_demo_city(conn, stations=8, demand=200)
    response = await client.get(
        "/maps/coverage", params={"city": "huaibei", "suggest": 2}, headers=auth
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<script src="/static/maps/vendor/leaflet-1.9.3/leaflet.js"></script>' in page
    for path in (
        "leaflet-1.9.3/leaflet.js",
        "leaflet-1.9.3/leaflet.css",
        "leaflet.markercluster-1.1.0/leaflet.markercluster.js",
    ):
        asset = await client.get(f"/static/maps/vendor/{path}")
        assert asset.status_code == 200 and len(asset.content) > 500
    inline = await client.get(
        "/maps/coverage",
        params={"city": "huaibei", "assets": "inline", "download": "true"},
        headers=auth,
    )
    assert "attachment" in inline.headers["content-disposition"]
    assert "/static/maps" not in inline.text
    assert "Leaflet 1.9.3" in inline.text
