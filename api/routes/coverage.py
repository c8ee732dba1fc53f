"""Coverage for planners: summary, cells (GeoJSON, GeoParquet), band areas, gaps (JSON,
CSV) and site suggestions.

Every endpoint takes the same region and analysis parameters (:class:`CoverageQuery`);
the planner role is required (admins may too), by bearer token or by the staff
console's session cookie (:mod:`api.auth`), and the region must lie within the
caller's union branch. ``GET /v1/coverage/regions`` lists the cities and districts a
planner may pick.
"""

from __future__ import annotations

import asyncio
import io
from datetime import datetime
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import shapely
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field

from api.auth import Principal, branch_of, require_roles
from api.deps import ConnDep, GeographicCrsDep, ReadConnDep, SettingsDep
from api.heavy import heavy_slot, take_share
from api.responses import GeoJSONResponse
from api.schemas import Input
from maps.coverage import band_geometries, gap_areas
from stations.coverage.analysis import (
    CoverageRequest,
    CoverageResult,
    analyse_coverage,
    resolve_region,
)
from stations.coverage.bands import band_set
from stations.coverage.export import (
    cells_geojson,
    gap_csv,
    gap_rows,
    shift_points,
    write_cells_geoparquet,
)
from stations.coverage.regions import estimated_cells, planner_regions
from stations.coverage.suggestions import MAX_CANDIDATES, candidates_from_frame, suggest_sites
from stations.errors import InvalidInput
from stations.geo.crs import WGS84, Crs, from_wgs84
from stations.people import branches
from stations.settings import Settings

router = APIRouter(prefix="/v1/coverage", tags=["coverage"])
PlannerDep = Annotated[Principal, Depends(require_roles("planner", "admin"))]


class CoverageQuery:
    """Region (exactly one of bbox, polygon, district, city) and analysis options."""

    def __init__(
        self,
        bbox: Annotated[
            str | None, Query(description="min_lng,min_lat,max_lng,max_lat (in `crs`)")
        ] = None,
        polygon: Annotated[
            str | None, Query(description="GeoJSON Polygon or MultiPolygon (in `crs`)")
        ] = None,
        district: Annotated[str | None, Query(description="a district named by stations")] = None,
        city: Annotated[str | None, Query(description="a city outline the service ships")] = None,
        res: Annotated[int | None, Query(description="H3 resolution 7–10")] = None,
        amenity: Annotated[
            list[str] | None, Query(description="only stations with every amenity listed")
        ] = None,
        open_at: Annotated[
            datetime | None, Query(description="only stations open then (ISO 8601 with zone)")
        ] = None,
        target: Annotated[str | None, Query(description="band of the service circle")] = None,
        walk_kmh: Annotated[float | None, Query(description="walking speed")] = None,
        ebike_kmh: Annotated[float | None, Query(description="e-bike speed")] = None,
        top: Annotated[int, Query(description="worst-served cells listed")] = 20,
        crs: GeographicCrsDep = WGS84,
        lang: Annotated[Literal["zh", "en"], Query(description="labels")] = "zh",
    ) -> None:
        self.bbox, self.polygon, self.district, self.city = bbox, polygon, district, city
        self.res = res
        self.amenities = tuple(amenity or ())
        self.open_at = open_at
        self.target, self.walk_kmh, self.ebike_kmh = target, walk_kmh, ebike_kmh
        self.top = top
        self.crs = crs
        self.lang = lang

    async def request(self, conn: Any, *, settings: Settings) -> CoverageRequest:
        region = await resolve_region(
            conn,
            bbox=self.bbox,
            polygon=self.polygon,
            district=self.district,
            city=self.city,
            crs=self.crs,
        )
        return CoverageRequest(
            region=region,
            res=settings.h3.coverage_default if self.res is None else self.res,
            bands=band_set(
                settings=settings.coverage,
                walk_kmh=self.walk_kmh,
                ebike_kmh=self.ebike_kmh,
                target=self.target,
            ),
            amenities=self.amenities,
            open_at=self.open_at,
            top_n=self.top,
        )


CoverageQueryDep = Annotated[CoverageQuery, Depends()]
MinGainQuery = Annotated[
    float | None,
    Query(ge=0, description="least demand a site must add (default 1% of the region's)"),
]


