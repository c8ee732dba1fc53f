"""Loading demo cities through the importers: accepted whole, and idempotent."""

from __future__ import annotations

import asyncpg

from stations.demo.generator import generate_city
from stations.demo.load import load_demo
from stations.demo.national import generate_national
from stations.geo import crs

COUNTS = """
SELECT (SELECT count(*) FROM stations WHERE source = $1) AS stations,
       (SELECT count(*) FROM stations WHERE source = $1 AND kind = 'water_point') AS water,
       (SELECT count(*) FROM demand_points WHERE source = $2) AS demand
"""


async def _counts(conn: asyncpg.Connection, source: str, demand_source: str) -> tuple[int, ...]:
    row = await conn.fetchrow(COUNTS, source, demand_source)
    return int(row["stations"]), int(row["water"]), int(row["demand"])


async def test_loading_huaibei_twice_gives_the_same_rows(conn):
    demo = generate_city("huaibei", seed=1)
    first = await load_demo(conn, demo, actor="test")
    assert (first.stations.rejected, first.demand.rejected) == (0, 0)
    counts = await _counts(conn, demo.source, demo.demand_source)
    assert counts == (len(demo.stations), 164, len(demo.demand))
    again = await load_demo(conn, demo, actor="test")
    assert (again.stations.created, again.stations.updated) == (0, 0)
    assert (again.demand.inserted, again.demand.updated) == (0, 0)
    assert await _counts(conn, demo.source, demo.demand_source) == counts


async def test_a_dry_run_writes_nothing_but_counts_everything(conn):
    demo = generate_city("xian", seed=1)
    report = await load_demo(conn, demo, actor="test", dry_run=True)
    assert report.stations.created == len(demo.stations)
    assert report.demand.inserted == len(demo.demand)
    assert await _counts(conn, demo.source, demo.demand_source) == (0, 0, 0)


async def test_loaded_stations_keep_what_the_generator_said(conn):
    demo = generate_city("huaibei", seed=1)
    await load_demo(conn, demo, actor="test")
    expected = demo.stations.set_index("source_id")
    rows = await conn.fetch(
        "SELECT source_id, name, kind, amenities, access, opening_hours, district_code,"
        " ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng"
        " FROM stations WHERE source = $1",
        demo.source,
    )
    assert len(rows) == len(expected)
    for row in rows:
        want = expected.loc[row["source_id"]]
        assert row["name"] == want["name"]
        assert row["kind"] == want["kind"]
        assert list(row["amenities"]) == list(want["amenities"])
        assert row["access"] == want["access"]
        assert row["district_code"] == want["district_code"]
        assert abs(row["lat"] - want["lat"]) < 1e-6
        assert abs(row["lng"] - want["lng"]) < 1e-6


async def test_the_national_demo_loads_whole_in_gcj02_and_once(conn):
    """Every row passes the importer's rules; positions are kept as the GCJ-02 given and
    stored in WGS84 (the importer's own conversion); a second load changes nothing."""
    demo = generate_national(seed=1, scale=0.01)
    first = await load_demo(conn, demo, actor="test")
    assert (first.stations.rejected, first.demand.rejected) == (0, 0)
    assert first.stations.created == len(demo.stations) == 3_937
    assert await _counts(conn, demo.source, demo.demand_source) == (
        3_937,
        2_095,
        len(demo.demand),
    )
    row = await conn.fetchrow(
        "SELECT original_position, ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng"
        " FROM stations WHERE source = $1 AND source_id = $2",
        demo.source,
        demo.stations["source_id"].iloc[0],
    )
    given = demo.stations.iloc[0]
    assert row["original_position"] == {"crs": "gcj02", "lat": given["lat"], "lng": given["lng"]}
    lat, lng = crs.to_wgs84(given["lat"], given["lng"], crs.Crs("gcj02"))
    assert abs(row["lat"] - float(lat)) < 1e-6 and abs(row["lng"] - float(lng)) < 1e-6
    again = await load_demo(conn, demo, actor="test")
    assert (again.stations.created, again.stations.updated) == (0, 0)
    assert (again.demand.inserted, again.demand.updated) == (0, 0)
