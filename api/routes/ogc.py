"""OGC API – Features at ``/ogc``: the catalog for GIS clients (QGIS, GDAL, OWSLib).

Read-only. The routes acquire a connection, call :mod:`stations.ogc` and pick the
media type; every query parameter is parsed there (unknown or malformed: 400 with
``bad_query_parameter``, as the standard asks). The OGC endpoints are described by
their own OpenAPI 3.0 document, ``/ogc/api`` (what GIS clients read), and left out of
the service's ``/openapi.json``; ``tests/ogc`` fuzzes them from ``/ogc/api``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.auth import Principal, branch_of, optional_principal, require_roles
from api.deps import ConnDep, ReadConnDep, SettingsDep
from api.responses import JSONResponse
from api.routes import rider
from api.routes.coverage import CoverageQuery, run_query
from stations.coverage.analysis import CoverageResult
from stations.errors import NotFound, Unauthorized
from stations.ogc import cells as ogc_cells
from stations.ogc import collections, documents, features, params
from stations.ogc import crs as ogc_crs
from stations.ogc.openapi import openapi_document
from stations.settings import Settings

router = APIRouter(prefix="/ogc", tags=["ogc"], include_in_schema=False)


def _base(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}/ogc"


def _pairs(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _only_format(request: Request) -> bool:
    """Documents other than features read ``f`` only. Other parameters are ignored
    there, not refused: GDAL repeats the query of an ``OAPIF:`` URL (``?crs=…``) on
    every request, and a metadata document filters nothing a typo could change.
    True when the answer is the HTML page."""
    return _wants_html(request)


def _wants_html(request: Request) -> bool:
    """``f=html``, or no ``f`` and a browser's Accept (HTML before any JSON)."""
    chosen = params.parse_format(_single(request, "f"))
    if chosen is not None:
        return chosen == "html"
    accept = request.headers.get("accept", "")
    html_at = accept.find("text/html")
    json_at = accept.find("json")
    return html_at >= 0 and (json_at < 0 or html_at < json_at)


def _page(request: Request) -> Response:
    """The page that shows this document to people (it reads the JSON itself)."""
    return rider.page_response(request, rider.OGC)


def _single(request: Request, name: str) -> str | None:
    return params.single(_pairs(request), name)


def _json(
    body: object, media_type: str = documents.JSON, *, crs_uri: str | None = None
) -> Response:
    # The same URL answers a page to browsers: caches must keep the two apart.
    headers = {"Vary": "Accept"}
    if crs_uri:
        headers["Content-Crs"] = f"<{crs_uri}>"
    return JSONResponse(body, media_type=media_type, headers=headers)


@router.get("", summary="OGC API landing page")
async def landing(request: Request) -> Response:
    if _only_format(request):
        return _page(request)
    return _json(documents.landing_page(_base(request)))


@router.get("/conformance", summary="OGC API conformance classes")
async def conformance(request: Request) -> Response:
    if _only_format(request):
        return _page(request)
    return _json(documents.conformance())


@router.get("/api", summary="OpenAPI 3.0 description of the OGC API")
async def api_definition(request: Request) -> Response:
    params.parse_format(_single(request, "f"))  # JSON whatever is asked: GIS clients read it
    return _json(openapi_document(_base(request)), documents.OPENAPI_JSON)


@router.get("/collections", summary="OGC API collections")
async def collection_list(request: Request, conn: ReadConnDep) -> Response:
    if _only_format(request):
        return _page(request)
    extents = {}
    for collection in collections.COLLECTIONS.values():
        extents[collection.id] = await features.collection_extent(conn, collection)
    return _json(documents.collections_doc(_base(request), extents))


@router.get("/collections/{collection_id}", summary="One OGC API collection")
async def collection_detail(collection_id: str, request: Request, conn: ReadConnDep) -> Response:
    cells = ogc_cells.cell_collection(collection_id)
    collection = collections.STATIONS if cells else collections.collection(collection_id)
    if _only_format(request):
        return _page(request)
    extent = await features.collection_extent(conn, collection)
    if cells is not None:
        region = [(k, v) for k, v in _pairs(request) if k in ogc_cells.REGION_PARAMETERS]
        return _json(documents.cell_collection_doc(_base(request), cells, extent, region))
    return _json(documents.collection_doc(_base(request), collection, extent))


# The planners' cell collections: a region's coverage analysis, page by page. Their
# routes come before the catalog's, which would take their paths too.
async def _cell_result(
    request: Request, query: ogc_cells.CellQuery, conn, settings, principal, *, read: Any
) -> CoverageResult:
    recent = getattr(request.app.state, "recent_cells", None)
    if recent is None:
        recent = request.app.state.recent_cells = ogc_cells.RecentResults()
    key = recent.key(query, branch_of(principal))
    found = recent.get(key)
    if found is not None:
        return found
    coverage_query = CoverageQuery(
        city=query.city, district=query.district, res=query.res, target=query.target
    )
    # The analysis refuses a value as the coverage API does (422); here it is a 400.
    with params.as_bad_query("city"):
        result = await run_query(request, coverage_query, conn, settings, principal, read=read)
    recent.put(key, result)
    return result


_planner_only = require_roles("planner", "admin")


async def _planner(request: Request, conn: Any) -> Principal:
    """The caller, a planner or administrator (after the page is served: the page asks
    for the JSON with the console's session and says what a refusal means)."""
    principal = await optional_principal(request, conn)
    if principal is None:
        raise Unauthorized(
            "send a bearer token (`Authorization: Bearer <token>`) or sign in to the staff console"
        )
    return await _planner_only(principal)