async def run_query(
    request: Request,
    query: CoverageQuery,
    conn: Any,
    settings: Settings,
    principal: Principal,
    *,
    read: Any,
) -> CoverageResult:
    """Resolve the request and analyse it (shared with the map route).

    A region must lie within the caller's union branch (no station of another in it).
    The caller's share is counted on the primary (``conn``); the region and the
    analysis are read through ``read`` (the read replica when there is one).
    """
    await take_share(conn, settings, principal)
    asked = await query.request(read, settings=settings)
    await branches.check_region(read, branch=branch_of(principal), region=asked.region)
    budget = settings.coverage.api_max_cells
    cells = estimated_cells(asked.region, asked.res)
    if cells > budget:
        raise InvalidInput(
            f"res: the region has about {cells:,} cells at resolution {asked.res}, more than "
            f"the {budget:,} one request may ask; use a coarser res, a smaller region, or the "
            "CLI with --engine dask",
            code="over_budget",
            parameter="res",
            limit=budget,
            asked=cells,
        )
    async with heavy_slot(request.app):
        return await analyse_coverage(read, request=asked, max_cells=budget)


@router.get("/summary", summary="Share of demand within each band, worst cells, districts")
async def coverage_summary(
    request: Request,
    query: CoverageQueryDep,
    conn: ConnDep,
    read: ReadConnDep,
    settings: SettingsDep,
    principal: PlannerDep,
) -> dict[str, Any]:
    result = await run_query(request, query, conn, settings, principal, read=read)
    summary = result.summary(query.lang)
    summary["worst_cells"] = shift_points(summary["worst_cells"], query.crs)
    summary["crs"] = str(query.crs)
    return summary


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get(
    "/cells",
    summary="Every cell of the region as a GeoJSON hexagon with band, distance and demand",
    description="`f=parquet` sends the same cells as GeoParquet (WGS84 always; QGIS, "
    "GDAL and geopandas read it), as a file to keep.",
    response_class=GeoJSONResponse,
)
async def coverage_cells(
    request: Request,
    query: CoverageQueryDep,
    conn: ConnDep,
    read: ReadConnDep,
    settings: SettingsDep,
    principal: PlannerDep,
    f: Annotated[Literal["geojson", "parquet"], Query(description="file format")] = "geojson",
    download: Annotated[bool, Query(description="send as a file to keep")] = False,
) -> Response:
    result = await run_query(request, query, conn, settings, principal, read=read)
    if f == "parquet":
        data = await asyncio.to_thread(_parquet_bytes, result, query.lang)
        return Response(
            data,
            media_type="application/vnd.apache.parquet",
            headers=_attachment("coverage-cells.parquet"),
        )
    body = await asyncio.to_thread(cells_geojson, result, crs=query.crs, lang=query.lang)
    headers = _attachment("coverage-cells.geojson") if download else None
    return GeoJSONResponse(body, headers=headers)


def _parquet_bytes(result: CoverageResult, lang: str) -> bytes:
    out = io.BytesIO()
    write_cells_geoparquet(result, out, lang=lang)
    return out.getvalue()


@router.get(
    "/gaps",
    summary="Cells with workers outside the service circle, most uncovered demand first",
    description="JSON rows, or `f=csv` as a file to keep (the same columns as the "
    "command line's `report-gaps.csv`).",
)
async def coverage_gaps(
    request: Request,
    query: CoverageQueryDep,
    conn: ConnDep,
    read: ReadConnDep,
    settings: SettingsDep,
    principal: PlannerDep,
    f: Annotated[Literal["json", "csv"], Query(description="format")] = "json",
) -> Any:
    result = await run_query(request, query, conn, settings, principal, read=read)
    rows = await asyncio.to_thread(gap_rows, result, crs=query.crs)
    if f == "csv":
        return Response(
            # A byte-order mark, so Excel on a Chinese Windows reads the file as UTF-8.
            "\ufeff" + gap_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers=_attachment("coverage-gaps.csv"),
        )
    return {"crs": str(query.crs), "target": result.bands.target, "gaps": rows}


@router.get(
    "/areas",
    summary="The region's bands and gap areas as merged, simplified polygons (GeoJSON)",
    description="What the coverage map draws, for a map of one's own (the staff console's "
    "planner map): one feature per band (`layer: band`, with `inside` the service "
    "circle or not) and one per connected gap area with its uncovered `demand` "
    "(`layer: gap`). Much smaller than the cells.",
    response_class=GeoJSONResponse,
)
async def coverage_areas(
    request: Request,
    query: CoverageQueryDep,
    conn: ConnDep,
    read: ReadConnDep,
    settings: SettingsDep,
    principal: PlannerDep,
) -> GeoJSONResponse:
    result = await run_query(request, query, conn, settings, principal, read=read)
    body = await asyncio.to_thread(_areas_geojson, result, query.crs, query.lang)
    return GeoJSONResponse(body)


