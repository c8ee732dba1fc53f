"""The JSON documents of ``/ogc``: landing page, conformance, collections, queryables,
features. Every link is absolute, built from ``base`` (the service's ``…/ogc`` URL).

A feature's properties are the station's public fields from the field table
(:data:`stations.catalog.fields.PUBLIC_FIELDS`) plus its code, version and
``updated_at``, so a new field appears here without an edit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import asyncpg
import numpy as np

from stations.catalog.fields import BY_NAME, PUBLIC_FIELDS
from stations.ogc import crs as ogc_crs
from stations.ogc import filter as cql2
from stations.ogc.cells import CELL_COLLECTIONS, CellCollection, CellPage, cities
from stations.ogc.collections import COLLECTIONS, Collection
from stations.ogc.features import Extent, Page

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"
CRS84 = ogc_crs.CRS84

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    # the stations' vector tiles (stations/tiles)
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
)

TITLE = "爱心驿站 OGC API – Features"
DESCRIPTION = (
    "工会爱心驿站与派水点目录，供 GIS 软件（QGIS、GDAL、OWSLib）读取。"
    " The catalog of trade-union rest stations and free-water points for GIS clients."
)


def link(href: str, rel: str, media_type: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": media_type, "title": title}


def landing_page(base: str) -> dict[str, Any]:
    return {
        "title": TITLE,
        "description": DESCRIPTION,
        "links": [
            link(base, "self", JSON, "本页 / this document"),
            link(f"{base}?f=html", "alternate", HTML, "网页 / as a web page"),
            link(f"{base}/api", "service-desc", OPENAPI_JSON, "API 定义 / API definition"),
            link(f"{base}/conformance", "conformance", JSON, "符合的标准 / conformance"),
            link(f"{base}/collections", "data", JSON, "数据集 / collections"),
            link(
                f"{base}/tileMatrixSets",
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                JSON,
                "瓦片矩阵集 / tile matrix sets",
            ),
        ],
    }


def conformance() -> dict[str, Any]:
    return {"conformsTo": list(CONFORMANCE)}


def collection_doc(base: str, collection: Collection, extent: Extent) -> dict[str, Any]:
    url = f"{base}/collections/{collection.id}"
    temporal = [
        _iso(extent.first_update) if extent.first_update else None,
        _iso(extent.last_update) if extent.last_update else None,
    ]
    return {
        **_head(base, collection.id, collection.title_zh, collection, extent, temporal),
        "links": [
            link(url, "self", JSON, collection.title_zh),
            link(f"{url}/items", "items", GEOJSON, f"{collection.title_zh}（GeoJSON）"),
            link(
                f"{url}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                SCHEMA_JSON,
                "可查询字段 / queryables",
            ),
            # GIS clients (GDAL, QGIS) type their fields from it instead of guessing from
            # the first page (where a date-time may be null on every feature).
            link(f"{url}/schema", "describedby", SCHEMA_JSON, "要素结构 / feature schema"),
            *({**extra, "href": f"{url}/{extra['href']}"} for extra in collection.extra_links),
        ],
    }


def _head(
    base: str,
    id_: str,
    title: str,
    described: Collection | CellCollection,
    extent: Extent,
    temporal: list[str | None] | None = None,
) -> dict[str, Any]:
    """What every collection document starts with: names, item type, extent (in time
    too when ``temporal`` is given: cells have none), CRSs."""
    spatial = {
        "bbox": [list(extent.bbox) if extent.bbox else [-180.0, -90.0, 180.0, 90.0]],
        "crs": CRS84,
    }
    when = {
        "temporal": {
            "interval": [temporal],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    }
    return {
        "id": id_,
        "title": title,
        "description": f"{described.description_zh} {described.description_en}",
        "itemType": "feature",
        "extent": {"spatial": spatial, **(when if temporal is not None else {})},
        "crs": ogc_crs.uris(base),
        "storageCrs": CRS84,
        # What each CRS is: GCJ-02 and BD-09 are this service's own URIs, not EPSG ones.
        "crsDetails": [c.describe(base) for c in ogc_crs.OFFERED],
    }


def cell_collection_doc(
    base: str,
    collection: CellCollection,
    extent: Extent,
    region: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """A cells collection: its items need a region (``city`` or ``district``) and a
    planner's token, which the description says.

    ``region``: the region parameters the request carried (GDAL repeats those of its
    ``OAPIF:`` URL), kept in the one ``items`` link; a ``related`` link per city outline
    the service ships shows which regions there are.
    """
    url = f"{base}/collections/{collection.id}"
    items = f"{url}/items?{urlencode(region)}" if region else f"{url}/items"
    return {
        **_head(base, collection.id, collection.title_zh, collection, extent),
        "links": [
            link(url, "self", JSON, collection.title_zh),
            link(items, "items", GEOJSON, f"{collection.title_zh}（GeoJSON）"),
            *(
                link(f"{url}/items?{urlencode({'city': c.key})}", "related", GEOJSON, c.label_zh)
                for c in cities()
            ),
            link(f"{url}/schema", "describedby", SCHEMA_JSON, "要素结构 / feature schema"),
        ],
    }


def cell_schema(base: str, collection: CellCollection) -> dict[str, Any]:
    """The cells' properties as JSON Schema (GDAL types its fields from it)."""
    every = {
        "cell": {"title": "H3 六边形编号 / H3 cell id", "type": "string", "x-ogc-role": "id"},
        "band": {"title": "服务圈层 / band", "type": "string"},
        "band_label": {"title": "圈层名称 / band label", "type": "string"},
        "distance_m": {
            "title": "到最近站点的距离（米）/ metres to the nearest station",
            "type": ["number", "null"],
        },
        "demand": {"title": "需求（户外劳动者）/ demand (outdoor workers)", "type": "number"},
        "nearest_station_id": {"title": "最近站点 / nearest station", "type": ["integer", "null"]},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{collection.id}/schema",
        "type": "object",
        "title": collection.title_zh,
        "properties": {
            "geometry": {"x-ogc-role": "primary-geometry", "format": "geometry-polygon"},
            **{name: every[name] for name in collection.properties},
        },
    }


