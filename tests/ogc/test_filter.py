"""CQL2 filters, sortby and properties on /ogc items (OGC API – Features Part 3)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from stations.errors import BadQuery
from stations.ogc.filter import parse_filter
from tests.factories import HUAIBEI_CENTRE, create_station

LAT, LNG = HUAIBEI_CENTRE
ITEMS = "/ogc/collections/stations/items"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"


@pytest.fixture
async def catalog(conn):
    made = []
    for i in range(10):
        made.append(
            await create_station(
                conn,
                name=f"相山{i}号驿站" if i % 2 else f"人民路_{i}%驿站",
                kind="water_point" if i % 3 == 0 else "love_station",
                status="closed" if i == 9 else "active",
                district="相山区" if i < 5 else "杜集区",
                amenities=["shade", "drinking_water"] if i % 4 == 0 else ["seating"],
                lat=LAT + i * 0.01,
                lng=LNG + i * 0.01,
                verified_at=datetime(2026, 6, 1 + i, tzinfo=UTC) if i < 7 else None,
            )
        )
    return made


async def _ids(client, query: str) -> list[int]:
    response = await client.get(f"{ITEMS}?limit=100&{query}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["numberMatched"] == body["numberReturned"]
    return [f["id"] for f in body["features"]]


async def _expected(conn, where: str) -> list[int]:
    return [
        r["id"] for r in await conn.fetch(f"SELECT id FROM stations s WHERE {where} ORDER BY id")
    ]


def _text(cql: str) -> str:
    return "filter=" + quote(cql, safe="")


def _json(doc: dict) -> str:
    return "filter-lang=cql2-json&filter=" + quote(json.dumps(doc), safe="")


def _nested_not(depth: int) -> dict:
    node: dict = {"op": "=", "args": [{"property": "kind"}, "x"]}
    for _ in range(depth):
        node = {"op": "not", "args": [node]}
    return node


CASES = [
    (
        "kind = 'water_point'",
        {"op": "=", "args": [{"property": "kind"}, "water_point"]},
        "s.kind = 'water_point'",
    ),
    (
        "kind <> 'water_point' AND status = 'active'",
        {
            "op": "and",
            "args": [
                {"op": "<>", "args": [{"property": "kind"}, "water_point"]},
                {"op": "=", "args": [{"property": "status"}, "active"]},
            ],
        },
        "s.kind <> 'water_point' AND s.status = 'active'",
    ),
    (
        "district = '杜集区' OR NOT (kind = 'love_station')",
        {
            "op": "or",
            "args": [
                {"op": "=", "args": [{"property": "district"}, "杜集区"]},
                {
                    "op": "not",
                    "args": [{"op": "=", "args": [{"property": "kind"}, "love_station"]}],
                },
            ],
        },
        "s.district = '杜集区' OR s.kind <> 'love_station'",
    ),
    (
        "name LIKE '相山%'",
        {"op": "like", "args": [{"property": "name"}, "相山%"]},
        "s.name LIKE '相山%'",
    ),
    # `_` is one character, `\\` escapes: 人民路_ literally, then anything.
    (
        "name LIKE '人民路\\_%'",
        {"op": "like", "args": [{"property": "name"}, "人民路\\_%"]},
        "s.name LIKE '人民路\\_%'",
    ),
    (
        "name LIKE '相山_号驿站'",
        {"op": "like", "args": [{"property": "name"}, "相山_号驿站"]},
        "s.name LIKE '相山_号驿站'",
    ),
    (
        "status IN ('closed', 'temporarily_closed')",
        {"op": "in", "args": [{"property": "status"}, ["closed", "temporarily_closed"]]},
        "s.status IN ('closed', 'temporarily_closed')",
    ),
    (
        "amenity = 'shade'",
        {"op": "=", "args": [{"property": "amenity"}, "shade"]},
        "'shade' = ANY(s.amenities)",
    ),
    (
        "amenity IN ('shade', 'wifi')",
        {"op": "in", "args": [{"property": "amenity"}, ["shade", "wifi"]]},
        "s.amenities && ARRAY['shade', 'wifi']",
    ),
    (
        "verified_at IS NULL",
        {"op": "isNull", "args": [{"property": "verified_at"}]},
        "s.verified_at IS NULL",
    ),
    (
        "verified_at IS NOT NULL AND kind = 'love_station'",
        {
            "op": "and",
            "args": [
                {"op": "not", "args": [{"op": "isNull", "args": [{"property": "verified_at"}]}]},
                {"op": "=", "args": [{"property": "kind"}, "love_station"]},
            ],
        },
        "s.verified_at IS NOT NULL AND s.kind = 'love_station'",
    ),
    (
        "verified_at BETWEEN TIMESTAMP('2026-06-02T00:00:00Z') "
        "AND TIMESTAMP('2026-06-04T00:00:00Z')",
        {
            "op": "between",
            "args": [
                {"property": "verified_at"},
                {"timestamp": "2026-06-02T00:00:00Z"},
                {"timestamp": "2026-06-04T00:00:00Z"},
            ],
        },
        "s.verified_at BETWEEN '2026-06-02T00:00:00Z' AND '2026-06-04T00:00:00Z'",
    ),
    (
        "verified_at >= DATE('2026-06-05')",
        {"op": ">=", "args": [{"property": "verified_at"}, {"date": "2026-06-05"}]},
        "s.verified_at >= '2026-06-05T00:00:00Z'",
    ),
    (
        f"S_INTERSECTS(geometry, BBOX({LNG - 0.001}, {LAT - 0.001}, {LNG + 0.025}, {LAT + 0.025}))",
        {
            "op": "s_intersects",
            "args": [
                {"property": "geometry"},
                {"bbox": [LNG - 0.001, LAT - 0.001, LNG + 0.025, LAT + 0.025]},
            ],
        },
        f"s.geom::geometry && ST_MakeEnvelope({LNG - 0.001}, {LAT - 0.001}, {LNG + 0.025}, "
        f"{LAT + 0.025}, 4326)",
    ),
    (
        f"S_INTERSECTS(geometry, POLYGON(({LNG - 0.001} {LAT - 0.001}, {LNG + 0.1} {LAT - 0.001}, "
        f"{LNG - 0.001} {LAT + 0.1}, {LNG - 0.001} {LAT - 0.001})))",
        {
            "op": "s_intersects",
            "args": [
                {"property": "geometry"},
                {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [LNG - 0.001, LAT - 0.001],
                            [LNG + 0.1, LAT - 0.001],
                            [LNG - 0.001, LAT + 0.1],
                            [LNG - 0.001, LAT - 0.001],
                        ]
                    ],
                },
            ],
        },
        f"ST_Intersects(s.geom::geometry, ST_GeomFromText('POLYGON(({LNG - 0.001} {LAT - 0.001}, "
        f"{LNG + 0.1} {LAT - 0.001}, {LNG - 0.001} {LAT + 0.1}, "
        f"{LNG - 0.001} {LAT - 0.001}))', 4326))",
    ),
]


@pytest.mark.parametrize(("text", "doc", "where"), CASES, ids=[c[0][:40] for c in CASES])
async def test_text_and_json_filters_select_what_sql_selects(
    client, conn, catalog, text, doc, where
):
    expected = await _expected(conn, where)
    assert await _ids(client, _text(text)) == expected
    assert await _ids(client, _json(doc)) == expected


async def test_the_cases_are_not_trivial(conn, catalog):
    sizes = {len(await _expected(conn, where)) for _, _, where in CASES}
    assert 0 not in sizes and 10 not in sizes  # each selects some, never all


async def test_a_filter_combines_with_the_plain_parameters(client, conn, catalog):
    ids = await _ids(client, "kind=water_point&" + _text("district = '相山区'"))
    assert ids == await _expected(conn, "s.kind = 'water_point' AND s.district = '相山区'")


async def test_filter_crs_reads_the_filters_geometry_in_that_axis_order(client, conn, catalog):
    box = f"BBOX({LAT - 0.001}, {LNG - 0.001}, {LAT + 0.025}, {LNG + 0.025})"  # lat first
    ids = await _ids(
        client, _text(f"S_INTERSECTS(geometry, {box})") + f"&filter-crs={quote(EPSG4326)}"
    )
    assert ids == [s["id"] for s in catalog[:3]]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        (_text("kind = "), "not valid cql2-text"),
        (_text("colour = 'red'"), "unknown property 'colour'"),
        (_text("name = 3"), "name is text"),
        (_text("verified_at > 'yesterday'"), "is a date-time"),
        (_text("amenity > 'shade'"), "only =, <>, IN, LIKE and IS NULL"),
        (_text("CASEI(name) = 'x'"), "must be a property"),
        (_text("name = 'a' AND 1 = 1"), "must be a property"),
        (_text("geometry = 'x'"), "S_INTERSECTS"),
        (_text("S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))"), "not a valid"),
        (_text("S_WITHIN(geometry, BBOX(116, 33, 117, 34))"), "not supported"),
        ("filter-lang=cql2-json&filter=" + quote("{not json"), "not JSON"),
        ("filter-lang=cql2-json&filter=" + quote("[1, 2]"), "JSON object"),
        ("filter-lang=cql2-json&filter=" + quote('{"op": "?", "args": []}'), "cql2-json"),
        ("filter-lang=ecql&" + _text("kind = 'x'"), "filter-lang"),
        (_json(_nested_not(120)), "nested too deeply"),
        (_text(" OR ".join(["kind = 'x'"] * 400)), "too large"),
    ],
)
async def test_a_bad_filter_is_a_400_that_says_why(client, query, words):
    response = await client.get(f"{ITEMS}?{query}")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "bad_query_parameter"
    assert body["field"] in ("filter", "filter-lang")
    assert words in body["detail"], body["detail"]


@pytest.mark.parametrize("sortby", ["name", "+name", "-name", "-updated_at", "kind", "-id"])
async def test_sortby_pages_through_everything_in_order(client, conn, catalog, sortby):
    name = sortby.lstrip("+-")
    direction = "DESC" if sortby.startswith("-") else "ASC"
    expected = [
        r["id"]
        for r in await conn.fetch(f"SELECT id FROM stations ORDER BY {name} {direction}, id")
    ]
    found, url = [], f"{ITEMS}?limit=3&sortby={quote(sortby)}"
    while url:
        body = (await client.get(url)).json()
        found += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert found == expected


async def test_sortby_refuses_what_it_cannot_page_exactly(client, catalog):
    for sortby, words in (("verified_at", "cannot sort by"), ("name,kind", "one property")):
        response = await client.get(f"{ITEMS}?sortby={sortby}")
        assert response.status_code == 400 and words in response.json()["detail"]
    first = (await client.get(f"{ITEMS}?limit=2")).json()
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    cursor = nxt.split("cursor=")[1]
    response = await client.get(f"{ITEMS}?sortby=name&cursor={cursor}")
    assert response.status_code == 400 and response.json()["field"] == "cursor"


async def test_properties_chooses_the_properties(client, catalog):
    body = (await client.get(f"{ITEMS}?properties=name,kind")).json()
    assert all(set(f["properties"]) == {"name", "kind"} for f in body["features"])
    one = (await client.get(f"{ITEMS}/{catalog[0]['id']}?properties=code")).json()
    assert set(one["properties"]) == {"code"}
    none = (await client.get(f"{ITEMS}?properties=")).json()
    assert all(f["properties"] == {} for f in none["features"])
    response = await client.get(f"{ITEMS}?properties=name,secret")
    assert response.status_code == 400 and response.json()["field"] == "properties"


HOSTILE = [
    "'; DROP TABLE stations; --",
    "name = ''; DROP TABLE stations; --'",
    "name = '\x00'",
    "name = '\\'",
    "name LIKE '\\'",
    "kind = 'a' OR 1=1",
    "S_INTERSECTS(geometry, POINT(1e400 0))",
    "S_INTERSECTS(geometry, BBOX(1, 2))",
    "S_INTERSECTS(geometry, BBOX(200, 0, 0, 1))",
    "S_INTERSECTS(geometry, POLYGON((0 0)))",
    "verified_at = TIMESTAMP('2026-13-45T99:00:00Z')",
    "verified_at = DATE('0000-00-00')",
    "name IN ()",
    "name BETWEEN 'a' AND 3",
    "updated_at BETWEEN DATE('2026-01-01') AND TIMESTAMP('2026-01-01T00:00:00')",
    "\"name\" = 'x'",
    "NOT NOT NOT kind = 'x'",
    "kind = 'x' AND",
    "()",
    "",
    "🙂 = '🙂'",
]


def _mutations(rng: random.Random, n: int) -> list[str]:
    """Valid filters cut, doubled and sprinkled with CQL2's own punctuation."""
    seeds = [text for text, _, _ in CASES]
    pieces = [
        "(",
        ")",
        "'",
        ",",
        " AND ",
        " OR ",
        " NOT ",
        "%",
        "_",
        "\\",
        "=",
        "<>",
        " IN ",
        " IS NULL",
        "BBOX(",
        "POLYGON((",
        "TIMESTAMP(",
        "1e309",
        "-",
        "..",
        "\u3000",
    ]
    out = []
    for _ in range(n):
        text = rng.choice(seeds)
        for _ in range(rng.randint(1, 4)):
            at = rng.randint(0, len(text))
            if rng.random() < 0.5:
                text = text[:at] + rng.choice(pieces) + text[at:]
            else:
                text = text[:at] + text[at + rng.randint(1, 8) :]
        out.append(text)
    return out


