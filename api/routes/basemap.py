"""Base maps without internet: a local tile file and a reference layer, served by the service.

``GET /basemap/{z}/{x}/{y}`` answers the tiles of ``STATIONS_BASEMAP_FILE`` (MBTiles or
PMTiles, raster or vector; :mod:`stations.tiles.basemap`), ``204`` where the file has no
tile, and ``GET /basemap/tilejson.json`` describes it. When no online tile layer
(``STATIONS_TILES_URL``) is set, the maps (the rider page, the staff console's planner
map, the coverage maps) draw it instead; with neither they draw
``GET /basemap/reference.geojson``, outlines and main roads from the project's own data
(:mod:`stations.tiles.reference`). All same-origin: the pages' CSP needs nothing more.
"""

from __future__ import annotations

import gzip
from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, FastAPI, Path, Request, Response

from maps.assets import STATIC_URL, VECTOR_GRID
from stations.errors import NotFound
from stations.settings import Settings, TileSettings
from stations.tiles.basemap import Basemap, BasemapInfo, is_gzipped, open_basemap
from stations.tiles.grid import Tile
from stations.tiles.reference import reference_layer

router = APIRouter(prefix="/basemap", tags=["base map"])

TILE_URL = "/basemap/{z}/{x}/{y}"
REFERENCE_URL = "/basemap/reference.geojson"
_CACHE = "public, max-age=86400"


def _basemap(request: Request) -> Basemap:
    basemap: Basemap | None = request.app.state.basemap
    if basemap is None:
        raise NotFound(
            "no base map file is configured (STATIONS_BASEMAP_FILE)", code="basemap_not_configured"
        )
    return basemap


def effective_tiles(settings: Settings, basemap: BasemapInfo | None) -> TileSettings:
    """The tile layer maps draw: the online one when set, else the local file's, else none."""
    if settings.tiles.url or basemap is None:
        return settings.tiles
    return TileSettings(
        url=TILE_URL,
        crs=settings.basemap.crs,
        attribution=basemap.attribution or basemap.name,
        max_zoom=settings.tiles.max_zoom,
    )


def map_layers(settings: Settings, basemap: BasemapInfo | None) -> dict[str, Any]:
    """What a page's map needs beyond the tile layer: the local file's native zooms and
    format, or the reference layer when there are no tiles at all."""
    if settings.tiles.url:
        return {"basemap": None, "reference": None}
    if basemap is not None:
        return {
            "basemap": {
                "format": basemap.format,
                "min_zoom": basemap.min_zoom,
                "max_zoom": basemap.max_zoom,
                # Vector base tiles are drawn with the same plugin as the catalog's.
                "plugin": f"{STATIC_URL}/vendor/{VECTOR_GRID}" if basemap.vector else None,
            },
            "reference": None,
        }
    return {"basemap": None, "reference": REFERENCE_URL}


@router.get("/tilejson.json", summary="The local base map's TileJSON (3.0.0)")
async def tilejson(request: Request) -> dict[str, Any]:
    info = _basemap(request).info
    doc: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": info.name,
        "attribution": info.attribution,
        "scheme": "xyz",
        "format": info.format,
        "tiles": [str(request.base_url).rstrip("/") + TILE_URL],
        "minzoom": info.min_zoom,
        "maxzoom": info.max_zoom,
    }
    if info.bounds:
        doc["bounds"] = list(info.bounds)
    if info.vector:
        doc["vector_layers"] = info.vector_layers
    return doc


@router.get(
    "/reference.geojson",
    summary="Outlines of cities and districts and the demo cities' main roads (WGS84)",
    description="The layer maps draw when there are no tiles: `kind` is city, district or road.",
)
async def reference(request: Request) -> Response:
    body, gzipped = _reference_bodies()
    headers = {"Cache-Control": _CACHE, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(gzipped, media_type="application/geo+json", headers=headers)
    return Response(body, media_type="application/geo+json", headers=headers)


@cache
def _reference_bodies() -> tuple[bytes, bytes]:
    """The layer as JSON, plain and gzipped (8.5 kB and 1.5 kB): on every map's first load."""
    body = orjson.dumps(reference_layer())
    return body, gzip.compress(body, 9, mtime=0)


@router.get(
    "/{z}/{x}/{y}",
    summary="One tile of the local base map (as stored: PNG, JPEG, WebP or vector pbf)",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}, "application/vnd.mapbox-vector-tile": {}}},
        204: {"description": "the file has no tile here"},
    },
)
async def tile(
    request: Request,
    z: Annotated[int, Path(description="zoom")],
    x: Annotated[int, Path(description="column, from the west")],
    y: Annotated[int, Path(description="row, from the north")],
) -> Response:
    basemap = _basemap(request)
    data = basemap.tile(Tile.parse(z, y, x))
    if data is None:
        return Response(status_code=204, headers={"Cache-Control": _CACHE})
    headers = {"Cache-Control": _CACHE}
    if basemap.info.vector and is_gzipped(data):
        headers["Content-Encoding"] = "gzip"
    return Response(data, media_type=basemap.info.media_type, headers=headers)


def install(app: FastAPI) -> None:
    """Open the configured base-map file (refused now, with why, if it cannot be served)."""
    settings: Settings = app.state.settings
    path = settings.basemap.file
    app.state.basemap = open_basemap(path) if path is not None else None
    info = app.state.basemap.info if app.state.basemap is not None else None
    # What every map draws under its data (read by the pages and the coverage maps).
    app.state.map_tiles = effective_tiles(settings, info)
    app.state.map_layers = map_layers(settings, info)
    app.include_router(router)