def cell_feature_collection(
    page: CellPage, base: str, collection: CellCollection, query_pairs: list[tuple[str, str]]
) -> dict[str, Any]:
    """A page of cells, linked like a page of stations."""
    return {
        "type": "FeatureCollection",
        "features": page.features,
        "numberMatched": page.matched,
        "numberReturned": len(page.features),
        "timeStamp": _iso(datetime.now(UTC)),
        "links": _page_links(base, collection.id, collection.title_zh, query_pairs, page.cursor),
    }


def collections_doc(base: str, extents: dict[str, Extent]) -> dict[str, Any]:
    return {
        "links": [link(f"{base}/collections", "self", JSON, "数据集 / collections")],
        "collections": [
            *(collection_doc(base, c, extents[c.id]) for c in COLLECTIONS.values()),
            # Cells cover the regions around the stations: the catalog's extent.
            *(cell_collection_doc(base, c, extents["stations"]) for c in CELL_COLLECTIONS.values()),
        ],
    }


_PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "kind": {
        "title": "类型 / kind",
        "type": "string",
        "enum": list(BY_NAME["kind"].vocabulary or ()),
    },
    "amenity": {
        "title": "设施 / amenity (a station offers all those named)",
        "type": "string",
        "enum": list(BY_NAME["amenities"].vocabulary or ()),
    },
    "status": {
        "title": "状态 / status",
        "type": "string",
        "enum": list(BY_NAME["status"].vocabulary or ()),
    },
    "district": {
        "title": "区县名称或代码 / district name or code",
        "type": "string",
        "maxLength": BY_NAME["district"].limit,
    },
}


def parameter_schemas(collection: Collection) -> dict[str, dict[str, Any]]:
    """The queryables a collection takes as plain query parameters (``kind=…``)."""
    return {name: _PARAMETER_SCHEMAS[name] for name in collection.queryables}


def _queryable_schema(name: str, queryable: cql2.Queryable) -> dict[str, Any]:
    if queryable.type == "geometry":
        return {
            "title": "位置 / position",
            "format": "geometry-point",
            "x-ogc-role": "primary-geometry",
        }
    if name == "amenity":
        return {
            "title": "设施 / amenity (one of the station's amenities)",
            "type": "string",
            "enum": list(queryable.vocabulary or ()),
        }
    if name == "updated_at":
        return {"title": "last change", "type": "string", "format": "date-time"}
    return _field_schema(name)


