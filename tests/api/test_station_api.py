"""The station endpoints as a client sees them: errors, search, pages, GeoJSON, history, routes."""

from __future__ import annotations

import itertools
from urllib.parse import urlsplit

import numpy as np
import pytest
from pyproj import Geod

from api.schemas import NearestAnswer, RouteAnswer, SearchPage, StationDetail
from stations.catalog.vocab import AMENITIES
from stations.db import connection as dbconn
from tests.factories import admin_headers, create_station, set_stock
from tests.fixtures.search.app import running_app
from tests.fixtures.search.stations import demo_city, insert_stations

GEOD = Geod(ellps="WGS84")
AMENITY_LIST = ", ".join(AMENITIES)


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("lat=91&lng=116.8", "lat: must be a latitude in degrees from -90 to 90 (got '91')"),
        ("lat=33.9&lng=-181", "lng: must be a longitude in degrees from -180 to 180 (got '-181')"),
        ("lat=nan&lng=116.8", "lat: must be a latitude in degrees from -90 to 90 (got 'nan')"),
        ("lng=116.8", "lat: must be a latitude in degrees from -90 to 90 (got None)"),
        ("lat=33.9&lng=116.8&k=101", "k: must be an integer from 1 to 100 (got '101')"),
        ("lat=33.9&lng=116.8&k=0", "k: must be an integer from 1 to 100 (got '0')"),
        (
            "lat=33.9&lng=116.8&kind=toilet",
            "kind: unknown kind 'toilet'; allowed values: love_station, water_point",
        ),
        (
            "lat=33.9&lng=116.8&amenity=drinking_water&amenity=sauna",
            f"amenity: unknown amenity 'sauna'; allowed values: {AMENITY_LIST}",
        ),
        (
            "lat=33.9&lng=116.8&access=vip",
            "access: unknown access rule 'vip'; allowed values: open_to_all, members_only, "
            "customers_only, key_or_app (prefix one with '-' to exclude it)",
        ),
        (
            "lat=33.9&lng=116.8&radius_m=-5",
            "radius_m: must be a distance in metres from 0 to 2e+07 (got '-5')",
        ),
        (
            "lat=33.9&lng=116.8&crs=EPSG:3857",
            "crs: unknown CRS 'EPSG:3857'; allowed values: wgs84, gcj02, bd09",
        ),
    ],
)
async def test_nearest_refuses_bad_parameters_naming_them(settings, conn, query, detail):
    async with running_app(settings) as (_, client):
        response = await client.get(f"/v1/stations/nearest?{query}")
    assert response.status_code == 422
    field = detail.split(":", 1)[0]
    assert response.json() == {"detail": detail, "code": "invalid_parameter", "field": field}


async def test_nearest_answer_matches_its_documented_model(settings, conn):
    await insert_stations(conn, demo_city(50, seed=1))
    async with running_app(settings) as (_, client):
        response = await client.get("/v1/stations/nearest?lat=33.95&lng=116.8&k=3&amenity=restroom")
    assert response.headers["content-type"] == "application/json"
    answer = NearestAnswer.model_validate(response.json())
    assert answer.count == len(answer.results) == 3
    assert all("restroom" in r.amenities for r in answer.results)
    assert answer.results[0].rating is None and answer.results[0].water_today is None


async def test_search_finds_two_character_chinese_words(settings, conn):
    await create_station(conn, name="相山公园爱心驿站", address="淮北市相山区人民路12号", lat=33.96)
    await create_station(conn, name="烈山区派水点", address="烈山区杨庄路1号", lat=33.88)
    await create_station(conn, name="驿外之站", address="淮海路", lat=33.90)  # 驿 and 站, apart
    async with running_app(settings) as (_, client):
        by_name = (await client.get("/v1/stations", params={"q": "驿站"})).json()
        by_address = (await client.get("/v1/stations", params={"q": "人民路"})).json()
        one_char = (await client.get("/v1/stations", params={"q": "派"})).json()
        two_words = (await client.get("/v1/stations", params={"q": "相山 12号"})).json()
        nothing = (await client.get("/v1/stations", params={"q": "火车站"})).json()
    assert [i["name"] for i in by_name["items"]] == ["相山公园爱心驿站"]
    assert [i["name"] for i in by_address["items"]] == ["相山公园爱心驿站"]
    assert [i["name"] for i in one_char["items"]] == ["烈山区派水点"]
    assert [i["name"] for i in two_words["items"]] == ["相山公园爱心驿站"]
    assert nothing["items"] == []
    SearchPage.model_validate(by_name)


