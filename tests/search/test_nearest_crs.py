"""GCJ-02 and BD-09 at the boundary: same stations in, coordinates that convert back out."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from stations.geo import crs
from tests.factories import admin_headers
from tests.fixtures.search.app import running_app
from tests.fixtures.search.stations import demo_city, insert_stations

GEOD = Geod(ellps="WGS84")
CONVERT_IN = {
    "gcj02": crs.wgs84_to_gcj02,
    "bd09": lambda a, b: crs.gcj02_to_bd09(*crs.wgs84_to_gcj02(a, b)),
}


def _points(n: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    return list(
        zip(
            rng.uniform(33.85, 34.0, n).tolist(),
            rng.uniform(116.7, 116.95, n).tolist(),
            strict=True,
        )
    )


@pytest.mark.parametrize("name", ["gcj02", "bd09"])
async def test_a_chinese_datum_point_finds_the_same_stations_as_its_wgs84_twin(
    settings, conn, name
):
    await insert_stations(conn, demo_city(800, seed=81))
    named = crs.parse_crs(name)
    async with running_app(settings) as (_, client):
        for lat, lng in _points(150, seed=82):
            m_lat, m_lng = (float(v) for v in CONVERT_IN[name](lat, lng))
            plain = (
                await client.get("/v1/stations/nearest", params={"lat": lat, "lng": lng, "k": 5})
            ).json()
            shifted = (
                await client.get(
                    "/v1/stations/nearest", params={"lat": m_lat, "lng": m_lng, "k": 5, "crs": name}
                )
            ).json()
            assert shifted["crs"] == name
            assert [r["id"] for r in shifted["results"]] == [r["id"] for r in plain["results"]]
            for mine, theirs in zip(shifted["results"], plain["results"], strict=True):
                assert mine["distance_m"] == pytest.approx(theirs["distance_m"], abs=0.01)
                # Out: the answer's coordinates convert back to the stored WGS84 within 1 m.
                back_lat, back_lng = crs.point_to_wgs84(
                    mine["position"]["lat"], mine["position"]["lng"], named
                )
                _, _, error = GEOD.inv(
                    back_lng, back_lat, theirs["position"]["lng"], theirs["position"]["lat"]
                )
                assert error < 1.0
                assert mine["position"] != theirs["position"]  # it really was shifted


async def test_search_detail_batch_and_route_speak_gcj02_too(settings, conn):
    rows = demo_city(300, seed=83)
    await insert_stations(conn, rows)
    station = next(r for r in rows if r["status"] == "active")
    g_lat, g_lng = (float(v) for v in crs.wgs84_to_gcj02(station["lat"], station["lng"]))
    async with running_app(settings) as (_, client):
        detail = (await client.get(f"/v1/stations/{station['id']}?crs=gcj02")).json()
        assert detail["position"] == pytest.approx({"lat": g_lat, "lng": g_lng}, abs=1e-7)

        box = f"{g_lng - 0.0005},{g_lat - 0.0005},{g_lng + 0.0005},{g_lat + 0.0005}"
        found = (await client.get("/v1/stations", params={"bbox": box, "crs": "gcj02"})).json()
        assert station["id"] in [i["id"] for i in found["items"]]

        batch = (
            await client.post(
                "/v1/stations/nearest:batch",
                headers=admin_headers(settings),
                json={"points": [{"lat": g_lat, "lng": g_lng}], "k": 1, "crs": "gcj02"},
            )
        ).json()
        assert batch["answers"][0][0]["id"] == station["id"]
        assert batch["answers"][0][0]["distance_m"] == pytest.approx(0.0, abs=0.01)

        route = {
            "type": "LineString",
            "coordinates": [[g_lng - 0.002, g_lat], [g_lng + 0.002, g_lat]],
        }
        along = (
            await client.post(
                "/v1/stations/along-route", json={"route": route, "crs": "gcj02", "max_detour_m": 5}
            )
        ).json()
        hit = next(h for h in along["results"] if h["id"] == station["id"])
        assert hit["distance_off_route_m"] < 1.0
        assert hit["position"]["lat"] == pytest.approx(g_lat, abs=1e-7)


async def test_an_unknown_crs_is_refused_with_the_allowed_values(settings, conn):
    async with running_app(settings) as (_, client):
        response = await client.get("/v1/stations/nearest?lat=33.9&lng=116.8&crs=mars")
    assert response.status_code == 422
    assert (
        response.json()["detail"] == "crs: unknown CRS 'mars'; allowed values: wgs84, gcj02, bd09"
    )
