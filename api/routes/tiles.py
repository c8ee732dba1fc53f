"""OGC API – Tiles for the stations: Mapbox Vector Tiles in WebMercatorQuad, and TileJSON.

``/ogc/collections/stations/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}``
answers a tile built by PostGIS (:mod:`stations.tiles`), with an ETag (a repeated
request with ``If-None-Match`` gets 304) and ``204`` for a tile with nothing in it.
The tileset document, the tile matrix set and a TileJSON document describe them for
clients (MapLibre, Leaflet plugins, QGIS, GDAL's MVT driver).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from stations.tiles.grid import MAX_ZOOM, Tile
from stations.tiles.service import TileService

router = APIRouter(prefix="/ogc", tags=["tiles"])

MVT = "application/vnd.mapbox-vector-tile"
TMS = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
EPSG_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
HALF_WORLD_M = 20037508.3427892
CELL_SIZE_0 = 156543.033928041  # metres per pixel of a 256-pixel tile at zoom 0

STATION_FIELDS = {
    "id": "station id (also the feature id)",
    "code": "station code, as on its poster",
    "name": "name",
    "name_en": "English name",
    "kind": "love_station or water_point",
    "status": "active, temporarily_closed or closed",
    "amenities": "what it offers, comma-separated",
    "open_now": "open now by its hours and status",
    "water_left": "bottles left today (absent when no water is stocked today)",
}
CELL_FIELDS = {
    "h3": "H3 cell index (hex)",
    "resolution": "H3 resolution of the cell",
    "stations": "stations in the cell",
    "water_points": "water points in the cell",
    "open_now": "stations open now",
    "water_left": "bottles left today in the cell",
}


def _service(request: Request) -> TileService:
    service: TileService = request.app.state.tiles
    return service


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _template(request: Request) -> str:
    return (
        f"{_base(request)}/collections/stations/tiles/{TMS}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    )


@router.get("/tileMatrixSets", summary="The tile matrix sets tiles are offered in")
async def tile_matrix_sets(request: Request) -> dict[str, Any]:
    return {
        "tileMatrixSets": [
            {
                "id": TMS,
                "title": "Web Mercator (Google Maps compatible)",
                "uri": TMS_URI,
                "links": [{"rel": "self", "href": f"{_base(request)}/tileMatrixSets/{TMS}"}],
            }
        ]
    }


@router.get(f"/tileMatrixSets/{TMS}", summary="WebMercatorQuad, zoom by zoom")
async def web_mercator_quad() -> dict[str, Any]:
    matrices = []
    for z in range(MAX_ZOOM + 1):
        cell = CELL_SIZE_0 / (1 << z)
        matrices.append(
            {
                "id": str(z),
                "scaleDenominator": cell / 0.00028,
                "cellSize": cell,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-HALF_WORLD_M, HALF_WORLD_M],
                "matrixWidth": 1 << z,
                "matrixHeight": 1 << z,
                "tileWidth": 256,
                "tileHeight": 256,
            }
        )
    return {
        "id": TMS,
        "title": "Web Mercator (Google Maps compatible)",
        "uri": TMS_URI,
        "crs": EPSG_3857,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
    }


@router.get("/collections/stations/tiles", summary="The stations' tilesets")
async def tilesets(request: Request) -> dict[str, Any]:
    here = f"{_base(request)}/collections/stations/tiles/{TMS}"
    return {
        "tilesets": [
            {
                "title": "Stations (vector tiles)",
                "dataType": "vector",
                "crs": EPSG_3857,
                "tileMatrixSetURI": TMS_URI,
                "links": [
                    {"rel": "self", "href": here, "type": "application/json"},
                    {
                        "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                        "href": f"{_base(request)}/tileMatrixSets/{TMS}",
                    },
                ],
            }
        ]
    }


@router.get(
    f"/collections/stations/tiles/{TMS}", summary="The stations' tileset in WebMercatorQuad"
)
async def tileset(request: Request) -> dict[str, Any]:
    layout = _service(request).layout
    street = layout.stations_from
    return {
        "title": "Stations (vector tiles)",
        "description": (
            f"Below zoom {street}, the layer 'cells': one point per H3 cell (res 1 at zoom 4 "
            f"and below, 2 to 5 up to zoom {layout.city_cells_from}, res 9 from it) with its "
            "counts; from zoom "
            f"{street}, the layer 'stations' (a tile with more than {layout.max_stations} "
            "stations draws res-11 cells instead)."
        ),
        "dataType": "vector",
        "crs": EPSG_3857,
        "tileMatrixSetURI": TMS_URI,
        "links": [
            {"rel": "self", "href": f"{_base(request)}/collections/stations/tiles/{TMS}"},
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                "href": f"{_base(request)}/tileMatrixSets/{TMS}",
            },
            {"rel": "item", "type": MVT, "href": _template(request), "templated": True},
            {
                "rel": "describedby",
                "type": "application/json",
                "href": f"{_base(request)}/collections/stations/tiles/{TMS}/tilejson.json",
            },
        ],
        "layers": [
            _layer("cells", CELL_FIELDS, 0, street - 1),
            _layer("stations", STATION_FIELDS, street, MAX_ZOOM),
        ],
    }


def _layer(name: str, fields: dict[str, str], low: int, high: int) -> dict[str, Any]:
    return {
        "id": name,
        "dataType": "vector",
        "geometryDimension": 0,
        "minTileMatrix": str(low),
        "maxTileMatrix": str(high),
        "propertiesSchema": {
            "type": "object",
            "properties": {key: {"description": text} for key, text in fields.items()},
        },
    }


@router.get(
    f"/collections/stations/tiles/{TMS}/tilejson.json", summary="TileJSON 3.0 of the stations"
)
async def tilejson(request: Request) -> dict[str, Any]:
    layout = _service(request).layout
    url = f"{_base(request)}/collections/stations/tiles/{TMS}/{{z}}/{{y}}/{{x}}"
    return {
        "tilejson": "3.0.0",
        "name": "Love Stations",
        "tiles": [url],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": [-180, -85.0511, 180, 85.0511],
        "vector_layers": [
            {"id": "cells", "fields": CELL_FIELDS, "minzoom": 0, "maxzoom": MAX_ZOOM},
            {"id": "stations", "fields": STATION_FIELDS, "minzoom": layout.stations_from},
        ],
    }


@router.get(
    f"/collections/stations/tiles/{TMS}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}",
    summary="One tile of the stations (Mapbox Vector Tile)",
    response_class=Response,
    responses={
        200: {"content": {MVT: {}}, "description": "the tile"},
        204: {"description": "nothing in this tile"},
        304: {"description": "the tile has not changed (If-None-Match)"},
    },
)
async def tile(
    request: Request,
    tileMatrix: Annotated[int, Path(description="zoom, 0-22")],
    tileRow: Annotated[int, Path(description="row, from the north")],
    tileCol: Annotated[int, Path(description="column, from the west")],
) -> Response:
    built = await _service(request).tile(Tile.parse(tileMatrix, tileRow, tileCol))
    max_age = int(_service(request).cache.max_age_s)
    headers = {"ETag": built.etag, "Cache-Control": f"public, max-age={max_age}"}
    if request.headers.get("if-none-match") == built.etag:
        return Response(status_code=304, headers=headers)
    if not built.data:
        return Response(status_code=204, headers=headers)
    return Response(built.data, media_type=MVT, headers=headers)