async def test_search_ignores_case_and_full_width_letters_and_digits(settings, conn):
    # Chinese keyboards type full-width Latin letters and digits (ＥＭＳ, １号); riders type
    # names in any case. Both the catalog and the query are compared in NFKC, lower case.
    await create_station(conn, name="Fontaine Wallace", address="Place de la République")
    await create_station(conn, name="邮政驿站", name_en="EMS Rest Stop", lat=33.95)
    await create_station(conn, name="淮北1号派水点", lat=33.94)
    await create_station(conn, name="ＳＦ速运驿站", address="人民路２８号", lat=33.93)
    async with running_app(settings) as (_, client):

        async def names(q: str) -> list[str]:
            response = await client.get("/v1/stations", params={"q": q})
            assert response.status_code == 200, response.text
            return [i["name"] for i in response.json()["items"]]

        assert await names("Fontaine") == ["Fontaine Wallace"]
        assert await names("fontaine WALLACE") == ["Fontaine Wallace"]
        assert await names("RÉPUBLIQUE") == ["Fontaine Wallace"]
        assert await names("EMS") == ["邮政驿站"]
        assert await names("ems rest") == ["邮政驿站"]
        assert await names("ＥＭＳ") == ["邮政驿站"]
        assert await names("１号") == ["淮北1号派水点"]
        assert await names("sf速运") == ["ＳＦ速运驿站"]
        assert await names("28号") == ["ＳＦ速运驿站"]
        assert await names("Ｆ") == ["Fontaine Wallace", "ＳＦ速运驿站"]  # one character


async def test_search_answers_carry_water_today_and_filter_water_now(settings, conn):
    stocked = await create_station(conn, name="人民路派水点", kind="water_point")
    empty = await create_station(conn, name="淮海路派水点", kind="water_point", lat=33.95)
    unset = await create_station(conn, name="相山派水点", kind="water_point", lat=33.94)
    paused = await create_station(
        conn, name="暂停派水点", kind="water_point", status="temporarily_closed", lat=33.93
    )
    for station, bottles in ((stocked, 12), (empty, 0), (paused, 4)):
        await set_stock(conn, station["id"], bottles)
    today = str(await conn.fetchval("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date"))
    async with running_app(settings) as (_, client):
        every = (await client.get("/v1/stations", params={"q": "派水点"})).json()
        wet = (await client.get("/v1/stations", params={"water_now": "true"})).json()
        paged = (await client.get("/v1/stations", params={"water_now": "true", "limit": 1})).json()
        geojson = (
            await client.get("/v1/stations", params={"water_now": "true", "f": "geojson"})
        ).json()
        bad = await client.get("/v1/stations", params={"water_now": "sometimes"})
    water = {i["id"]: i["water_today"] for i in every["items"]}
    assert water == {
        stocked["id"]: {"local_day": today, "allocated": 12, "remaining": 12},
        empty["id"]: {"local_day": today, "allocated": 0, "remaining": 0},
        unset["id"]: None,
        paused["id"]: {"local_day": today, "allocated": 4, "remaining": 4},
    }
    SearchPage.model_validate(every)
    # Water now: bottles left today, whatever the station's status filter lets through.
    assert [i["id"] for i in wet["items"]] == [stocked["id"], paused["id"]]
    assert [i["id"] for i in paged["items"]] == [stocked["id"]] and paged["next"]
    assert [f["properties"]["water_today"]["remaining"] for f in geojson["features"]] == [12, 4]
    assert bad.status_code == 422
    assert bad.json()["field"] == "water_now"


def _pair(a: str, b: str) -> int:
    return ord(a) << 21 | ord(b)


async def test_grams_are_the_character_pairs_inside_words(conn):
    grams = await conn.fetchval("SELECT station_grams('爱心驿站', NULL, 'Rest, A·B 站')")
    # Lower-cased; words end at spaces and punctuation; a one-character word has no pair.
    assert sorted(grams) == sorted(
        [
            _pair("爱", "心"),
            _pair("心", "驿"),
            _pair("驿", "站"),
            _pair("r", "e"),
            _pair("e", "s"),
            _pair("s", "t"),
        ]
    )
    assert await conn.fetchval("SELECT station_grams('派', NULL)") == []
    # Full-width letters and digits are their ASCII selves (NFKC), in lower case.
    assert await conn.fetchval("SELECT station_grams('ＥＭ', '１号')") == [
        _pair("e", "m"),
        _pair("1", "号"),
    ]


