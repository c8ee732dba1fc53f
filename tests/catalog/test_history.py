"""Every change to a station lands in station_history, whoever makes it."""

from __future__ import annotations

import re

import asyncpg
import pytest

from stations.db import connection as dbconn

INSERT = """
INSERT INTO stations (name, kind, source, source_id, original_position, geom, h3_r7, h3_r9, h3_r11)
VALUES ($1, 'love_station', 'manual', $2, '{"crs": "wgs84", "lat": 33.95, "lng": 116.79}',
        'SRID=4326;POINT(116.79 33.95)', 1, 2, 3)
RETURNING id, code
"""


async def test_create_update_delete_are_recorded_with_actor_and_changed_columns(conn):
    async with dbconn.transaction(conn, actor="admin:li", reason="opening day"):
        row = await conn.fetchrow(INSERT, "相山公园爱心驿站", "a1")
    async with dbconn.transaction(conn, actor="operator:wang"):
        await conn.execute("UPDATE stations SET amenities = '{restroom}' WHERE id = $1", row["id"])
        await conn.execute("UPDATE stations SET name = name WHERE id = $1", row["id"])  # no change
    async with dbconn.transaction(conn, actor="admin:li"):
        await conn.execute("DELETE FROM stations WHERE id = $1", row["id"])
    history = await conn.fetch(
        "SELECT action, actor, reason, old_values, new_values FROM station_changes ORDER BY id"
    )
    assert [h["action"] for h in history] == ["create", "update", "delete"]
    create, update, delete = history
    assert create["actor"] == "admin:li" and create["reason"] == "opening day"
    assert create["new_values"]["name"] == "相山公园爱心驿站"
    assert create["new_values"]["lat"] == 33.95 and create["new_values"]["code"] == row["code"]
    assert update["actor"] == "operator:wang"
    assert update["old_values"] == {"amenities": []}
    assert update["new_values"] == {"amenities": ["restroom"]}
    assert delete["old_values"]["name"] == "相山公园爱心驿站"


async def test_a_create_reads_as_the_first_version_after_later_changes(conn):
    # Creates are stored without their values; station_changes derives them from the
    # station now with every later update's old values laid back over it.
    async with dbconn.transaction(conn, actor="import:zgh"):
        row = await conn.fetchrow(INSERT, "相山公园爱心驿站", "e1")
    first = await conn.fetchval(
        "SELECT station_history_json(s) FROM stations s WHERE id = $1", row["id"]
    )
    async with dbconn.transaction(conn, actor="operator:wang"):
        await conn.execute(
            "UPDATE stations SET name = '相山公园驿站', amenities = '{restroom}', "
            "geom = 'SRID=4326;POINT(116.8 33.96)' WHERE id = $1",
            row["id"],
        )
        await conn.execute("UPDATE stations SET name = '新名字' WHERE id = $1", row["id"])
    other = await conn.fetchrow(INSERT, "别的驿站", "e2")
    await conn.execute("UPDATE stations SET name = '别的' WHERE id = $1", other["id"])
    created = "SELECT new_values FROM station_changes WHERE station_id = $1 AND action = 'create'"
    assert await conn.fetchval(created, row["id"]) == first
    assert (
        await conn.fetchval(
            "SELECT new_values FROM station_history WHERE station_id = $1 AND action = 'create'",
            row["id"],
        )
        is None
    )
    await conn.execute("DELETE FROM stations WHERE id = $1", row["id"])
    assert await conn.fetchval(created, row["id"]) == first


async def test_codes_are_unique_six_character_crockford(conn):
    codes = set()
    for i in range(200):
        row = await conn.fetchrow(INSERT, f"驿站{i}", f"b{i}")
        codes.add(row["code"])
    assert len(codes) == 200
    assert all(len(c) == 6 and not set(c) & set("ILOU") for c in codes)


def _poster_code(n: int) -> str:
    """The code printed on a station's posters, as migration 0001 first defined it."""
    v = (n * 387420489) % 1073741824
    out = ""
    for _ in range(6):
        out = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[v % 32] + out
        v //= 32
    return out


