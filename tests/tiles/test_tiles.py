"""Vector tiles of the stations: decoded as a map client decodes them, counted against SQL."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import h3
import httpx
import mapbox_vector_tile
import pytest

from api.main import create_app
from stations.errors import NotFound
from stations.settings import Settings
from stations.tiles.grid import Layout, Tile
from tests.factories import create_station, set_stock

MVT = "application/vnd.mapbox-vector-tile"
BASE = "/ogc/collections/stations/tiles/WebMercatorQuad"


def _centre_of_street_tile(lat: float, lng: float) -> tuple[float, float]:
    side = 1 << 12
    x = int((lng + 180.0) / 360.0 * side)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * side)
    west, south, east, north = Tile(12, y, x).bounds()
    return (south + north) / 2, (west + east) / 2


# A cluster in the middle of one zoom-12 tile of Huaibei, and one station in Xi'an.
HUAIBEI = _centre_of_street_tile(33.9562, 116.7983)


def tile_of(lat: float, lng: float, z: int) -> tuple[int, int, int]:
    """(z, y, x) of the tile holding a point (the slippy-map formula)."""
    side = 1 << z
    x = int((lng + 180.0) / 360.0 * side)
    rad = math.radians(lat)
    y = int((1.0 - math.asinh(math.tan(rad)) / math.pi) / 2.0 * side)
    return z, y, x


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data)


@pytest.fixture
async def tiles_app(settings: Settings, conn) -> AsyncIterator:
    """Make the stations first, then start the app (its index loads them at start)."""
    stations = []
    for i in range(12):
        stations.append(
            await create_station(
                conn,
                name=f"驿站{i}",
                lat=HUAIBEI[0] + 0.008 * (i % 4 - 1.5),
                lng=HUAIBEI[1] + 0.01 * (i // 4 - 1),
                kind="water_point" if i % 3 == 0 else "love_station",
                opening_hours="24/7" if i % 2 == 0 else "off",
            )
        )
    stations.append(await create_station(conn, name="西安驿站", lat=34.2655, lng=108.9542))
    stations.append(
        await create_station(
            conn,
            name="暂停驿站",
            lat=HUAIBEI[0] - 0.02,
            lng=HUAIBEI[1] + 0.02,
            status="temporarily_closed",
            opening_hours="24/7",
        )
    )
    # closed for good: on no map
    await create_station(conn, name="已撤驿站", lat=HUAIBEI[0], lng=HUAIBEI[1], status="closed")
    await set_stock(conn, stations[0]["id"], 7)
    await set_stock(conn, stations[3]["id"], 5)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.made = stations
        yield app


@pytest.fixture
async def http(tiles_app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=tiles_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def test_tile_grid_refuses_tiles_outside_it() -> None:
    assert Tile.parse(0, 0, 0).bounds() == pytest.approx((-180, -85.0511, 180, 85.0511), abs=1e-4)
    for z, y, x in ((23, 0, 0), (-1, 0, 0), (3, 8, 0), (3, 0, 8), (3, -1, 0)):
        with pytest.raises(NotFound):
            Tile.parse(z, y, x)


async def test_street_tile_has_the_stations_with_popup_fields(http, conn) -> None:
    z, y, x = tile_of(*HUAIBEI, 12)
    answer = await http.get(f"{BASE}/{z}/{y}/{x}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == MVT
    layer = decode(answer.content)["stations"]
    west, south, east, north = Tile(z, y, x).bounds()
    expected = await conn.fetch(
        "SELECT id FROM stations WHERE status <> 'closed'"
        " AND ST_Intersects(geom::geometry, ST_MakeEnvelope($1, $2, $3, $4, 4326))",
        west,
        south,
        east,
        north,
    )
    ids = {f["id"] for f in layer["features"]}
    assert {r["id"] for r in expected} == ids
    names = {f["properties"]["name"] for f in layer["features"]}
    assert len(ids) == 13, names  # all but Xi'an
    by_name = {f["properties"]["name"]: f["properties"] for f in layer["features"]}
    assert by_name["驿站0"]["open_now"] is True and by_name["驿站0"]["water_left"] == 7
    assert by_name["驿站1"]["open_now"] is False and "water_left" not in by_name["驿站1"]
    assert by_name["驿站0"]["kind"] == "water_point"
    assert by_name["暂停驿站"]["open_now"] is False  # 24/7 but temporarily closed
    assert set(by_name["驿站0"]) >= {"code", "name", "kind", "status", "amenities", "open_now"}


@pytest.mark.parametrize("z", [4, 7, 10])
async def test_cells_count_every_station_once_across_tiles(http, conn, z) -> None:
    """Summed over every tile of a zoom, the cells hold each station exactly once."""
    points = [
        (r["lat"], r["lng"])
        for r in await conn.fetch(
            "SELECT ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng FROM stations"
            " WHERE status <> 'closed'"
        )
    ]
    tiles = {tile_of(lat, lng, z) for lat, lng in points}
    # neighbours too: a cell's centre may fall in a tile without a station of its own
    around = {(z, y + dy, x + dx) for _, y, x in tiles for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    total = 0
    water_points = 0
    open_now = 0
    water_left = 0
    res = Layout().resolution(z)
    assert res == {4: 1, 7: 4, 10: 9}[z]
    cells = set()
    for tz, ty, tx in sorted(around):
        answer = await http.get(f"{BASE}/{tz}/{ty}/{tx}")
        assert answer.status_code in (200, 204), answer.text
        if answer.status_code == 204:
            continue
        for feature in decode(answer.content)["cells"]["features"]:
            p = feature["properties"]
            assert p["resolution"] == res
            assert p["h3"] not in cells, "a cell drawn in two tiles"
            cells.add(p["h3"])
            total += p["stations"]
            water_points += p["water_points"]
            open_now += p["open_now"]
            water_left += p["water_left"]
    shown = "SELECT count(*) FROM stations WHERE status <> 'closed'"
    assert total == await conn.fetchval(shown) == 14
    assert water_points == await conn.fetchval(
        "SELECT count(*) FROM stations WHERE kind = 'water_point'"
    )
    assert open_now == 7  # the active stations with 24/7: 驿站0, 2, 4, 6, 8, 10 and Xi'an
    assert water_left == 12
    assert cells == {h3.latlng_to_cell(lat, lng, res) for lat, lng in points}


async def test_empty_tile_is_204_and_etag_gives_304(http) -> None:
    empty = await http.get(f"{BASE}/5/31/0")  # the Pacific
    assert empty.status_code == 204 and "etag" in empty.headers
    z, y, x = tile_of(*HUAIBEI, 6)
    first = await http.get(f"{BASE}/{z}/{y}/{x}")
    assert first.status_code == 200
    again = await http.get(f"{BASE}/{z}/{y}/{x}", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


async def test_bad_tiles_are_404_with_a_code(http) -> None:
    for path in ("23/0/0", "3/8/0", "3/0/9"):
        answer = await http.get(f"{BASE}/{path}")
        assert answer.status_code == 404, path
        assert answer.json()["code"] == "tile_not_found"
    answer = await http.get(f"{BASE}/x/0/0")
    assert answer.status_code == 422


async def test_a_changed_station_shows_in_its_tile(http, tiles_app, conn) -> None:
    z, y, x = tile_of(*HUAIBEI, 12)
    first = await http.get(f"{BASE}/{z}/{y}/{x}")
    station = tiles_app.state.made[0]
    await conn.execute("UPDATE stations SET name = '改名驿站' WHERE id = $1", station["id"])
    for _ in range(100):  # the index hears of it through the catalog's change channel
        answer = await http.get(f"{BASE}/{z}/{y}/{x}")
        names = {f["properties"]["name"] for f in decode(answer.content)["stations"]["features"]}
        if "改名驿站" in names:
            break
        await asyncio.sleep(0.05)
    assert "改名驿站" in names
    assert answer.headers["etag"] != first.headers["etag"]


async def _tile_with(settings: Settings, **limits) -> httpx.Response:
    changed = settings.model_copy(
        update={"vector_tiles": settings.vector_tiles.model_copy(update=limits)}
    )
    app = create_app(changed)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            z, y, x = tile_of(*HUAIBEI, 12)
            return await client.get(f"{BASE}/{z}/{y}/{x}")


async def test_dense_tiles_draw_fine_cells_and_never_pass_the_limit(settings, conn) -> None:
    # 30 stations a few metres apart: over a limit of 20, the tile draws res-11 cells
    for i in range(30):
        await create_station(conn, name=f"密{i}", lat=HUAIBEI[0] + 0.00003 * i, lng=HUAIBEI[1])
    layers = decode((await _tile_with(settings, max_stations=20)).content)
    assert "stations" not in layers
    assert {f["properties"]["resolution"] for f in layers["cells"]["features"]} == {11}
    assert sum(f["properties"]["stations"] for f in layers["cells"]["features"]) == 30
    # long names past a 10 kB limit: cells again, and the tile stays within it
    for i in range(100):
        await create_station(
            conn, name=f"{'很长的名字' * 12}{i}", lat=HUAIBEI[0] - 0.00003 * i, lng=HUAIBEI[1]
        )
    answer = await _tile_with(settings, max_tile_bytes=10_000)
    assert answer.status_code == 200 and len(answer.content) <= 10_000
    assert "stations" not in decode(answer.content)
    # 400 more, 40 m apart: even as cells the tile would pass the limit, and says so
    for i in range(400):
        await create_station(
            conn,
            name=f"格{i}",
            lat=HUAIBEI[0] + 0.0004 * (i // 20),
            lng=HUAIBEI[1] + 0.0004 * (i % 20 + 1),
        )
    answer = await _tile_with(settings, max_tile_bytes=10_000)
    assert answer.status_code == 422
    assert answer.json()["code"] == "tile_too_large"
    assert answer.json()["limit"] == 10_000


async def test_documents_describe_the_tiles(http) -> None:
    tileset = (await http.get(BASE)).json()
    assert tileset["dataType"] == "vector"
    item = next(link for link in tileset["links"] if link["rel"] == "item")
    assert item["href"].endswith("/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}")
    assert {layer["id"] for layer in tileset["layers"]} == {"cells", "stations"}
    tms = (await http.get("/ogc/tileMatrixSets/WebMercatorQuad")).json()
    assert len(tms["tileMatrices"]) == 23
    assert tms["tileMatrices"][0]["scaleDenominator"] == pytest.approx(559082264.028717)
    # the OGC API's documents lead to them
    landing = (await http.get("/ogc?f=json")).json()
    assert any(link["href"].endswith("/ogc/tileMatrixSets") for link in landing["links"])
    collection = (await http.get("/ogc/collections/stations?f=json")).json()
    tiles_link = next(
        link for link in collection["links"] if link["rel"].endswith("tilesets-vector")
    )
    assert (await http.get(tiles_link["href"].replace("http://testserver", ""))).status_code == 200
    conformance = (await http.get("/ogc/conformance?f=json")).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conformance
    tilejson = (await http.get(f"{BASE}/tilejson.json")).json()
    assert tilejson["tilejson"] == "3.0.0"
    assert tilejson["tiles"][0].endswith("/{z}/{y}/{x}")
