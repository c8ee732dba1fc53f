"""OGC API – Features Part 1 at /ogc: documents, paging, filters, and 400/404 answers."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from stations.catalog.fields import PUBLIC_FIELDS
from stations.ogc import params
from stations.ogc.filter import QUERYABLES
from tests.factories import HUAIBEI_CENTRE, create_station

LAT, LNG = HUAIBEI_CENTRE


async def _catalog(conn):
    """Twelve love stations, five water points, one closed, in and out of a bbox."""
    made = []
    for i in range(12):
        made.append(
            await create_station(
                conn,
                name=f"驿站{i}",
                lat=LAT + i * 0.001,
                lng=LNG,
                district="相山区" if i % 2 else "杜集区",
                verified_at=datetime(2026, 6, 1 + i, 8, tzinfo=UTC),
            )
        )
    for i in range(5):
        made.append(
            await create_station(
                conn,
                name=f"派水点{i}",
                kind="water_point",
                lat=LAT - 0.5,
                lng=LNG + i * 0.001,
                amenities=["drinking_water", "shade"],
            )
        )
    made.append(await create_station(conn, name="停用驿站", status="closed", lat=LAT + 1, lng=LNG))
    return made


async def _all_pages(client, url):
    """Follow `next` links to the end; every page's features and how many pages."""
    found, pages = [], 0
    while url:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/geo+json")
        body = response.json()
        pages += 1
        assert body["numberReturned"] == len(body["features"])
        found.extend(body["features"])
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0] if nxt else None
    return found, pages, body["numberMatched"]


async def test_landing_page_links_the_api_conformance_and_collections(client):
    response = await client.get("/ogc")
    assert response.status_code == 200
    rels = {link["rel"]: link for link in response.json()["links"]}
    assert rels["service-desc"]["href"] == "http://testserver/ogc/api"
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["conformance"]["href"] == "http://testserver/ogc/conformance"
    assert rels["data"]["href"] == "http://testserver/ogc/collections"
    conformance = (await client.get("/ogc/conformance")).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conformance
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30" in conformance


async def test_collections_carry_their_extent_and_items_link(client, conn):
    await _catalog(conn)
    body = (await client.get("/ogc/collections")).json()
    by_id = {c["id"]: c for c in body["collections"]}
    assert set(by_id) == {"stations", "water_points", "coverage-cells", "demand-cells"}
    water = by_id["water_points"]
    west, south, east, north = water["extent"]["spatial"]["bbox"][0]
    assert south == pytest.approx(LAT - 0.5) and north == pytest.approx(LAT - 0.5)
    assert west == pytest.approx(LNG) and east == pytest.approx(LNG + 0.004)
    start, end = water["extent"]["temporal"]["interval"][0]
    assert start <= end and start.endswith("Z")
    items = [link for link in water["links"] if link["rel"] == "items"]
    assert items[0]["href"] == "http://testserver/ogc/collections/water_points/items"
    assert items[0]["type"] == "application/geo+json"
    one = (await client.get("/ogc/collections/stations")).json()
    assert one["id"] == "stations" and one["itemType"] == "feature"
    assert one["extent"]["spatial"]["bbox"][0][3] == pytest.approx(LAT + 1)


async def test_items_page_through_every_feature_by_next_links(client, conn):
    made = await _catalog(conn)
    found, pages, matched = await _all_pages(client, "/ogc/collections/stations/items?limit=4")
    assert [f["id"] for f in found] == sorted(r["id"] for r in made)
    assert matched == len(made) == 18 and pages == 5
    water, _, matched = await _all_pages(client, "/ogc/collections/water_points/items")
    assert matched == 5 and {f["properties"]["kind"] for f in water} == {"water_point"}


