"""Real GIS clients read /ogc from a real server: GDAL's OAPIF driver and OWSLib.

The app runs under uvicorn on the session's database with a few hundred stations of a
demo city; ``ogrinfo`` and ``ogr2ogr`` (Debian's ``gdal-bin``, installed by
``scripts/system-packages.sh test``) and OWSLib's ``Features`` read it over HTTP,
page by page, and what they read must be exactly what the database holds.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl, quote, urlsplit

import pyogrio
import pytest
from owslib.ogcapi.features import Features

from api.main import create_app
from stations.geo.crs import from_wgs84, parse_crs
from stations.geo.distance import GEOD
from tests.browser.chromium import serve
from tests.fixtures.search.stations import demo_city, insert_stations

STATIONS = 230
PAGE = 40  # several pages for every client


@pytest.fixture
async def service(conn, settings):
    await insert_stations(conn, demo_city(STATIONS, seed=18))
    # Some listings checked on site (GDAL types a field from the first page: a date-time
    # there makes it DateTime; newer GDAL reads the collection's `describedby` schema).
    await conn.execute(
        "UPDATE stations SET verified_at = timestamptz '2026-06-01 08:00+08' + id * interval '1 h'"
        " WHERE id % 3 = 0"
    )
    # A closed station is part of a GIS copy too.
    await conn.execute(
        "UPDATE stations SET status = 'closed' WHERE id = (SELECT min(id) FROM stations)"
    )
    app = create_app(settings)
    requests: list[str] = []

    async def recording(scope, receive, send):
        """The app, noting each request's path and query (what the client asked for)."""
        if scope["type"] == "http":
            requests.append(f"{scope['path']}?{scope['query_string'].decode()}")
        await app(scope, receive, send)

    async with serve(recording) as url:
        yield SimpleNamespace(url=f"{url}/ogc", requests=requests)