async def test_one_character_terms_are_searched_without_the_gram_index(settings, conn):
    await create_station(conn, name="派水点", address="A 路", lat=33.96)
    await create_station(conn, name="驿站", address="B路", lat=33.90)
    async with running_app(settings) as (_, client):
        single = (await client.get("/v1/stations", params={"q": "a"})).json()
        mixed = (await client.get("/v1/stations", params={"q": "b 驿站"})).json()
        inside = (await client.get("/v1/stations", params={"q": "b路"})).json()
    assert [i["name"] for i in single["items"]] == ["派水点"]
    assert [i["name"] for i in mixed["items"]] == ["驿站"]
    assert [i["name"] for i in inside["items"]] == ["驿站"]


async def test_text_search_can_use_the_gram_index(conn):
    # The search's expression must be the indexed one, or two-character queries scan.
    await insert_stations(conn, demo_city(300, seed=2))
    async with conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        lines = await conn.fetch(
            "EXPLAIN SELECT id FROM stations "
            "WHERE station_grams(name, name_en, address) @> station_grams('淮海')"
        )
    plan = "\n".join(line[0] for line in lines)
    assert "stations_search_grams" in plan


async def test_search_pages_with_next_links_until_the_end(settings, conn):
    rows = demo_city(130, seed=3)
    await insert_stations(conn, rows)
    wanted = sorted(
        r["id"]
        for r in rows
        if r["kind"] == "love_station" and r["status"] in ("active", "temporarily_closed")
    )
    seen: list[int] = []
    async with running_app(settings) as (_, client):
        url: str | None = "/v1/stations?kind=love_station&limit=20"
        while url:
            page = (await client.get(url)).json()
            seen.extend(i["id"] for i in page["items"])
            url = page["next"]
            if url:
                parts = urlsplit(url)
                assert "kind=love_station" in parts.query and "limit=20" in parts.query
                url = f"{parts.path}?{parts.query}"
    assert seen == wanted


async def test_search_filters_by_box_amenity_status_and_district(settings, conn):
    rows = demo_city(400, seed=4)
    await insert_stations(conn, rows)
    await conn.execute("UPDATE stations SET status = 'closed' WHERE id % 7 = 0")
    rows = [
        dict(r)
        for r in await conn.fetch("SELECT id, status, district, amenities, geom FROM stations")
    ]
    west, south, east, north = 116.75, 33.92, 116.85, 33.98
    async with running_app(settings) as (_, client):
        boxed = (
            await client.get(
                "/v1/stations",
                params={
                    "bbox": f"{west},{south},{east},{north}",
                    "amenity": "drinking_water,seating",
                    "status": "active",
                    "limit": 500,
                },
            )
        ).json()
        closed = (await client.get("/v1/stations?status=closed&district=相山区&limit=500")).json()
    expected = sorted(
        r["id"]
        for r in rows
        if west <= r["geom"].x <= east
        and south <= r["geom"].y <= north
        and {"drinking_water", "seating"} <= set(r["amenities"])
        and r["status"] == "active"
    )
    assert [i["id"] for i in boxed["items"]] == expected
    assert expected
    assert {i["status"] for i in closed["items"]} == {"closed"}
    assert {i["district"] for i in closed["items"]} == {"相山区"}


@pytest.mark.parametrize(
    ("query", "detail_start"),
    [
        ("bbox=1,2,3", "bbox: '1,2,3' is not a bbox"),
        ("bbox=116,34,117,33", "bbox: the minimum must be below the maximum"),
        ("bbox=200,33,201,34", "bbox: longitudes must be from -180 to 180"),
        ("status=open", "status: unknown status 'open'; allowed values: active"),
        ("kind=shop", "kind: unknown kind 'shop'; allowed values: love_station, water_point"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor: not a cursor from this API"),
        ("limit=501", "limit: Input should be less than or equal to 500"),
        ("q=%00", "q: contains the control character U+0000"),
    ],
)
async def test_search_refuses_bad_parameters_naming_them(settings, conn, query, detail_start):
    async with running_app(settings) as (_, client):
        response = await client.get(f"/v1/stations?{query}")
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail_start)


