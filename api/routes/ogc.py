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

from api.deps import ConnDep
from api.responses import JSONResponse
from stations.errors import BadQuery, NotFound
from stations.ogc import collections, documents, features, params
from stations.ogc import crs as ogc_crs
from stations.ogc.openapi import openapi_document

router = APIRouter(prefix="/ogc", tags=["ogc"], include_in_schema=False)


def _base(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}/ogc"


def _pairs(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _only_format(request: Request) -> None:
    """Documents other than features read ``f`` only. Other parameters are ignored
    there, not refused: GDAL repeats the query of an ``OAPIF:`` URL (``?crs=…``) on
    every request, and a metadata document filters nothing a typo could change."""
    params.parse_format(_single(request, "f"))


def _single(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise BadQuery(name, f"{name}: given {len(values)} times; send it once")
    return values[0] if values else None


def _json(
    body: object, media_type: str = documents.JSON, *, crs_uri: str | None = None
) -> JSONResponse:
    headers = {"Content-Crs": f"<{crs_uri}>"} if crs_uri else None
    return JSONResponse(body, media_type=media_type, headers=headers)


@router.get("", summary="OGC API landing page")
async def landing(request: Request) -> JSONResponse:
    _only_format(request)
    return _json(documents.landing_page(_base(request)))


@router.get("/conformance", summary="OGC API conformance classes")
async def conformance(request: Request) -> JSONResponse:
    _only_format(request)
    return _json(documents.conformance())


@router.get("/api", summary="OpenAPI 3.0 description of the OGC API")
async def api_definition(request: Request) -> JSONResponse:
    _only_format(request)
    return _json(openapi_document(_base(request)), documents.OPENAPI_JSON)


@router.get("/collections", summary="OGC API collections")
async def collection_list(request: Request, conn: ConnDep) -> JSONResponse:
    _only_format(request)
    extents = {}
    for collection in collections.COLLECTIONS.values():
        extents[collection.id] = await features.collection_extent(conn, collection)
    return _json(documents.collections_doc(_base(request), extents))


@router.get("/collections/{collection_id}", summary="One OGC API collection")
async def collection_detail(collection_id: str, request: Request, conn: ConnDep) -> JSONResponse:
    collection = collections.collection(collection_id)
    _only_format(request)
    extent = await features.collection_extent(conn, collection)
    return _json(documents.collection_doc(_base(request), collection, extent))


@router.get("/collections/{collection_id}/queryables", summary="Queryables (JSON Schema)")
async def queryables(collection_id: str, request: Request) -> JSONResponse:
    collection = collections.collection(collection_id)
    _only_format(request)
    return _json(documents.queryables(_base(request), collection), documents.SCHEMA_JSON)


@router.get("/collections/{collection_id}/schema", summary="Feature schema (JSON Schema)")
async def schema(collection_id: str, request: Request) -> JSONResponse:
    collection = collections.collection(collection_id)
    _only_format(request)
    return _json(documents.feature_schema(_base(request), collection), documents.SCHEMA_JSON)


@router.get("/collections/{collection_id}/items", summary="Features of a collection (GeoJSON)")
async def items(collection_id: str, request: Request, conn: ConnDep) -> JSONResponse:
    collection = collections.collection(collection_id)
    pairs = _pairs(request)
    base = _base(request)
    query = params.parse_feature_query(pairs, collection, base)
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
    collection_id: str, feature_id: str, request: Request, conn: ConnDep
) -> JSONResponse:
    collection = collections.collection(collection_id)
    base = _base(request)
    params.check_known(_pairs(request), ("f", "crs", "properties"))
    params.parse_format(_single(request, "f"))
    target = ogc_crs.parse_ogc_crs(_single(request, "crs"), base)
    row = await features.one_feature(conn, collection, feature_id)
    [position] = documents.coordinates([row], target)
    chosen = params.parse_properties(_single(request, "properties"))
    body = documents.feature(row, base, collection, position, chosen)
    return _json(body, documents.GEOJSON, crs_uri=target.uri(base))


@router.get("/crs/{key}", summary="One of this service's own (non-EPSG) CRSs")
async def own_crs(key: str, request: Request) -> JSONResponse:
    _only_format(request)
    found = ogc_crs.own_crs(key)
    if found is None:
        own = [c.key for c in ogc_crs.OFFERED if not c.is_registered]
        raise NotFound(
            f"this service defines no CRS {key!r}; its own are {', '.join(own)}",
            code="not_found",
        )
    return _json(found.describe(_base(request)))
