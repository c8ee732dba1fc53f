"""OGC API – Features at ``/ogc``: the catalog for GIS clients (QGIS, GDAL, OWSLib).

Read-only. The routes acquire a connection, call :mod:`stations.ogc` and pick the
media type; every query parameter is parsed there (unknown or malformed: 400 with
``bad_query_parameter``, as the standard asks). The OGC endpoints are described by
their own OpenAPI 3.0 document, ``/ogc/api`` (what GIS clients read), and left out of
the service's ``/openapi.json``; ``tests/ogc`` fuzzes them from ``/ogc/api``.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import ReadConnDep
from api.responses import JSONResponse
from api.routes import rider
from stations.errors import NotFound
from stations.ogc import collections, documents, features, params
from stations.ogc import crs as ogc_crs
from stations.ogc.openapi import openapi_document

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
    collection = collections.collection(collection_id)
    if _only_format(request):
        return _page(request)
    extent = await features.collection_extent(conn, collection)
    return _json(documents.collection_doc(_base(request), collection, extent))


@router.get("/collections/{collection_id}/queryables", summary="Queryables (JSON Schema)")
async def queryables(collection_id: str, request: Request) -> Response:
    collection = collections.collection(collection_id)
    if _only_format(request):
        return _page(request)
    return _json(documents.queryables(_base(request), collection), documents.SCHEMA_JSON)


@router.get("/collections/{collection_id}/schema", summary="Feature schema (JSON Schema)")
async def schema(collection_id: str, request: Request) -> Response:
    collection = collections.collection(collection_id)
    if _only_format(request):
        return _page(request)
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