async def test_geojson_by_accept_header_or_f_parameter(settings, conn):
    row = await create_station(conn, name="相山公园爱心驿站", lat=33.9556, lng=116.7983)
    async with running_app(settings) as (_, client):
        by_header = await client.get("/v1/stations", headers={"Accept": "application/geo+json"})
        by_param = await client.get("/v1/stations?f=geojson")
        feature = await client.get(f"/v1/stations/{row['id']}?f=geojson")
    assert by_header.headers["content-type"] == "application/geo+json"
    collection = by_param.json()
    assert collection["type"] == "FeatureCollection"
    assert collection["features"][0]["geometry"] == {
        "type": "Point",
        "coordinates": [116.7983, 33.9556],  # lon, lat (RFC 7946)
    }
    assert feature.json()["type"] == "Feature"
    assert feature.json()["properties"]["name"] == "相山公园爱心驿站"


async def test_station_detail_and_unknown_ids(settings, conn):
    row = await create_station(conn, opening_hours="Mo-Fr 08:00-18:00")
    async with running_app(settings) as (_, client):
        detail = await client.get(f"/v1/stations/{row['id']}")
        missing = await client.get("/v1/stations/999999")
        huge = await client.get("/v1/stations/99999999999999999999")
        missing_history = await client.get("/v1/stations/999999/history")
    StationDetail.model_validate(detail.json())
    assert detail.json()["code"] == row["code"]
    assert missing.status_code == 404
    gone = {
        "detail": "there is no station 999999; "
        + "check the id (search or list stations to find it)",
        "code": "station_not_found",
        "station_id": 999999,
    }
    assert missing.json() == gone
    assert huge.status_code == 422
    assert (missing_history.status_code, missing_history.json()) == (404, gone)


async def test_history_lists_every_change_newest_first_in_pages(settings, conn):
    row = await create_station(conn, name="旧名字")
    for n in range(5):
        async with dbconn.transaction(conn, actor="operator:7", reason=f"change {n}"):
            await conn.execute("UPDATE stations SET name = $2 WHERE id = $1", row["id"], f"名字{n}")
    await conn.execute("DELETE FROM stations WHERE id = $1", row["id"])
    admin = admin_headers(settings)
    async with running_app(settings) as (_, client):
        first = (await client.get(f"/v1/stations/{row['id']}/history?limit=4")).json()
        path = urlsplit(first["next"])
        second = (await client.get(f"{path.path}?{path.query}")).json()
        staff = (await client.get(f"/v1/stations/{row['id']}/history", headers=admin)).json()
    actions = [h["action"] for h in first["items"] + second["items"]]
    assert actions == ["delete", "update", "update", "update", "update", "update", "create"]
    # the public sees the role; staff see who it was
    assert first["items"][1]["actor"] == "operator"
    assert staff["items"][1]["actor"] == "operator:7"
    assert first["items"][1]["new_values"] == {"name": "名字4"}
    assert first["items"][1]["reason"] == "change 4"
    assert second["next"] is None


def _off_and_along(route: list[tuple[float, float]], lat: float, lng: float) -> tuple[float, float]:
    """Brute force: the route sampled every metre, geodesics from the station to each sample."""
    samples = []
    along = []
    done = 0.0
    for (lng1, lat1), (lng2, lat2) in itertools.pairwise(route):
        az, _, length = GEOD.inv(lng1, lat1, lng2, lat2)
        steps = np.arange(0.0, length, 1.0)
        s_lng, s_lat, _ = GEOD.fwd(
            np.full(len(steps), lng1), np.full(len(steps), lat1), np.full(len(steps), az), steps
        )
        samples.append(np.column_stack((s_lat, s_lng)))
        along.append(done + steps)
        done += length
    points = np.vstack(samples)
    distances = GEOD.inv(
        np.full(len(points), lng), np.full(len(points), lat), points[:, 1], points[:, 0]
    )[2]
    best = int(np.argmin(distances))
    return float(distances[best]), float(np.concatenate(along)[best])