def queryables(base: str, collection: Collection) -> dict[str, Any]:
    """What a CQL2 ``filter`` may name, as a JSON Schema (OGC API – Features Part 3)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{collection.id}/queryables",
        "type": "object",
        "title": collection.title_zh,
        "properties": {
            name: _queryable_schema(name, queryable) for name, queryable in cql2.QUERYABLES.items()
        },
        "additionalProperties": False,
    }


def _field_schema(name: str) -> dict[str, Any]:
    field = BY_NAME[name]
    out: dict[str, Any] = {"title": field.description}
    if field.sql_type == "timestamptz":
        out.update(type="string", format="date-time")
    elif field.sql_type == "text[]":
        items: dict[str, Any] = {"type": "string"}
        if field.vocabulary:
            items["enum"] = list(field.vocabulary)
        out.update(type="array", items=items)
    else:
        out["type"] = "string"
        if field.vocabulary:
            out["enum"] = list(field.vocabulary)
        if field.limit:
            out["maxLength"] = field.limit
    return out


def feature_schema(base: str, collection: Collection) -> dict[str, Any]:
    """The properties of every feature of ``collection`` as a JSON Schema (OGC API –
    Features Part 5 ``schema``), from the field table."""
    props: dict[str, Any] = {
        "geometry": {"format": "geometry-point", "x-ogc-role": "primary-geometry"},
        "code": {"title": "public code printed on posters", "type": "string"},
    }
    props.update({name: _field_schema(name) for name in PUBLIC_FIELDS})
    props["version"] = {"title": "version, one more at every change", "type": "integer"}
    props["updated_at"] = {"title": "last change", "type": "string", "format": "date-time"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{collection.id}/schema",
        "type": "object",
        "title": collection.title_zh,
        "properties": props,
    }


def properties(row: asyncpg.Record) -> dict[str, Any]:
    out: dict[str, Any] = {"code": row["code"]}
    for name in PUBLIC_FIELDS:
        value = row[name]
        if isinstance(value, datetime):
            value = _iso(value)
        elif BY_NAME[name].sql_type == "text[]":
            value = list(value)
        out[name] = value
    out["version"] = row["version"]
    out["updated_at"] = _iso(row["updated_at"])
    return out


def coordinates(rows: list[asyncpg.Record], target: ogc_crs.OgcCrs) -> list[list[float]]:
    """The rows' positions in ``target``, in its axis order (converted in one go)."""
    if not rows:
        return []
    if target is ogc_crs.DEFAULT:
        return [[row["lng"], row["lat"]] for row in rows]
    lats = np.array([row["lat"] for row in rows], dtype=float)
    lngs = np.array([row["lng"] for row in rows], dtype=float)
    first, second = ogc_crs.to_crs(lats, lngs, target)
    return [[float(a), float(b)] for a, b in zip(first, second, strict=True)]


def feature(
    row: asyncpg.Record,
    base: str,
    collection: Collection,
    position: list[float] | None = None,
    chosen: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """One station as a GeoJSON feature; ``position`` in the answer's CRS (default CRS84)."""
    url = f"{base}/collections/{collection.id}/items/{row['id']}"
    return {
        "type": "Feature",
        "id": row["id"],
        "geometry": {
            "type": "Point",
            "coordinates": position if position is not None else [row["lng"], row["lat"]],
        },
        "properties": _chosen(properties(row), chosen),
        "links": [
            link(url, "self", GEOJSON, row["name"]),
            link(f"{base}/collections/{collection.id}", "collection", JSON, collection.title_zh),
        ],
    }


def feature_collection(
    page: Page,
    base: str,
    collection: Collection,
    query_pairs: list[tuple[str, str]],
    *,
    next_cursor: str | None,
    target: ogc_crs.OgcCrs = ogc_crs.DEFAULT,
    chosen: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """A page of features with ``self`` and, unless it is the last page, ``next``."""
    return {
        "type": "FeatureCollection",
        "features": [
            feature(row, base, collection, position, chosen)
            for row, position in zip(page.rows, coordinates(page.rows, target), strict=True)
        ],
        "numberMatched": page.matched,
        "numberReturned": len(page.rows),
        "timeStamp": _iso(datetime.now(UTC)),
        "links": _page_links(base, collection.id, collection.title_zh, query_pairs, next_cursor),
    }


def _page_links(
    base: str,
    collection_id: str,
    title: str,
    query_pairs: list[tuple[str, str]],
    cursor: str | None,
) -> list[dict[str, str]]:
    """``self``, ``next`` (the same query with the following page's ``cursor``; none on
    the last page) and the collection."""
    items = f"{base}/collections/{collection_id}/items"
    kept = [(k, v) for k, v in query_pairs if k != "cursor"]
    self_query = urlencode(query_pairs)
    links = [link(f"{items}?{self_query}" if self_query else items, "self", GEOJSON, "本页")]
    if cursor is not None:
        links.append(
            link(
                f"{items}?{urlencode([*kept, ('cursor', cursor)])}",
                "next",
                GEOJSON,
                "下一页 / next page",
            )
        )
    links.append(link(f"{base}/collections/{collection_id}", "collection", JSON, title))
    return links


def _chosen(props: dict[str, Any], chosen: tuple[str, ...] | None) -> dict[str, Any]:
    """Only the properties asked for (``properties=``), in the order of the schema."""
    if chosen is None:
        return props
    return {name: value for name, value in props.items() if name in chosen}


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