async def test_codes_stay_those_already_printed_on_posters(conn):
    # station_code() was rewritten for speed (0010); a printed code must never change.
    ids = [1, 2, 31, 32, 33, 1023, 1024, 65_537, 999_999, 1_000_000, 2**31 + 7, 2**34 + 5]
    got = await conn.fetch("SELECT n, station_code(n) AS code FROM unnest($1::bigint[]) n", ids)
    assert {r["n"]: r["code"] for r in got} == {n: _poster_code(n) for n in ids}
    row = await conn.fetchrow(INSERT, "驿站", "p1")
    assert row["code"] == _poster_code(row["id"])


@pytest.mark.parametrize(
    ("column", "pattern", "values"),
    [
        (
            "code",
            r"[0-9A-HJKMNP-TV-Z]{4,12}",
            ["ABCD", "0000ZZZZ", "ABC", "ABCDEFGHJKMNP", "ABCI", "abcd", "ABCD\n", "ÄBCD", " ABCD"],
        ),
        (
            "source",
            r"[a-z0-9][a-z0-9_.-]{0,63}",
            ["a", "9x", "a-b.c_d", "a" * 64, "a" * 65, "", "-a", ".a", "_a", "A", "ab ", "é"],
        ),
        ("country_code", r"[A-Z]{2}", ["CN", "HK", "cn", "C", "CNN", "ÇN", "C1", ""]),
    ],
)
async def test_pattern_checks_accept_exactly_their_patterns(conn, column, pattern, values):
    # 0010 replaced the regular expressions by character-set tests; same answers.
    row = await conn.fetchrow(INSERT, "驿站", "pattern")
    for value in values:
        try:
            async with conn.transaction():
                await conn.execute(
                    f"UPDATE stations SET {column} = $2 WHERE id = $1", row["id"], value
                )
            accepted = True
        except asyncpg.CheckViolationError:
            accepted = False
        assert accepted == bool(re.fullmatch(pattern, value)), (column, value)


async def test_version_moves_only_on_real_changes(conn):
    row = await conn.fetchrow(INSERT, "驿站", "c1")
    await conn.execute("UPDATE stations SET name = name WHERE id = $1", row["id"])
    assert await conn.fetchval("SELECT version FROM stations WHERE id = $1", row["id"]) == 1
    await conn.execute("UPDATE stations SET name = '新名字' WHERE id = $1", row["id"])
    assert await conn.fetchval("SELECT version FROM stations WHERE id = $1", row["id"]) == 2


async def test_writes_notify_listeners_with_the_changed_ids(conn, settings):
    import asyncio

    received: list[str] = []
    listener = await dbconn.connect(settings.db)  # LISTEN needs its own connection
    try:

        def on_change(*args) -> None:
            received.append(args[3])

        await listener.add_listener("stations_changed", on_change)
        row = await conn.fetchrow(INSERT, "驿站", "d1")
        for _ in range(50):
            if received:
                break
            await asyncio.sleep(0.02)
        await listener.remove_listener("stations_changed", on_change)
    finally:
        await listener.close()
    assert received == [str(row["id"])]


async def test_factory_station_has_consistent_cells(conn):
    import numpy as np

    from stations.geo import h3cells
    from tests.factories import create_station

    row = await create_station(conn, lat=34.2655, lng=108.9540, name="钟楼驿站")
    fine = h3cells.cell_from_latlng(34.2655, 108.9540, 11)
    assert row["h3_r11"] == fine
    assert row["h3_r9"] == int(h3cells.parent_array(np.array([fine], dtype=np.uint64), 9)[0])
    assert row["geom"].y == 34.2655 and row["geom"].x == 108.9540


async def test_released_pool_connection_keeps_no_open_transaction(pool):
    async with pool.acquire() as first:
        backend = await first.fetchval("SELECT pg_backend_pid()")
        transaction = first.transaction()
        await transaction.start()
        await first.execute("CREATE TEMP TABLE IF NOT EXISTS left_open (id int)")
    # Released mid-transaction: the pool must have rolled it back, not kept it open.
    for _ in range(pool.get_max_size()):
        async with pool.acquire() as again:
            if await again.fetchval("SELECT pg_backend_pid()") == backend:
                assert not again.is_in_transaction()
                assert await again.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
                return
    raise AssertionError("the pool never handed the same connection back")
