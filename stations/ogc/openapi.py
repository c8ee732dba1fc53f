"""The OpenAPI 3.0 description of ``/ogc`` (its ``service-desc``).

GIS clients read it: GDAL's OAPIF driver takes the items path's query parameters as
the attributes it can filter on the server and the ``limit`` maximum as its page size.
Each collection gets its own items path so its queryables are listed there.
"""

from __future__ import annotations

from typing import Any

from stations.ogc import crs as ogc_crs
from stations.ogc import documents
from stations.ogc.cells import CELL_COLLECTIONS
from stations.ogc.collections import COLLECTIONS
from stations.ogc.params import DEFAULT_LIMIT, FORMATS, MAX_LIMIT, PROPERTY_NAMES


def _query(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
        **extra,
    }


_F = _query(
    "f",
    "json or html (a page for people; the default when the Accept header asks for HTML)",
    {"type": "string", "enum": list(FORMATS)},
)
_LIMIT = _query(
    "limit",
    "features per page",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
)
_BBOX = _query(
    "bbox",
    "minLon,minLat,maxLon,maxLat in CRS84 (west > east crosses the antimeridian)",
    {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
    style="form",
    explode=False,
)
_INTERVAL = (
    "an RFC 3339 instant, a date (that UTC day) or an interval start/end, `..` for an open end"
)
_DATETIME = _query("datetime", f"updated_at: {_INTERVAL}", {"type": "string"})
_VERIFIED = _query("verified_at", f"verified_at: {_INTERVAL}", {"type": "string"})


def _crs_parameters(base: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    offered = {"type": "string", "format": "uri", "enum": ogc_crs.uris(base)}
    return (
        _query("crs", "CRS of the answer's coordinates (default CRS84)", offered),
        _query("filter-crs", "CRS of the filter's geometries (default CRS84)", offered),
        _query(
            "bbox-crs",
            "CRS of `bbox` (default CRS84; EPSG:4326 and EPSG:4490 are latitude first)",
            offered,
        ),
    )


_FILTER = _query(
    "filter",
    "a Basic CQL2 condition on the queryables, e.g. kind = 'water_point' AND "
    "district LIKE '相山%'; S_INTERSECTS(geometry, BBOX(…) or a geometry) too",
    {"type": "string"},
)
_FILTER_LANG = _query(
    "filter-lang",
    "cql2-text (default) or cql2-json",
    {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"},
)
_SORTBY = _query(
    "sortby",
    "one of id, name, kind, status, updated_at; `-` before it for descending",
    {"type": "string"},
)
_PROPERTIES = _query(
    "properties",
    "only these properties (comma-separated)",
    {"type": "array", "items": {"type": "string", "enum": list(PROPERTY_NAMES)}},
    style="form",
    explode=False,
)
_CURSOR = _query("cursor", "where a page starts: from a `next` link", {"type": "string"})


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def _ok(media_type: str, description: str) -> dict[str, Any]:
    return {
        "200": {
            "description": description,
            "content": {media_type: {"schema": {"type": "object"}}},
        },
        "400": _problem("a query parameter is unknown or malformed"),
        # the service's edge rule, before any OGC route (api/guard.py): NUL and other
        # control characters in a path or parameter
        "422": _problem("a path or parameter holds a control character (control_character)"),
    }


def openapi_document(base: str) -> dict[str, Any]:
    crs, filter_crs, bbox_crs = _crs_parameters(base)
    paths: dict[str, Any] = {
        "/": {
            "get": {
                "summary": "landing page",
                "operationId": "getLandingPage",
                "parameters": [_F],
                "responses": _ok(documents.JSON, "the landing page"),
            }
        },
        "/conformance": {
            "get": {
                "summary": "conformance classes",
                "operationId": "getConformanceDeclaration",
                "parameters": [_F],
                "responses": _ok(documents.JSON, "the conformance classes"),
            }
        },
        "/api": {
            "get": {
                "summary": "this document",
                "operationId": "getAPIDefinition",
                "responses": _ok(documents.OPENAPI_JSON, "OpenAPI 3.0"),
            }
        },
        "/collections": {
            "get": {
                "summary": "the collections",
                "operationId": "getCollections",
                "parameters": [_F],
                "responses": _ok(documents.JSON, "the collections"),
            }
        },
    }
    for collection in COLLECTIONS.values():
        path = f"/collections/{collection.id}"
        queryables = [
            _query(
                name,
                str(schema["title"]),
                {"type": "string", **({"enum": schema["enum"]} if "enum" in schema else {})},
            )
            for name, schema in documents.parameter_schemas(collection).items()
        ]
        not_found = _problem("no such collection or feature")
        paths[path] = {
            "get": {
                "summary": collection.title_en,
                "operationId": f"describe_{collection.id}",
                "parameters": [_F],
                "responses": {**_ok(documents.JSON, "the collection"), "404": not_found},
            }
        }
        paths[f"{path}/queryables"] = {
            "get": {
                "summary": f"{collection.title_en}: queryables",
                "operationId": f"queryables_{collection.id}",
                "responses": _ok(documents.SCHEMA_JSON, "a JSON Schema"),
            }
        }
        paths[f"{path}/schema"] = {
            "get": {
                "summary": f"{collection.title_en}: feature schema",
                "operationId": f"schema_{collection.id}",
                "responses": _ok(documents.SCHEMA_JSON, "a JSON Schema"),
            }
        }
        paths[f"{path}/items"] = {
            "get": {
                "summary": f"{collection.title_en}: features",
                "operationId": f"items_{collection.id}",
                "parameters": [
                    _F,
                    _LIMIT,
                    _BBOX,
                    bbox_crs,
                    crs,
                    _DATETIME,
                    _VERIFIED,
                    _CURSOR,
                    _FILTER,
                    _FILTER_LANG,
                    filter_crs,
                    _SORTBY,
                    _PROPERTIES,
                    *queryables,
                ],
                "responses": {**_ok(documents.GEOJSON, "a page of features"), "404": not_found},
            }
        }
        paths[f"{path}/items/{{featureId}}"] = {
            "get": {
                "summary": f"{collection.title_en}: one feature",
                "operationId": f"item_{collection.id}",
                "parameters": [
                    {
                        "name": "featureId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    _F,
                    crs,
                    _PROPERTIES,
                ],
                "responses": {**_ok(documents.GEOJSON, "a feature"), "404": not_found},
            }
        }
    for cells in CELL_COLLECTIONS.values():
        path = f"/collections/{cells.id}"
        region = [
            _query("city", "a city outline the service ships (or district)", {"type": "string"}),
            _query("district", "a district the catalog names (or city)", {"type": "string"}),
            _query("res", "H3 resolution", {"type": "integer", "minimum": 0, "maximum": 15}),
            _query("target", "the band counted as served", {"type": "string"}),
        ]
        cell_id = {
            "name": "featureId",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
        }
        planner_only = {
            "401": _problem("no planner's token or session"),
            "403": _problem("not a planner or administrator, or a region outside the branch"),
            "404": _problem("no such cell"),
            "429": _problem("too many analyses or wrong tokens from this caller: see Retry-After"),
        }
        paths[path] = {
            "get": {
                "summary": cells.title_en,
                "operationId": f"describe_{cells.id}",
                "parameters": [_F],
                "responses": _ok(documents.JSON, "the collection"),
            }
        }
        paths[f"{path}/schema"] = {
            "get": {
                "summary": f"{cells.title_en}: feature schema",
                "operationId": f"schema_{cells.id}",
                "responses": _ok(documents.SCHEMA_JSON, "a JSON Schema"),
            }
        }
        paths[f"{path}/items"] = {
            "get": {
                "summary": f"{cells.title_en}: a page of cells",
                "operationId": f"items_{cells.id}",
                "security": [{"bearer": []}],
                "parameters": [_F, *region, _LIMIT, _BBOX, bbox_crs, crs, _CURSOR],
                "responses": {**_ok(documents.GEOJSON, "a page of cells"), **planner_only},
            }
        }
        paths[f"{path}/items/{{featureId}}"] = {
            "get": {
                "summary": f"{cells.title_en}: one cell",
                "operationId": f"item_{cells.id}",
                "security": [{"bearer": []}],
                "parameters": [cell_id, _F, *region, crs],
                "responses": {**_ok(documents.GEOJSON, "a cell"), **planner_only},
            }
        }
    paths["/crs/{key}"] = {
        "get": {
            "summary": "one of this service's own CRSs (GCJ-02, BD-09: not EPSG)",
            "operationId": "ownCrs",
            "parameters": [
                {
                    "name": "key",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": ["gcj02", "bd09"]},
                },
                _F,
            ],
            "responses": {
                **_ok(documents.JSON, "what the CRS is"),
                "404": _problem("no such CRS"),
            },
        }
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": documents.TITLE,
            "description": documents.DESCRIPTION,
            "version": "1.0.0",
            "license": {"name": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a planner's or administrator's token (cells only)",
                }
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["detail", "code"],
                    "properties": {
                        "detail": {"type": "string"},
                        "code": {"type": "string"},
                        "field": {"type": "string"},
                    },
                    "additionalProperties": True,
                }
            },
        },
    }