def _in_crs(geometry: Any, crs: Crs) -> dict[str, Any]:
    def move(coords: np.ndarray) -> np.ndarray:
        if crs.is_wgs84:
            return np.round(coords, 6)
        lat, lng = from_wgs84(coords[:, 1], coords[:, 0], crs)
        return np.round(np.column_stack([lng, lat]), 6)

    return shapely.geometry.mapping(shapely.transform(geometry, move))  # type: ignore[no-any-return]


def _areas_geojson(result: CoverageResult, crs: Crs, lang: str) -> dict[str, Any]:
    bands = result.bands
    features: list[dict[str, Any]] = []
    for i, geometry in enumerate(band_geometries(result)):
        if geometry.is_empty:
            continue
        band = bands.bands[i]
        features.append(
            {
                "type": "Feature",
                "geometry": _in_crs(geometry, crs),
                "properties": {
                    "layer": "band",
                    "band": band.name,
                    "index": i,
                    "label": band.label(lang),
                    "inside": bands.inside_target(i),
                },
            }
        )
    for polygon, demand in gap_areas(result):
        features.append(
            {
                "type": "Feature",
                "geometry": _in_crs(polygon, crs),
                "properties": {"layer": "gap", "demand": round(float(demand), 1)},
            }
        )
    min_lng, min_lat, max_lng, max_lat = result.request.region.bounds
    corners = from_wgs84(np.array([min_lat, max_lat]), np.array([min_lng, max_lng]), crs)
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "crs": str(crs),
            "resolution": result.request.res,
            "target": bands.target,
            "bbox": [
                round(float(corners[1][0]), 6),
                round(float(corners[0][0]), 6),
                round(float(corners[1][1]), 6),
                round(float(corners[0][1]), 6),
            ],
            "region": _in_crs(result.request.region.geometry, crs),
        },
    }


@router.get(
    "/regions",
    summary="The cities and districts you may analyse, and the bands to aim at",
)
async def coverage_regions(
    read: ReadConnDep,
    settings: SettingsDep,
    principal: PlannerDep,
    lang: Annotated[Literal["zh", "en"], Query(description="labels")] = "zh",
) -> dict[str, Any]:
    regions = await planner_regions(read, branch=branch_of(principal))
    bands = band_set(settings=settings.coverage)
    return {
        **regions,
        "bands": bands.describe(lang)[:-1],
        "target": bands.target,
        "resolutions": [7, 8, 9, 10],
        "resolution": settings.h3.coverage_default,
        "max_candidates": MAX_CANDIDATES,
    }


def _suggestions_body(
    result: CoverageResult, suggestions: Any, query: CoverageQuery
) -> dict[str, Any]:
    body = suggestions.as_dict(query.lang)
    body["sites"] = shift_points(body["sites"], query.crs)
    body["crs"] = str(query.crs)
    body["target"] = result.bands.target_band.as_dict(query.lang)
    return body


@router.get("/suggestions", summary="Ranked new sites covering the most uncovered demand")
async def coverage_suggestions(
    request: Request,
    query: CoverageQueryDep,
    conn: ConnDep,
    read: ReadConnDep,
    settings: SettingsDep,
    principal: PlannerDep,
    suggest: Annotated[int, Query(description="how many sites, 1–200")] = 10,
    min_gain: MinGainQuery = None,
) -> dict[str, Any]:
    result = await run_query(request, query, conn, settings, principal, read=read)
    suggestions = await asyncio.to_thread(suggest_sites, result, n=suggest, min_gain=min_gain)
    return _suggestions_body(result, suggestions, query)


class CandidateSite(Input):
    id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    lat: float
    lng: float


class CandidateList(Input):
    candidates: list[CandidateSite] = Field(min_length=1, max_length=MAX_CANDIDATES)
    crs: str | None = Field(default=None, description="of the candidates: wgs84, gcj02, bd09")


@router.post(
    "/suggestions",
    summary="Rank a planner's own candidate sites (e.g. shops willing to host a station)",
)
async def coverage_suggestions_from_candidates(
    request: Request,
    body: CandidateList,
    query: CoverageQueryDep,
    conn: ConnDep,
    read: ReadConnDep,
    settings: SettingsDep,
    principal: PlannerDep,
    suggest: Annotated[int, Query(description="how many sites, 1–200")] = 10,
    min_gain: MinGainQuery = None,
) -> dict[str, Any]:
    frame = pd.DataFrame(
        [
            {"id": c.id or str(i), "name": c.name, "lat": c.lat, "lng": c.lng}
            for i, c in enumerate(body.candidates, start=1)
        ]
    )
    candidates = candidates_from_frame(frame, crs=body.crs)
    result = await run_query(request, query, conn, settings, principal, read=read)
    suggestions = await asyncio.to_thread(
        suggest_sites, result, n=suggest, candidates=candidates, min_gain=min_gain
    )
    return _suggestions_body(result, suggestions, query)
