"""Which map the rider page draws: the nearest answer's markers for a catalog up to
``STATIONS_VECTOR_TILES_MAPS_FROM_STATIONS`` stations, the catalog's vector tiles above
it, decided per page request from the in-process index (so it follows the catalog)."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from api.main import create_app
from tests.factories import HUAIBEI_CENTRE, create_station

LAT, LNG = HUAIBEI_CENTRE
HTML = {"Accept": "text/html"}
PLUGIN = "leaflet.vectorgrid-1.3.0/Leaflet.VectorGrid.bundled.min.js"


def page_config(html: str) -> dict:
    return orjson.loads(
        html.split('<script type="application/json" id="config">')[1].split("</script>")[0]
    )


async def test_the_page_switches_to_the_vector_tiles_once_the_catalog_passes_the_threshold(
    settings, conn
):
    for i in range(3):
        await create_station(conn, name=f"驿站{i}", lat=LAT + i * 0.001, lng=LNG)
    threshold = settings.vector_tiles.model_copy(update={"maps_from_stations": 3})
    app = create_app(settings.model_copy(update={"vector_tiles": threshold}))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        at_threshold = page_config((await http.get("/", headers=HTML)).text)
        assert at_threshold["vector_tiles"] is None  # 3 stations: not more than 3

        await create_station(conn, name="驿站3", lat=LAT, lng=LNG + 0.001)
        for _ in range(100):  # the index hears of the new station through LISTEN/NOTIFY
            if len(app.state.search.index) == 4:
                break
            await asyncio.sleep(0.05)
        above = page_config((await http.get("/", headers=HTML)).text)
        assert above["vector_tiles"] == {
            "url": "/ogc/collections/stations/tiles/WebMercatorQuad/{z}/{y}/{x}",
            "plugin": f"/static/maps/vendor/{PLUGIN}",
            "stations_from_zoom": settings.vector_tiles.stations_from_zoom,
        }
        plugin = await http.get(above["vector_tiles"]["plugin"])
        assert plugin.status_code == 200 and b"VectorGrid" in plugin.content
        console = page_config((await http.get("/staff/", headers=HTML)).text)
        assert console["vector_tiles"] == above["vector_tiles"]
