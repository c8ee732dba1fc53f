"""/ogc's documents hold to the schemas of OGC API – Features – Part 1 (version 1.0).

The standard describes its responses in OpenAPI 3.0 schemas (``core/openapi/schemas`` of
opengeospatial/ogcapi-features: root, confClasses, collections, collectionInfo, extent,
link, featureCollectionGeoJSON, numberMatched, numberReturned, timeStamp). Below are
the same rules as JSON Schema (OpenAPI's ``nullable`` written as a ``null`` type), and
every document of the landing page, the conformance declaration, the collections and
each collection, and a page of items, is validated against them.
"""

from __future__ import annotations

import jsonschema_rs
import pytest

from tests.fixtures.coverage.demo_city import build_demo_city

LINK = {
    "type": "object",
    "required": ["href", "rel"],
    "properties": {
        "href": {"type": "string"},
        "rel": {"type": "string"},
        "type": {"type": "string"},
        "hreflang": {"type": "string"},
        "title": {"type": "string"},
        "length": {"type": "integer"},
    },
}
LINKS = {"type": "array", "items": LINK}
BBOX = {
    "type": "array",
    "items": {"type": "number"},
    "oneOf": [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}],
}
EXTENT = {
    "type": "object",
    "properties": {
        "spatial": {
            "type": "object",
            "properties": {
                "bbox": {"type": "array", "minItems": 1, "items": BBOX},
                "crs": {
                    "type": "string",
                    "enum": [
                        "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                        "http://www.opengis.net/def/crs/OGC/0/CRS84h",
                    ],
                },
            },
        },
        "temporal": {
            "type": "object",
            "properties": {
                "interval": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "array",
                        "minItems": 2,
                        "maxItems": 2,
                        "items": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
                "trs": {
                    "type": "string",
                    "enum": ["http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"],
                },
            },
        },
    },
}
COLLECTION = {
    "type": "object",
    "required": ["id", "links"],
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "links": LINKS,
        "extent": EXTENT,
        "itemType": {"type": "string"},
        "crs": {"type": "array", "items": {"type": "string"}},
    },
}
SCHEMAS = {
    "landing page": {
        "type": "object",
        "required": ["links"],
        "properties": {
            "title": {"type": "string"},
            "description": {"type": "string"},
            "links": LINKS,
        },
    },
    "conformance": {
        "type": "object",
        "required": ["conformsTo"],
        "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
    },
    "collections": {
        "type": "object",
        "required": ["links", "collections"],
        "properties": {"links": LINKS, "collections": {"type": "array", "items": COLLECTION}},
    },
    "collection": COLLECTION,
    "items": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "geometry", "properties"],
                    "properties": {
                        "type": {"type": "string", "enum": ["Feature"]},
                        "geometry": {"type": ["object", "null"]},
                        "properties": {"type": ["object", "null"]},
                        "id": {"type": ["string", "integer"]},
                        "links": LINKS,
                    },
                },
            },
            "links": LINKS,
            "timeStamp": {"type": "string", "format": "date-time"},
            "numberMatched": {"type": "integer", "minimum": 0},
            "numberReturned": {"type": "integer", "minimum": 0},
        },
    },
}


def check(kind: str, document: dict) -> None:
    validator = jsonschema_rs.validator_for(SCHEMAS[kind], validate_formats=True)
    errors = [
        f"{'/'.join(map(str, e.instance_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]
    assert errors == [], f"{kind}: {errors[:5]}"


@pytest.fixture
def auth(settings):
    return {"Authorization": f"Bearer {settings.security.admin_token.get_secret_value()}"}


async def test_every_document_holds_to_the_standards_schemas(client, conn, auth):
    await build_demo_city(conn, stations=12, demand=200)
    check("landing page", (await client.get("/ogc")).json())
    check("conformance", (await client.get("/ogc/conformance")).json())
    collections = (await client.get("/ogc/collections")).json()
    check("collections", collections)
    assert len(collections["collections"]) == 4
    for listed in collections["collections"]:
        check("collection", (await client.get(f"/ogc/collections/{listed['id']}")).json())
    for path, params in (
        ("/ogc/collections/stations/items", {"limit": "5"}),
        ("/ogc/collections/water_points/items", {}),
        ("/ogc/collections/coverage-cells/items", {"city": "huaibei", "res": "7"}),
        ("/ogc/collections/demand-cells/items", {"city": "huaibei", "res": "7"}),
    ):
        response = await client.get(path, params=params, headers=auth)
        assert response.status_code == 200, response.text
        check("items", response.json())


def test_the_schemas_refuse_what_the_standard_refuses():
    """The checks can fail: documents missing what the standard requires are refused."""
    for kind, bad in (
        ("landing page", {"title": "no links"}),
        ("conformance", {"conformsTo": "not a list"}),
        ("collections", {"links": []}),
        ("collection", {"id": "x", "links": [{"rel": "self"}]}),  # a link without href
        ("collection", {"id": "x", "links": [], "extent": {"spatial": {"bbox": [[1, 2, 3]]}}}),
        ("items", {"type": "FeatureCollection", "features": [], "numberMatched": -1}),
    ):
        validator = jsonschema_rs.validator_for(SCHEMAS[kind])
        assert not validator.is_valid(bad), (kind, bad)