async def test_a_feature_carries_the_field_tables_public_fields(client, conn):
    station = await create_station(
        conn, name="相山公园爱心驿站", verified_at=datetime(2026, 6, 1, tzinfo=UTC)
    )
    response = await client.get(f"/ogc/collections/stations/items/{station['id']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "Feature" and body["id"] == station["id"]
    assert body["geometry"] == {"type": "Point", "coordinates": [LNG, LAT]}
    props = body["properties"]
    assert set(props) == {"code", *PUBLIC_FIELDS, "version", "updated_at"}
    assert props["name"] == "相山公园爱心驿站"
    assert props["verified_at"] == "2026-06-01T00:00:00Z"
    assert props["amenities"] == ["drinking_water", "seating", "phone_charging"]
    assert "attributes" not in props  # not public
    self_link = next(link for link in body["links"] if link["rel"] == "self")
    assert urlsplit(self_link["href"]).path == f"/ogc/collections/stations/items/{station['id']}"


async def test_queryables_filter_the_items(client, conn):
    await _catalog(conn)

    async def matched(query):
        response = await client.get(f"/ogc/collections/stations/items?{query}")
        assert response.status_code == 200, response.text
        return response.json()["numberMatched"]

    assert await matched("kind=water_point") == 5
    assert await matched("kind=water_point,love_station") == 18
    assert await matched("amenity=shade") == 5
    assert await matched("amenity=shade&amenity=drinking_water") == 5
    assert await matched("status=closed") == 1
    assert await matched("district=杜集区") == 6  # half the love stations; the rest 相山区
    assert await matched("district=相山区&kind=love_station") == 7  # and the closed one
    assert await matched(f"bbox={LNG - 0.01},{LAT - 0.01},{LNG + 0.01},{LAT + 0.02}") == 12


async def test_bbox_selects_what_postgis_finds_in_the_box(client, conn):
    await _catalog(conn)
    box = (LNG - 0.01, LAT - 0.6, LNG + 0.0025, LAT + 0.0045)
    expected = await conn.fetchval(
        "SELECT count(*) FROM stations WHERE geom::geometry && ST_MakeEnvelope($1,$2,$3,$4,4326)",
        *box,
    )
    body = (
        await client.get(f"/ogc/collections/stations/items?bbox={','.join(map(str, box))}")
    ).json()
    assert body["numberMatched"] == expected == 8  # 5 love stations and 3 water points
    three_d = ",".join(map(str, (box[0], box[1], -10, box[2], box[3], 10)))
    body = (await client.get(f"/ogc/collections/stations/items?bbox={three_d}")).json()
    assert body["numberMatched"] == expected


async def test_datetime_and_verified_at_take_instants_and_intervals(client, conn):
    await _catalog(conn)

    async def matched(query):
        response = await client.get(f"/ogc/collections/stations/items?{query}")
        assert response.status_code == 200, response.text
        return response.json()["numberMatched"]

    assert await matched("datetime=2000-01-01T00:00:00Z/..") == 18
    assert await matched("datetime=../2000-01-01T00:00:00Z") == 0
    assert await matched("datetime=2000-01-01/") == 18
    assert await matched("verified_at=2026-06-01T08:00:00Z") == 1
    assert await matched("verified_at=2026-06-03") == 1
    assert await matched("verified_at=2026-06-01T08:00:00%2B00:00/2026-06-05T08:00:00Z") == 5
    assert await matched("verified_at=2026-06-10/..") == 3
    assert await matched("verified_at=../2026-06-02T16:00:00%2B08:00") == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=ten", "limit"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=10,60,20,50", "bbox"),
        ("datetime=yesterday", "datetime"),
        ("datetime=2026-06-01T08:00:00", "datetime"),
        ("datetime=../..", "datetime"),
        ("datetime=2026-06-02/2026-06-01", "datetime"),
        ("kind=hotel", "kind"),
        ("amenity=pool", "amenity"),
        ("status=", "status"),
        ("cursor=nonsense", "cursor"),
        ("limit=5&limit=6", "limit"),
        ("crs=a&crs=b", "crs"),
        ("colour=red", "colour"),
        ("f=xml", "f"),
    ],
)
async def test_a_bad_parameter_is_a_400_naming_it(client, query, field):
    response = await client.get(f"/ogc/collections/stations/items?{query}")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "bad_query_parameter" and body["field"] == field
    assert body["detail"].startswith(f"{field}:")