async def _cell_items(
    cells: ogc_cells.CellCollection, request: Request, conn: Any, read: Any, settings: Settings
) -> Response:
    pairs = _pairs(request)
    base = _base(request)
    query = ogc_cells.parse_cell_query(pairs, base)
    if _wants_html(request):
        return _page(request)
    principal = await _planner(request, conn)
    result = await _cell_result(request, query, conn, settings, principal, read=read)
    page = await asyncio.to_thread(ogc_cells.cell_page, result, cells, query)
    body = documents.cell_feature_collection(page, base, cells, pairs)
    return _json(body, documents.GEOJSON, crs_uri=query.crs.uri(base))


async def _one_cell(
    cells: ogc_cells.CellCollection,
    feature_id: str,
    request: Request,
    conn: Any,
    read: Any,
    settings: Settings,
) -> Response:
    base = _base(request)
    pairs = [(k, v) for k, v in _pairs(request) if k not in ("limit", "cursor", "bbox")]
    query = ogc_cells.parse_cell_query(pairs, base)
    if _wants_html(request):
        return _page(request)
    principal = await _planner(request, conn)
    result = await _cell_result(request, query, conn, settings, principal, read=read)
    body = ogc_cells.one_cell(result, cells, feature_id, query.crs)
    return _json(body, documents.GEOJSON, crs_uri=query.crs.uri(base))


@router.get("/collections/coverage-cells/items", summary="Coverage cells of a region (GeoJSON)")
async def coverage_cell_items(
    request: Request, conn: ConnDep, read: ReadConnDep, settings: SettingsDep
) -> Response:
    return await _cell_items(ogc_cells.COVERAGE_CELLS, request, conn, read, settings)


@router.get("/collections/coverage-cells/items/{feature_id}", summary="One coverage cell")
async def coverage_cell(
    feature_id: str, request: Request, conn: ConnDep, read: ReadConnDep, settings: SettingsDep
) -> Response:
    return await _one_cell(ogc_cells.COVERAGE_CELLS, feature_id, request, conn, read, settings)


@router.get("/collections/demand-cells/items", summary="Demand cells of a region (GeoJSON)")
async def demand_cell_items(
    request: Request, conn: ConnDep, read: ReadConnDep, settings: SettingsDep
) -> Response:
    return await _cell_items(ogc_cells.DEMAND_CELLS, request, conn, read, settings)


@router.get("/collections/demand-cells/items/{feature_id}", summary="One demand cell")
async def demand_cell(
    feature_id: str, request: Request, conn: ConnDep, read: ReadConnDep, settings: SettingsDep
) -> Response:
    return await _one_cell(ogc_cells.DEMAND_CELLS, feature_id, request, conn, read, settings)


@router.get("/collections/{collection_id}/queryables", summary="Queryables (JSON Schema)")
async def queryables(collection_id: str, request: Request) -> Response:
    collection = collections.collection(collection_id)
    if _only_format(request):
        return _page(request)
    return _json(documents.queryables(_base(request), collection), documents.SCHEMA_JSON)


@router.get("/collections/{collection_id}/schema", summary="Feature schema (JSON Schema)")
async def schema(collection_id: str, request: Request) -> Response:
    cells = ogc_cells.cell_collection(collection_id)
    collection = collections.STATIONS if cells else collections.collection(collection_id)
    if _only_format(request):
        return _page(request)
    if cells is not None:
        return _json(documents.cell_schema(_base(request), cells), documents.SCHEMA_JSON)
    return _json(documents.feature_schema(_base(request), collection), documents.SCHEMA_JSON)


@router.get("/collections/{collection_id}/items", summary="Features of a collection (GeoJSON)")
async def items(collection_id: str, request: Request, conn: ReadConnDep) -> Response:
    collection = collections.collection(collection_id)
    pairs = _pairs(request)
    base = _base(request)
    query = params.parse_feature_query(pairs, collection, base)
    if _wants_html(request):
        return _page(request)
    page = await features.feature_page(conn, query)
    cursor = params.encode_cursor(query.sort, page.rows[-1]) if page.more else None
    body = await asyncio.to_thread(
        documents.feature_collection,
        page,
        base,
        collection,
        pairs,
        next_cursor=cursor,
        target=query.crs,
        chosen=query.properties,
    )
    return _json(body, documents.GEOJSON, crs_uri=query.crs.uri(base))


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature (GeoJSON)")
async def item(
    collection_id: str, feature_id: str, request: Request, conn: ReadConnDep
) -> Response:
    collection = collections.collection(collection_id)
    base = _base(request)
    params.check_known(_pairs(request), ("f", "crs", "properties"))
    target = ogc_crs.parse_ogc_crs(_single(request, "crs"), base)
    row = await features.one_feature(conn, collection, feature_id)
    if _wants_html(request):
        return _page(request)
    [position] = documents.coordinates([row], target)
    chosen = params.parse_properties(_single(request, "properties"))
    body = documents.feature(row, base, collection, position, chosen)
    return _json(body, documents.GEOJSON, crs_uri=target.uri(base))


@router.get("/crs/{key}", summary="One of this service's own (non-EPSG) CRSs")
async def own_crs(key: str, request: Request) -> Response:
    params.parse_format(_single(request, "f"))  # JSON: a definition for programs
    found = ogc_crs.own_crs(key)
    if found is None:
        own = [c.key for c in ogc_crs.OFFERED if not c.is_registered]
        raise NotFound(
            f"this service defines no CRS {key!r}; its own are {', '.join(own)}",
            code="not_found",
        )
    return _json(found.describe(_base(request)))
