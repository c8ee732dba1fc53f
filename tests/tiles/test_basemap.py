"""The local base map (``STATIONS_BASEMAP_FILE``) and the reference layer, through the API.

MBTiles and PMTiles files are written in the test (solid-colour PNG tiles); a tile comes
back byte for byte at its XYZ address (MBTiles stores rows from the south), a tile the
file lacks is ``204``, an address outside the grid ``404 tile_not_found``, and a file
that is not a tile set stops the app from starting with ``basemap_unreadable``.
"""

from __future__ import annotations

import gzip
import json

import orjson
import pytest

from api.main import create_app
from stations.errors import SetupError
from stations.settings import BasemapSettings, TileSettings
from tests.factories import HUAIBEI_CENTRE
from tests.tiles.basemap_files import tiles_around, write_mbtiles, write_pmtiles

LAT, LNG = HUAIBEI_CENTRE


@pytest.fixture
def tiles():
    return tiles_around(LAT, LNG, range(10, 13))


async def _client(settings, path):
    import httpx

    app = create_app(
        settings.model_copy(
            update={"tiles": TileSettings(url=None), "basemap": BasemapSettings(file=path)}
        )
    )
    return app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.parametrize("kind", ["mbtiles", "pmtiles"])
async def test_every_tile_of_the_file_is_served_at_its_xyz_address(
    settings, tmp_path, tiles, kind, conn
):
    write = write_mbtiles if kind == "mbtiles" else write_pmtiles
    path = write(tmp_path / f"streets.{kind}", tiles)
    app, http = await _client(settings, path)
    async with app.router.lifespan_context(app), http:
        for (z, x, y), data in tiles.items():
            answer = await http.get(f"/basemap/{z}/{x}/{y}")
            assert answer.status_code == 200, (z, x, y)
            assert answer.headers["content-type"] == "image/png"
            assert answer.content == data
        (z, x, y) = next(iter(tiles))
        assert (await http.get(f"/basemap/{z}/{x + 10}/{y}")).status_code == 204
        outside = await http.get("/basemap/3/8/0")
        assert outside.status_code == 404 and outside.json()["code"] == "tile_not_found"

        meta = (await http.get("/basemap/tilejson.json")).json()
        assert meta["tilejson"] == "3.0.0" and meta["format"] == "png"
        assert (meta["minzoom"], meta["maxzoom"]) == (10, 12)
        assert meta["attribution"] == "测试底图"
        assert meta["tiles"] == ["http://t/basemap/{z}/{x}/{y}"]

        # The pages draw it: their config points at the service's own tiles.
        page = (await http.get("/", headers={"Accept": "text/html"})).text
        config = orjson.loads(
            page.split('<script type="application/json" id="config">')[1].split("</script>")[0]
        )
        assert config["tiles"]["url"] == "/basemap/{z}/{x}/{y}"
        assert config["tiles"]["basemap"]["max_zoom"] == 12
        assert config["tiles"]["reference"] is None


async def test_a_file_that_is_not_a_tile_set_stops_the_app_with_why(settings, tmp_path):
    bad = tmp_path / "notes.mbtiles"
    bad.write_text("not a database")
    with pytest.raises(SetupError) as refused:
        create_app(settings.model_copy(update={"basemap": BasemapSettings(file=bad)}))
    assert refused.value.code == "basemap_unreadable"
    assert "notes.mbtiles" in refused.value.detail
    with pytest.raises(SetupError, match="no such file"):
        create_app(
            settings.model_copy(update={"basemap": BasemapSettings(file=tmp_path / "gone.pmtiles")})
        )


async def test_without_tiles_the_maps_get_the_reference_layer(client):
    missing = await client.get("/basemap/10/853/418")
    assert missing.status_code == 404 and missing.json()["code"] == "basemap_not_configured"

    answer = await client.get("/basemap/reference.geojson", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/geo+json"
    layer = answer.json()
    kinds: dict[str, set[str]] = {}
    for feature in layer["features"]:
        kinds.setdefault(feature["properties"]["kind"], set()).add(feature["properties"]["name"])
    assert {"淮北市（中心城区）", "西安市（中心城区）"} <= kinds["city"]
    assert {"相山区", "杜集区", "烈山区", "濉溪县"} <= kinds["district"]
    assert "淮海路" in kinds["road"]
    plain = await client.get("/basemap/reference.geojson", headers={"Accept-Encoding": "identity"})
    assert plain.json() == layer and "content-encoding" not in plain.headers
    assert len(gzip.compress(plain.content)) < len(plain.content)

    page = (await client.get("/", headers={"Accept": "text/html"})).text
    config = orjson.loads(
        page.split('<script type="application/json" id="config">')[1].split("</script>")[0]
    )
    assert config["tiles"]["url"] is None
    assert config["tiles"]["reference"] == "/basemap/reference.geojson"


@pytest.mark.parametrize("kind", ["png", "pbf"])
async def test_the_coverage_map_draws_a_raster_file_and_else_the_reference(
    settings, conn, tmp_path, kind
):
    from tests.fixtures.coverage.demo_city import build_demo_city
    from tests.tiles.basemap_files import vector_tiles_around

    await build_demo_city(conn, stations=10, demand=300)
    made = tiles_around if kind == "png" else vector_tiles_around
    path = write_mbtiles(tmp_path / f"{kind}.mbtiles", made(LAT, LNG, range(10, 12)), format=kind)
    app, http = await _client(settings, path)
    auth = {"Authorization": f"Bearer {settings.security.admin_token.get_secret_value()}"}
    async with app.router.lifespan_context(app), http:
        served = await http.get(
            "/maps/coverage", params={"city": "huaibei", "res": 7}, headers=auth
        )
        kept = await http.get(
            "/maps/coverage", params={"city": "huaibei", "res": 7, "assets": "inline"}, headers=auth
        )
    assert served.status_code == 200 and kept.status_code == 200
    district = json.dumps("相山区")
    # Served by the service, the map draws the raster file (folium draws no vector tiles);
    # a map kept as a file cannot reach the service: the reference outlines are inside.
    assert ("/basemap/{z}/{x}/{y}" in served.text) == (kind == "png")
    assert (district in served.text) == (kind == "pbf")
    assert "/basemap/" not in kept.text and district in kept.text