async def test_water_points_offer_no_kind_queryable(client):
    response = await client.get("/ogc/collections/water_points/items?kind=love_station")
    assert response.status_code == 400 and response.json()["field"] == "kind"
    doc = (await client.get("/ogc/api")).json()
    parameters = doc["paths"]["/collections/water_points/items"]["get"]["parameters"]
    assert {"amenity", "status", "district"} <= {p["name"] for p in parameters}


async def test_unknown_collection_and_feature_are_404(client, conn):
    station = await create_station(conn, name="爱心驿站")
    response = await client.get("/ogc/collections/hotels/items")
    assert response.status_code == 404
    assert response.json()["code"] == "collection_not_found"
    assert response.json()["collection"] == "hotels"
    for feature_id in ("999999", "abc", "１２", "9" * 40):
        response = await client.get(f"/ogc/collections/stations/items/{feature_id}")
        assert response.status_code == 404
        assert response.json()["code"] == "feature_not_found"
    # A love station is not in the water points' collection.
    response = await client.get(f"/ogc/collections/water_points/items/{station['id']}")
    assert response.status_code == 404


async def test_queryables_are_a_json_schema(client):
    response = await client.get("/ogc/collections/stations/queryables")
    assert response.headers["content-type"].startswith("application/schema+json")
    schema = response.json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "http://testserver/ogc/collections/stations/queryables"
    assert set(schema["properties"]) == set(QUERYABLES)
    assert {"kind", "amenity", "status", "district", "verified_at"} <= set(schema["properties"])
    assert schema["properties"]["kind"]["enum"] == ["love_station", "water_point"]
    assert schema["properties"]["verified_at"]["format"] == "date-time"
    assert schema["properties"]["geometry"]["x-ogc-role"] == "primary-geometry"


async def test_the_api_document_is_openapi_3_0_with_each_collections_parameters(client):
    response = await client.get("/ogc/api")
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    doc = response.json()
    assert doc["openapi"].startswith("3.0.")
    items = doc["paths"]["/collections/stations/items"]["get"]["parameters"]
    by_name = {p["name"]: p for p in items}
    assert by_name["limit"]["schema"]["maximum"] == params.MAX_LIMIT
    assert {"bbox", "datetime", "kind", "amenity", "status", "district"} <= set(by_name)
    assert "kind" not in {
        p["name"] for p in doc["paths"]["/collections/water_points/items"]["get"]["parameters"]
    }


async def test_the_feature_schema_types_every_property_from_the_field_table(client):
    collection = (await client.get("/ogc/collections/stations")).json()
    described = next(link for link in collection["links"] if link["rel"] == "describedby")
    assert described["type"] == "application/schema+json"
    response = await client.get(urlsplit(described["href"]).path)
    assert response.headers["content-type"].startswith("application/schema+json")
    props = response.json()["properties"]
    assert set(props) == {"geometry", "code", *PUBLIC_FIELDS, "version", "updated_at"}
    assert props["verified_at"] == {
        "title": "when someone last checked the listing on site",
        "type": "string",
        "format": "date-time",
    }
    assert props["amenities"]["type"] == "array"
    assert "shade" in props["amenities"]["items"]["enum"]
    assert props["name"]["maxLength"] == 200
    assert props["geometry"]["x-ogc-role"] == "primary-geometry"


async def test_the_same_value_twice_is_one_value(client, conn):
    """GDAL appends its URL's query to `next` links that carry it already."""
    await _catalog(conn)
    response = await client.get("/ogc/collections/stations/items?limit=4&limit=4")
    assert response.status_code == 200 and response.json()["numberReturned"] == 4
