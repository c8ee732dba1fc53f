"""Coverage and demand cells as OGC API collections, for planners' GIS programs.

The same analysis as ``/v1/coverage/cells`` (one engine, one result), read page by page
as GIS clients read a collection, and through GDAL's OAPIF driver with a planner's token.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pyogrio
import pytest

from api.main import create_app
from tests.browser.chromium import serve
from tests.factories import create_staff
from tests.fixtures.coverage.demo_city import build_demo_city

REGION = {"city": "huaibei", "res": "8"}


@pytest.fixture
def auth(settings):
    return {"Authorization": f"Bearer {settings.security.admin_token.get_secret_value()}"}


@pytest.fixture
async def city(conn):
    await build_demo_city(conn, stations=12, demand=400)


async def reference_cells(client, auth) -> list[dict]:
    """What the planner's coverage API says about the same region."""
    response = await client.get("/v1/coverage/cells", params=REGION, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["features"]


async def all_pages(client, path: str, params: dict, headers: dict) -> tuple[list[dict], int]:
    """Every feature, following the ``next`` links; and how many pages that took."""
    features: list[dict] = []
    response = await client.get(path, params=params, headers=headers)
    pages = 0
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        features += body["features"]
        assert body["numberReturned"] == len(body["features"])
        following = [link for link in body["links"] if link["rel"] == "next"]
        if not following:
            return features, pages
        url = urlsplit(following[0]["href"])
        response = await client.get(f"{url.path}?{url.query}", headers=headers)


async def test_the_collections_list_the_cells_and_say_what_they_need(client):
    listed = (await client.get("/ogc/collections")).json()["collections"]
    assert [c["id"] for c in listed] == [
        "stations",
        "water_points",
        "coverage-cells",
        "demand-cells",
    ]
    cells = (await client.get("/ogc/collections/coverage-cells")).json()
    assert "city" in cells["description"] and "planner" in cells["description"]
    rels = {link["rel"] for link in cells["links"]}
    assert {"self", "items", "describedby"} <= rels
    schema = (await client.get("/ogc/collections/demand-cells/schema")).json()
    assert set(schema["properties"]) == {"geometry", "cell", "demand", "band", "band_label"}


async def test_cells_need_a_planners_token(client, conn, city, settings):
    anonymous = await client.get("/ogc/collections/coverage-cells/items", params=REGION)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "unauthorized"
    member_like = await create_staff(conn, role="operator")
    refused = await client.get(
        "/ogc/collections/demand-cells/items",
        params=REGION,
        headers={"Authorization": f"Bearer {member_like}"},
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "role_required"
    planner = await create_staff(conn, role="planner")
    allowed = await client.get(
        "/ogc/collections/demand-cells/items",
        params=REGION,
        headers={"Authorization": f"Bearer {planner}"},
    )
    assert allowed.status_code == 200, allowed.text


async def test_paging_through_coverage_cells_gives_every_cell_once_in_id_order(client, city, auth):
    reference = await reference_cells(client, auth)
    features, pages = await all_pages(
        client, "/ogc/collections/coverage-cells/items", {**REGION, "limit": "25"}, auth
    )
    ids = [f["id"] for f in features]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert sorted(ids) == sorted(f["id"] for f in reference)
    assert pages == -(-len(reference) // 25) > 3
    by_id = {f["id"]: f for f in reference}
    for feature in features:
        assert feature["properties"] == by_id[feature["id"]]["properties"]
        assert feature["geometry"] == by_id[feature["id"]]["geometry"]
    first = await client.get(
        "/ogc/collections/coverage-cells/items", params={**REGION, "limit": "3"}, headers=auth
    )
    assert first.json()["numberMatched"] == len(reference)


async def test_demand_cells_are_the_cells_where_workers_are(client, city, auth):
    reference = await reference_cells(client, auth)
    with_demand = {
        f["id"]: f["properties"]["demand"] for f in reference if f["properties"]["demand"]
    }
    assert 0 < len(with_demand) < len(reference)
    features, _ = await all_pages(
        client, "/ogc/collections/demand-cells/items", {**REGION, "limit": "40"}, auth
    )
    assert {f["id"]: f["properties"]["demand"] for f in features} == with_demand


async def test_cells_in_cgcs2000_are_latitude_first_and_a_bbox_picks_by_centre(client, city, auth):
    plain = (
        await client.get(
            "/ogc/collections/coverage-cells/items", params={**REGION, "limit": "5"}, headers=auth
        )
    ).json()
    cgcs = await client.get(
        "/ogc/collections/coverage-cells/items",
        params={**REGION, "limit": "5", "crs": "http://www.opengis.net/def/crs/EPSG/0/4490"},
        headers=auth,
    )
    assert cgcs.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4490>"
    lng, lat = plain["features"][0]["geometry"]["coordinates"][0][0]
    assert cgcs.json()["features"][0]["geometry"]["coordinates"][0][0] == pytest.approx(
        [lat, lng], abs=1e-6
    )
    box = {**REGION, "bbox": "116.78,33.93,116.82,33.97", "limit": "1000"}
    inside = (
        await client.get("/ogc/collections/coverage-cells/items", params=box, headers=auth)
    ).json()
    assert 0 < inside["numberMatched"] < plain["numberMatched"]
    for feature in inside["features"]:
        ring = feature["geometry"]["coordinates"][0][:-1]
        centre_lng = sum(p[0] for p in ring) / len(ring)
        centre_lat = sum(p[1] for p in ring) / len(ring)
        assert 116.779 <= centre_lng <= 116.821 and 33.929 <= centre_lat <= 33.971


async def test_one_cell_and_a_missing_one(client, city, auth):
    page = (
        await client.get(
            "/ogc/collections/coverage-cells/items", params={**REGION, "limit": "2"}, headers=auth
        )
    ).json()
    cell = page["features"][1]
    one = await client.get(
        f"/ogc/collections/coverage-cells/items/{cell['id']}", params=REGION, headers=auth
    )
    assert one.status_code == 200
    assert one.json() == cell
    missing = await client.get(
        "/ogc/collections/coverage-cells/items/8831aa5a55fffff", params=REGION, headers=auth
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "feature_not_found"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "city"),
        ({"city": "huaibei", "district": "相山区"}, "city"),
        ({**REGION, "cursor": "zzz"}, "cursor"),
        ({**REGION, "limit": "0"}, "limit"),
        ({**REGION, "kind": "water_point"}, "kind"),
        ({**REGION, "res": "x"}, "res"),
        ({"city": "huaibei", "res": "12"}, "res"),
        ({**REGION, "bbox": "1,2,3"}, "bbox"),
    ],
)
async def test_bad_parameters_are_400_naming_them(client, city, auth, params, field):
    response = await client.get(
        "/ogc/collections/coverage-cells/items", params=params, headers=auth
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "bad_query_parameter"
    assert body["field"] == field


def _gdal(*args: str, token: str) -> str:
    done = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "GDAL_HTTP_TIMEOUT": "60",
            "GDAL_HTTP_HEADERS": f"Authorization: Bearer {token}",
            "CPL_DEBUG": "OFF",
            "PATH": "/usr/bin:/bin",
        },
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_gdal_reads_a_citys_cells_with_a_planners_token(
    conn, city, settings, auth, tmp_path: Path
):
    planner = await create_staff(conn, role="planner")
    async with serve(create_app(settings)) as url:
        info = await asyncio.to_thread(
            _gdal,
            "ogrinfo",
            "-ro",
            "-so",
            f"OAPIF:{url}/ogc?city=huaibei&res=8",
            "coverage-cells",
            "-oo",
            "PAGE_SIZE=30",
            token=planner,
        )
        out = tmp_path / "demand.gpkg"
        await asyncio.to_thread(
            _gdal,
            "ogr2ogr",
            "-f",
            "GPKG",
            str(out),
            f"OAPIF:{url}/ogc?city=huaibei&res=8",
            "demand-cells",
            "-oo",
            "PAGE_SIZE=30",
            token=planner,
        )
        async with httpx.AsyncClient(base_url=url, headers=auth) as http:
            pages = {
                name: (
                    await http.get(
                        f"/ogc/collections/{name}/items", params={**REGION, "limit": "10000"}
                    )
                ).json()
                for name in ("coverage-cells", "demand-cells")
            }
        # OWSLib, the Python client, with the same token.
        owslib = await asyncio.to_thread(_owslib_demand, f"{url}/ogc", planner)
    counts = {name: page["numberMatched"] for name, page in pages.items()}
    demand = {f["id"]: f["properties"]["demand"] for f in pages["demand-cells"]["features"]}
    assert re.search(r"^Feature Count: (\d+)$", info, re.MULTILINE).group(1) == str(
        counts["coverage-cells"]
    )
    assert "Geometry: Polygon" in info
    assert "band: String" in info and "demand: Real" in info
    copied = pyogrio.read_dataframe(out)
    assert len(copied) == counts["demand-cells"] > 0
    assert dict(zip(copied["cell"], copied["demand"], strict=True)) == demand
    assert copied.geometry.geom_type.eq("Polygon").all()
    assert {f["id"]: f["properties"]["demand"] for f in owslib} == demand


def _owslib_demand(url: str, token: str) -> list[dict]:
    """Every demand cell of the city through OWSLib, following its `next` links."""
    from owslib.ogcapi.features import Features

    api = Features(url, headers={"Authorization": f"Bearer {token}"})
    features: list[dict] = []
    extra: dict[str, str] = {}
    while True:
        page = api.collection_items("demand-cells", city="huaibei", res="8", limit=50, **extra)
        features += page["features"]
        following = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not following:
            return features
        extra = {"cursor": dict(parse_qsl(urlsplit(following[0]).query))["cursor"]}
