"""Loading demo cities through the importers: accepted whole, and idempotent."""

from __future__ import annotations

import asyncpg

from stations.demand import import_demand_frame
from stations.demo import generate_city


async def _demand_rows(conn: asyncpg.Connection, source: str) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM demand_points WHERE source = $1", source))


async def test_demo_demand_imports_whole_and_twice_gives_the_same_rows(conn):
    demo = generate_city("huaibei", seed=1)
    first = await import_demand_frame(conn, demo.demand, source=demo.demand_source, actor="test")
    assert first.rejected == 0
    assert await _demand_rows(conn, demo.demand_source) == len(demo.demand)
    again = await import_demand_frame(conn, demo.demand, source=demo.demand_source, actor="test")
    assert (again.inserted, again.updated) == (0, 0)
    assert await _demand_rows(conn, demo.demand_source) == len(demo.demand)
