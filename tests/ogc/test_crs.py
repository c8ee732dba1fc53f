"""OGC API – Features Part 2 at /ogc: coordinates and bboxes in CRS84, EPSG:4326 (latitude
first), EPSG:4490 (CGCS2000) and the service's own GCJ-02 and BD-09, all converted by
stations/geo/crs.py; and GDAL asking the server for them."""

from __future__ import annotations

import asyncio
import re
import subprocess
from urllib.parse import quote

import pytest

from api.main import create_app
from stations.geo.crs import from_wgs84, parse_crs
from tests.browser.chromium import serve
from tests.factories import create_station

LAT, LNG = 33.9556123, 116.7983456
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
GCJ02 = "http://testserver/ogc/crs/gcj02"
BD09 = "http://testserver/ogc/crs/bd09"


def _expected(name: str) -> tuple[float, float]:
    lat, lng = from_wgs84(LAT, LNG, parse_crs(name))
    return float(lat), float(lng)


async def _item(client, station_id, crs):
    response = await client.get(
        f"/ogc/collections/stations/items/{station_id}?crs={quote(crs, safe='')}"
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-crs"] == f"<{crs}>"
    return response.json()["geometry"]["coordinates"]


async def test_each_offered_crs_converts_through_the_one_boundary(client, conn):
    station = await create_station(conn, lat=LAT, lng=LNG)
    assert await _item(client, station["id"], CRS84) == [LNG, LAT]
    assert await _item(client, station["id"], EPSG4326) == [LAT, LNG]  # latitude first
    lat, lng = _expected("EPSG:4490")
    assert await _item(client, station["id"], EPSG4490) == pytest.approx([lat, lng], abs=1e-12)
    lat, lng = _expected("gcj02")
    gcj = await _item(client, station["id"], GCJ02)
    assert gcj == pytest.approx([lng, lat], abs=1e-12)  # longitude first, as Amap gives it
    assert abs(gcj[0] - LNG) > 0.003  # hundreds of metres from WGS84 in China
    lat, lng = _expected("bd09")
    assert await _item(client, station["id"], BD09) == pytest.approx([lng, lat], abs=1e-12)


async def test_a_page_in_epsg_4326_is_latitude_first_with_its_content_crs(client, conn):
    for i in range(3):
        await create_station(conn, name=f"驿站{i}", lat=LAT + i * 0.01, lng=LNG)
    response = await client.get(f"/ogc/collections/stations/items?crs={quote(EPSG4326)}")
    assert response.headers["content-crs"] == f"<{EPSG4326}>"
    coords = [f["geometry"]["coordinates"] for f in response.json()["features"]]
    assert coords == [[pytest.approx(LAT + i * 0.01), LNG] for i in range(3)]
    default = await client.get("/ogc/collections/stations/items")
    assert default.headers["content-crs"] == f"<{CRS84}>"
    # The next link keeps the CRS.
    response = await client.get(f"/ogc/collections/stations/items?limit=1&crs={quote(GCJ02)}")
    nxt = next(link["href"] for link in response.json()["links"] if link["rel"] == "next")
    assert "crs=" + quote(GCJ02, safe="") in nxt


async def test_bbox_crs_reads_the_box_in_that_crs_and_axis_order(client, conn):
    await create_station(conn, name="里面", lat=LAT, lng=LNG)
    await create_station(conn, name="外面", lat=LAT + 0.05, lng=LNG)

    async def names(bbox, crs):
        response = await client.get(
            f"/ogc/collections/stations/items?bbox={bbox}&bbox-crs={quote(crs, safe='')}"
        )
        assert response.status_code == 200, response.text
        return [f["properties"]["name"] for f in response.json()["features"]]

    d = 0.001
    assert await names(f"{LNG - d},{LAT - d},{LNG + d},{LAT + d}", CRS84) == ["里面"]
    assert await names(f"{LAT - d},{LNG - d},{LAT + d},{LNG + d}", EPSG4326) == ["里面"]
    # The same box in GCJ-02 lies hundreds of metres off: around the GCJ-02 position only.
    assert await names(f"{LNG - d},{LAT - d},{LNG + d},{LAT + d}", GCJ02) == []
    lat, lng = _expected("gcj02")
    assert await names(f"{lng - d},{lat - d},{lng + d},{lat + d}", GCJ02) == ["里面"]
    response = await client.get(
        f"/ogc/collections/stations/items?bbox={LNG - d},{LAT - d},{LNG + d},{LAT + d}"
        f"&bbox-crs={quote(EPSG4326)}"
    )
    assert response.status_code == 400  # lng,lat read as lat,lng: a latitude over 90
    assert response.json()["field"] == "bbox"
    assert "minLat,minLon,maxLat,maxLon" in response.json()["detail"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("crs=EPSG:4326", "crs"),
        ("crs=http://www.opengis.net/def/crs/EPSG/0/3857", "crs"),
        ("crs=http://elsewhere.example/ogc/crs/gcj02", "crs"),
        ("bbox=1,2,3,4&bbox-crs=wgs84", "bbox-crs"),
    ],
)
async def test_a_crs_not_offered_is_a_400(client, query, field):
    response = await client.get(f"/ogc/collections/stations/items?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_query_parameter"
    assert response.json()["field"] == field
    response = await client.get(f"/ogc/collections/stations/items/1?{query}")
    assert response.status_code == 400


async def test_collections_list_the_crs_and_mark_the_service_own_as_not_epsg(client):
    collection = (await client.get("/ogc/collections/water_points")).json()
    assert collection["crs"] == [CRS84, EPSG4326, EPSG4490, GCJ02, BD09]
    assert collection["storageCrs"] == CRS84
    details = {d["uri"]: d for d in collection["crsDetails"]}
    assert details[GCJ02]["registered"] is False and "非 EPSG" in details[GCJ02]["title"]
    assert details[BD09]["registered"] is False
    assert details[EPSG4326]["registered"] is True
    assert details[EPSG4326]["axis_order"] == "lat,lon"
    own = await client.get("/ogc/crs/gcj02")
    assert own.status_code == 200 and own.json()["uri"] == GCJ02
    assert (await client.get("/ogc/crs/epsg4326")).status_code == 404
    conformance = (await client.get("/ogc/conformance")).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conformance


@pytest.fixture
async def served(conn, settings):
    rows = []
    for i in range(25):
        rows.append(await create_station(conn, name=f"驿站{i}", lat=LAT + i * 0.002, lng=LNG))
    async with serve(create_app(settings)) as url:
        yield url, rows


def _ogrinfo(url: str) -> str:
    done = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-q", f"OAPIF:{url}", "-oo", "PAGE_SIZE=10"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:4490", "gcj02"])
async def test_gdal_asks_the_server_for_a_crs_and_gets_its_coordinates(served, crs):
    """GDAL's OAPIF driver (3.6) repeats the query of its URL on every request: asking
    the collection with ``crs=`` returns every page in that CRS."""
    url, rows = served
    uri = {"EPSG:4326": EPSG4326, "EPSG:4490": EPSG4490, "gcj02": f"{url}/ogc/crs/gcj02"}[crs]
    listing = await asyncio.to_thread(
        _ogrinfo, f"{url}/ogc/collections/stations?crs={quote(uri, safe='')}"
    )
    points = [
        (float(a), float(b)) for a, b in re.findall(r"POINT \(([-\d.]+) ([-\d.]+)\)", listing)
    ]
    assert len(points) == len(rows) == 25
    target = parse_crs(crs)
    for row, (first, second) in zip(rows, points, strict=True):
        stored = row["original_position"]  # the WGS84 position the factory stored
        lat, lng = (float(v) for v in from_wgs84(stored["lat"], stored["lng"], target))
        expected = (lat, lng) if crs.startswith("EPSG") else (lng, lat)
        assert (first, second) == pytest.approx(expected, abs=1e-7)