async def test_along_route_orders_stations_by_where_the_rider_meets_them(settings, conn):
    rows = demo_city(600, seed=9)
    await insert_stations(conn, rows)
    route = [(116.770, 33.945), (116.800, 33.956), (116.805, 33.975), (116.830, 33.980)]
    async with running_app(settings) as (_, client):
        response = await client.post(
            "/v1/stations/along-route",
            json={
                "route": {"type": "LineString", "coordinates": [list(p) for p in route]},
                "max_detour_m": 250,
                "limit": 1000,
            },
        )
    assert response.status_code == 200, response.text
    answer = RouteAnswer.model_validate(response.json())
    along = [r.distance_along_route_m for r in answer.results]
    assert along == sorted(along)
    found = {r.id: r for r in answer.results}
    near_lng = [r for r in rows if r["status"] == "active" and 116.75 < r["lng"] < 116.85]
    for row in near_lng:
        off, at = _off_and_along(route, row["lat"], row["lng"])
        if off < 248:
            assert row["id"] in found, (row["id"], off)
            assert found[row["id"]].distance_off_route_m == pytest.approx(off, abs=1.0)
            assert found[row["id"]].distance_along_route_m == pytest.approx(at, abs=3.0)
        elif off > 252:
            assert row["id"] not in found
    assert len(found) > 10


@pytest.mark.parametrize(
    ("body", "detail_start"),
    [
        ({"route": {"type": "Point", "coordinates": [116.8, 33.9]}}, "route.type:"),
        ({"route": {"type": "LineString", "coordinates": [[116.8, 33.9]]}}, "route.coordinates:"),
        (
            {"route": {"type": "LineString", "coordinates": [[33.9, 116.8], [33.95, 116.8]]}},
            "route.coordinates.0: [lng, lat] must have lng from -180 to 180 and lat from -90 to 90",
        ),
        (
            {"route": {"type": "LineString", "coordinates": [[116.8], [116.9, 33.9]]}},
            "route.coordinates.0: a position is [lng, lat]",
        ),
        (
            {"route": {"type": "LineString", "coordinates": [[100, 30], [110, 40]]}},
            "route: 1434.6 km long; send at most 500 km",
        ),
        (
            {
                "route": {"type": "LineString", "coordinates": [[116.8, 33.9], [116.9, 33.9]]},
                "max_detour_m": 0,
            },
            "max_detour_m: Input should be greater than 0",
        ),
    ],
)
async def test_along_route_refuses_malformed_routes(settings, conn, body, detail_start):
    async with running_app(settings) as (_, client):
        response = await client.post("/v1/stations/along-route", json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail_start)


async def test_batch_limits_are_enforced(settings, conn):
    async with running_app(settings) as (_, client):
        too_many = await client.post(
            "/v1/stations/nearest:batch",
            headers=admin_headers(settings),
            json={"points": [{"lat": 33.9, "lng": 116.8}] * 10_001},
        )
        big_k = await client.post(
            "/v1/stations/nearest:batch",
            headers=admin_headers(settings),
            json={"points": [{"lat": 33.9, "lng": 116.8}], "k": 21},
        )
        bad_point = await client.post(
            "/v1/stations/nearest:batch",
            headers=admin_headers(settings),
            json={"points": [{"lat": 95, "lng": 116.8}]},
        )
        empty = await client.post(
            "/v1/stations/nearest:batch",
            headers=admin_headers(settings),
            json={"points": [{"lat": 1, "lng": 2}]},
        )
    assert too_many.status_code == 422
    assert too_many.json()["detail"].startswith("points: List should have at most 10000 items")
    assert big_k.json()["detail"].startswith("k: Input should be less than or equal to 20")
    assert bad_point.json()["detail"].startswith(
        "points.0.lat: Input should be less than or equal to 90"
    )
    assert empty.status_code == 200 and empty.json()["answers"] == [[]]


async def test_openapi_documents_nearest_parameters_with_examples(settings, conn):
    async with running_app(settings) as (_, client):
        spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/stations/nearest"]["get"]
    names = {p["name"]: p for p in operation["parameters"]}
    assert {
        "lat",
        "lng",
        "k",
        "radius_m",
        "kind",
        "amenity",
        "access",
        "open_now",
        "open_at",
    } <= set(names)
    assert all(p["schema"].get("examples") for p in names.values())
    assert names["amenity"]["schema"]["items"]["enum"] == list(AMENITIES)
    assert "/v1/stations/nearest:batch" in spec["paths"]
    assert "/v1/stations/along-route" in spec["paths"]


@pytest.mark.parametrize("query", ["district=", "district=%20", "status=", "status=,"])
async def test_search_refuses_an_empty_district_or_status(client, query):
    """Given empty, a filter is a mistake to report, never silently dropped."""
    response = await client.get(f"/v1/stations?{query}")
    assert response.status_code == 422
    field = query.split("=")[0]
    assert response.json()["field"] == field
    assert response.json()["detail"].startswith(f"{field}: empty;")