def _json_mutations(rng: random.Random, n: int) -> list[str]:
    docs = [doc for _, doc, _ in CASES]
    junk = [
        None,
        1,
        -1.5,
        True,
        "",
        "x",
        [],
        {},
        {"property": "colour"},
        {"op": "=", "args": []},
        {"bbox": [1]},
        {"timestamp": "nope"},
        {"date": 5},
        [[[[1]]]],
    ]
    out = []

    def mutate(node):
        if rng.random() < 0.15:
            return rng.choice(junk)
        if isinstance(node, dict):
            return {k: mutate(v) for k, v in node.items()}
        if isinstance(node, list):
            return [mutate(v) for v in node]
        return node

    for _ in range(n):
        out.append(json.dumps(mutate(rng.choice(docs))))
    return out


async def test_hostile_and_random_filters_never_get_a_server_error(client, conn, catalog):
    rng = random.Random(18)
    asked = [(text, "cql2-text") for text in HOSTILE + _mutations(rng, 300)]
    asked += [(text, "cql2-json") for text in _json_mutations(rng, 200)]
    statuses = {}
    for text, lang in asked:
        response = await client.get(f"{ITEMS}?filter-lang={lang}&filter={quote(text, safe='')}")
        # 422 control_character: the service's edge rule for NUL and control characters in
        # any parameter, before a route (and its OGC 400s) sees the request
        assert response.status_code in (200, 400, 422), (text, response.text)
        if response.status_code == 400:
            assert response.json()["code"] == "bad_query_parameter"
        if response.status_code == 422:
            assert response.json()["code"] == "control_character"
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    assert statuses.get(400, 0) > 100 and statuses.get(200, 0) > 10, statuses
    assert await conn.fetchval("SELECT count(*) FROM stations") == len(catalog)


def test_a_failed_parse_writes_nothing_to_the_servers_output(capsys):
    for text in ("name = ", "kind = 'x' AND", "S_INTERSECTS(geometry, POINT(1))"):
        with pytest.raises(BadQuery):
            parse_filter(text, "cql2-text")
    assert capsys.readouterr() == ("", "")
