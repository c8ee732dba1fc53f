"""Maps as HTML pages: ``/maps/coverage`` and the vendored assets under ``/static/maps``.

The page loads its scripts and styles from this service (``assets=static``, the
default) or carries them inline (``assets=inline``: one file to take into a meeting
with no network; ``download=true`` sends it as an attachment).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.deps import ConnDep, ReadConnDep, SettingsDep
from api.routes.coverage import CoverageQueryDep, MinGainQuery, PlannerDep, run_query
from maps.assets import STATIC_URL, render_html
from maps.coverage import build_coverage_map
from stations.coverage.mapdata import load_map_stations
from stations.coverage.suggestions import suggest_sites
from stations.tiles.reference import reference_layer

router = APIRouter(prefix="/maps", tags=["maps"])


def mount_static(app: FastAPI) -> None:
    """Serve the vendored map assets (public: they are open-source libraries).

    They are the ``maps`` package's ``static`` folder, found wherever it is installed.
    """
    app.mount(STATIC_URL, StaticFiles(packages=[("maps", "static")]), name="map-assets")


@router.get("/coverage", response_class=HTMLResponse, summary="The coverage map (HTML)")
async def coverage_map(
    request: Request,
    query: CoverageQueryDep,
    conn: ConnDep,
    read: ReadConnDep,
    settings: SettingsDep,
    principal: PlannerDep,
    suggest: Annotated[int, Query(ge=0, le=200, description="suggested sites to mark")] = 0,
    min_gain: MinGainQuery = None,
    assets: Annotated[
        Literal["static", "inline"], Query(description="served by this service, or inlined")
    ] = "static",
    download: Annotated[bool, Query(description="send as a file to keep")] = False,
) -> HTMLResponse:
    result = await run_query(request, query, conn, settings, principal, read=read)
    now = datetime.now(UTC)
    stations = await load_map_stations(
        read, region=result.request.region, at=now, margin_m=result.bands.reach_m
    )
    suggestions = (
        await asyncio.to_thread(suggest_sites, result, n=suggest, min_gain=min_gain)
        if suggest
        else None
    )

    basemap = request.app.state.map_layers["basemap"]
    raster_basemap = assets == "static" and basemap is not None and basemap["format"] != "pbf"

    def render() -> str:
        m = build_coverage_map(
            result,
            stations=stations,
            suggestions=suggestions,
            lang=query.lang,
            # The local base map is served by this service: a map kept as a file
            # (inlined) cannot reach it, and folium draws raster tiles only; those
            # draw the reference layer instead.
            tiles=request.app.state.map_tiles if raster_basemap else settings.tiles,
            reference=reference_layer(),
        )
        return render_html(m, assets=assets)

    page = await asyncio.to_thread(render)
    headers = (
        {"Content-Disposition": 'attachment; filename="coverage-map.html"'} if download else None
    )
    return HTMLResponse(page, headers=headers)