def _gdal(*args: str) -> str:
    done = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=120,
        env={"GDAL_HTTP_TIMEOUT": "60", "CPL_DEBUG": "OFF", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_ogrinfo_reports_every_station(service, conn):
    expected = await conn.fetchval("SELECT count(*) FROM stations")
    out = await asyncio.to_thread(
        _gdal,
        "ogrinfo",
        "-ro",
        "-so",
        f"OAPIF:{service.url}",
        "stations",
        "-oo",
        f"PAGE_SIZE={PAGE}",
    )
    assert re.search(r"^Feature Count: (\d+)$", out, re.MULTILINE).group(1) == str(expected)
    assert "Geometry: Point" in out
    for name in ("code: String", "name: String", "kind: String", "verified_at: DateTime"):
        assert name in out, out
    # Every feature read page by page: the last line counts what GDAL iterated over.
    listing = await asyncio.to_thread(
        _gdal,
        "ogrinfo",
        "-ro",
        "-al",
        "-q",
        f"OAPIF:{service.url}",
        "stations",
        "-oo",
        f"PAGE_SIZE={PAGE}",
    )
    ids = [int(i) for i in re.findall(r"^OGRFeature\(stations\):(\d+)$", listing, re.MULTILINE)]
    assert len(ids) == expected == STATIONS
    pages = [r for r in service.requests if r.startswith("/ogc/collections/stations/items?")]
    assert len(pages) >= -(-STATIONS // PAGE)  # page by page, by the `next` links


async def test_ogr2ogr_copies_exactly_the_water_points(service, conn, tmp_path: Path):
    out = tmp_path / "water.gpkg"
    await asyncio.to_thread(
        _gdal,
        "ogr2ogr",
        "-f",
        "GPKG",
        str(out),
        f"OAPIF:{service.url}",
        "stations",
        "-where",
        "kind='water_point'",
        "-oo",
        f"PAGE_SIZE={PAGE}",
    )
    rows = await conn.fetch(
        "SELECT code, ST_X(geom::geometry) AS lng, ST_Y(geom::geometry) AS lat "
        "FROM stations WHERE kind = 'water_point'"
    )
    assert len(rows) > PAGE  # more than one page
    asked = [r for r in service.requests if r.startswith("/ogc/collections/stations/items?")]
    # GDAL reads one first page to learn the fields, then, having found `kind` among the
    # items parameters of /ogc/api, filters on the server and follows the `next` links.
    filtered = [r for r in asked if "kind=water_point" in r]
    assert len(filtered) == -(-len(rows) // PAGE) and len(asked) == len(filtered) + 1, asked
    frame = pyogrio.read_dataframe(out)
    assert sorted(frame["code"]) == sorted(r["code"] for r in rows)
    assert set(frame["kind"]) == {"water_point"}
    by_code = {r["code"]: r for r in rows}
    worst = 0.0
    for code, point in zip(frame["code"], frame.geometry, strict=True):
        row = by_code[code]
        _, _, metres = GEOD.inv(row["lng"], row["lat"], point.x, point.y)
        worst = max(worst, metres)
    assert worst < 0.01  # identical positions (< 1 cm)


def _owslib_read(url: str) -> tuple[list[str], list[dict], int, int]:
    """Collections, then every item of `stations` page by page through OWSLib."""
    api = Features(url)
    collection_ids = [c["id"] for c in api.collections()["collections"]]
    features: list[dict] = []
    pages, matched = 0, -1
    extra: dict[str, str] = {}
    while True:
        page = api.collection_items("stations", limit=PAGE, **extra)
        pages += 1
        matched = page["numberMatched"]
        features.extend(page["features"])
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            return collection_ids, features, matched, pages
        extra = {"cursor": dict(parse_qsl(urlsplit(nxt[0]).query))["cursor"]}


async def test_owslib_lists_collections_and_pages_through_every_item(service, conn):
    collection_ids, features, matched, pages = await asyncio.to_thread(_owslib_read, service.url)
    assert collection_ids == ["stations", "water_points", "coverage-cells", "demand-cells"]
    ids = await conn.fetch("SELECT id FROM stations ORDER BY id")
    assert [f["id"] for f in features] == [r["id"] for r in ids]
    assert matched == len(ids) == STATIONS
    assert pages == -(-STATIONS // PAGE)


def _owslib_filtered(url: str, crs: str) -> tuple[list[dict], str]:
    api = Features(url)
    page = api.collection_items(
        "stations",
        limit=1000,
        filter="kind = 'water_point' AND status <> 'closed'",
        crs=crs,
    )
    return page["features"], api.response_headers.get("Content-Crs", "")


async def test_owslib_filters_with_cql2_and_reads_cgcs2000(service, conn):
    uri = "http://www.opengis.net/def/crs/EPSG/0/4490"
    features, content_crs = await asyncio.to_thread(_owslib_filtered, service.url, uri)
    rows = await conn.fetch(
        "SELECT id, ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng FROM stations "
        "WHERE kind = 'water_point' AND status <> 'closed' ORDER BY id"
    )
    assert [f["id"] for f in features] == [r["id"] for r in rows] and len(rows) > PAGE
    assert content_crs == f"<{uri}>"
    cgcs2000 = parse_crs("EPSG:4490")
    for feature, row in zip(features, rows, strict=True):
        lat, lng = (float(v) for v in from_wgs84(row["lat"], row["lng"], cgcs2000))
        assert feature["geometry"]["coordinates"] == pytest.approx([lat, lng], abs=1e-9)


async def test_gdal_reads_a_cql2_filter_given_in_its_url_and_a_where_it_checks_itself(
    service, conn
):
    """GDAL 3.6 writes no CQL2 of its own (a `-where` beyond the plain parameters it
    evaluates itself, over every page); a filter in the OAPIF URL's query is repeated on
    every request, so the server selects."""
    cql = quote("name LIKE '%派水%' AND status <> 'closed'", safe="")
    listing = await asyncio.to_thread(
        _gdal,
        "ogrinfo",
        "-ro",
        "-al",
        "-q",
        f"OAPIF:{service.url}/collections/stations?filter={cql}",
        "-oo",
        f"PAGE_SIZE={PAGE}",
    )
    ids = [int(i) for i in re.findall(r"^OGRFeature\(stations\):(\d+)$", listing, re.MULTILINE)]
    expected = await conn.fetch(
        "SELECT id FROM stations WHERE name LIKE '%派水%' AND status <> 'closed' ORDER BY id"
    )
    assert len(expected) > 0
    pages = [r for r in service.requests if r.startswith("/ogc/collections/stations/items?")]
    assert pages and all(f"filter={cql}" in r for r in pages), pages
    assert len(ids) == len(expected) > PAGE  # every page, each selected by the server

    service.requests.clear()
    listing = await asyncio.to_thread(
        _gdal,
        "ogrinfo",
        "-ro",
        "-al",
        "-q",
        f"OAPIF:{service.url}",
        "stations",
        "-where",
        "name LIKE '%派水%' AND status <> 'closed'",
        "-oo",
        f"PAGE_SIZE={PAGE}",
    )
    found = re.findall(r"^OGRFeature\(stations\):(\d+)$", listing, re.MULTILINE)
    assert len(found) == len(expected)
