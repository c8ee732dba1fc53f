"""The in-process index stays equal to PostGIS after every kind of write.

Writes from outside the process arrive by NOTIFY, so these tests wait for them in a
bounded loop; then the index must hold exactly the active stations, where they are,
and nearest must again equal the brute force.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import numpy as np

from stations.db import connection as dbconn
from stations.search.columns import Columns, build_tree
from stations.search.index import DELTA_LIMIT, StationIndex
from stations.search.live import LiveData
from stations.search.openness import OpeningStates
from tests.factories import create_station
from tests.fixtures.search.app import eventually, running_app
from tests.fixtures.search.stations import demo_city, insert_stations, reference_nearest


async def _catalog(conn) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT id, status, kind, amenities, access, opening_hours, time_zone, country_code, "
        "ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng FROM stations"
    )
    return [dict(r) for r in rows]


def _index_matches(app, catalog: list[dict[str, Any]]) -> bool:
    want = {r["id"]: (r["lat"], r["lng"]) for r in catalog if r["status"] == "active"}
    return app.state.search.index.positions_by_id() == want


async def _assert_nearest_is_exact(client, catalog, *, seed: int, n: int = 150) -> None:
    rng = np.random.default_rng(seed)
    for lat, lng in zip(
        rng.uniform(33.8, 34.05, n).tolist(), rng.uniform(116.65, 117.0, n).tolist(), strict=True
    ):
        body = (
            await client.get("/v1/stations/nearest", params={"lat": lat, "lng": lng, "k": 6})
        ).json()
        expected = reference_nearest(catalog, lat, lng, k=6)
        assert [r["id"] for r in body["results"]] == [e[0] for e in expected], (lat, lng)


async def _move(conn, station_id: int, lat: float, lng: float) -> None:
    await conn.execute(
        "UPDATE stations SET geom = ST_SetSRID(ST_MakePoint($3, $2), 4326)::geography "
        "WHERE id = $1",
        station_id,
        lat,
        lng,
    )


async def test_sql_inserts_moves_closures_and_deletes_reach_the_index(settings, conn):
    await insert_stations(conn, demo_city(800, seed=31))
    async with running_app(settings) as (app, client):
        rng = random.Random(32)
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM stations ORDER BY id")]
        await insert_stations(conn, demo_city(30, seed=33))  # 30 rows: a list of ids
        for station_id in rng.sample(ids, 20):
            await _move(
                conn, station_id, 33.95 + rng.uniform(-0.05, 0.05), 116.8 + rng.uniform(-0.05, 0.05)
            )
        closed = rng.sample(ids, 10)
        await conn.execute("UPDATE stations SET status = 'closed' WHERE id = ANY($1)", closed)
        await conn.execute("UPDATE stations SET status = 'active' WHERE id = ANY($1)", closed[:3])
        await conn.execute("DELETE FROM stations WHERE id = ANY($1)", rng.sample(ids, 5))
        catalog = await _catalog(conn)
        await eventually(
            lambda: _index_matches(app, catalog), what="the index to follow SQL writes"
        )
        await _assert_nearest_is_exact(client, catalog, seed=34)


async def test_enough_changes_compact_the_index_and_it_stays_exact(settings, conn):
    await insert_stations(conn, demo_city(600, seed=41))
    async with running_app(settings) as (app, client):
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM stations ORDER BY id")]
        rng = random.Random(42)
        for station_id in rng.sample(ids, DELTA_LIMIT + 40):  # one NOTIFY each
            await _move(
                conn, station_id, 33.9 + rng.uniform(-0.1, 0.1), 116.8 + rng.uniform(-0.1, 0.1)
            )
        catalog = await _catalog(conn)
        await eventually(lambda: _index_matches(app, catalog), what="the moves")
        await eventually(lambda: app.state.search.compactions >= 1, what="a compaction")
        assert _index_matches(app, catalog)
        await _assert_nearest_is_exact(client, catalog, seed=43)


async def test_a_bulk_change_reloads_the_whole_index(settings, conn):
    await insert_stations(conn, demo_city(300, seed=51))
    async with running_app(settings) as (app, client):
        service = app.state.search
        reloads = service.reloads
        # More than 500 rows in one statement: the trigger says '*' instead of listing ids.
        await insert_stations(conn, demo_city(600, seed=52))
        await eventually(lambda: service.reloads > reloads, what="a reload after the import")
        await conn.execute("DELETE FROM stations WHERE id % 5 <> 0 AND id > 50")
        await eventually(lambda: service.reloads > reloads + 1, what="a reload after the purge")
        catalog = await _catalog(conn)
        await eventually(lambda: _index_matches(app, catalog), what="the bulk changes")
        await _assert_nearest_is_exact(client, catalog, seed=53)


async def test_refresh_applies_a_write_before_any_notification(settings, conn):
    rows = demo_city(200, seed=61)
    await insert_stations(conn, rows)
    async with running_app(settings) as (app, client):
        target = next(r["id"] for r in rows if r["status"] == "active")
        async with dbconn.transaction(conn, actor="admin"):
            await _move(conn, target, 33.70, 116.50)  # far from everything else
        # What the API's own writes do after committing: no waiting for NOTIFY.
        await app.state.search.refresh(conn, [target])
        body = (await client.get("/v1/stations/nearest?lat=33.70&lng=116.50&k=1")).json()
        assert body["results"][0]["id"] == target
        assert body["results"][0]["distance_m"] == 0.0


async def test_a_lost_listener_reconnects_and_catches_up(settings, conn):
    rows = demo_city(300, seed=71)
    await insert_stations(conn, rows)
    async with running_app(settings) as (app, client):
        service = app.state.search
        reloads = service.reloads
        listener_pid = service._listener.get_server_pid()
        await conn.execute("SELECT pg_terminate_backend($1)", listener_pid)
        # Written while the listener may be gone: its NOTIFY can be lost, the reload is not.
        target = next(r["id"] for r in rows if r["status"] == "active")
        await _move(conn, target, 33.6, 116.4)
        await eventually(lambda: service.reloads > reloads, what="the reconnect's reload")
        catalog = await _catalog(conn)
        await eventually(lambda: _index_matches(app, catalog), what="the missed change")
        assert service._listener.get_server_pid() != listener_pid
        body = (await client.get("/v1/stations/nearest?lat=33.6&lng=116.4&k=1")).json()
        assert body["results"][0]["id"] == target


def _columns(rows: list[dict[str, Any]], states: OpeningStates) -> Columns:
    records = [
        {
            "id": r["id"],
            "version": 1,
            "lat": r["lat"],
            "lng": r["lng"],
            "kind_code": 0,
            "access_code": 0,
            "amenity_mask": 1,
            "opening_hours": None,
            "time_zone": "UTC",
            "country_code": None,
            "verified_epoch": None,
            "head": b'{"id":%d,"position":{}' % r["id"],
        }
        for r in rows
    ]
    return Columns.from_records(records, states)


def test_changes_during_a_rebuild_are_replayed_onto_the_new_index():
    states, live = OpeningStates(), LiveData()
    rng = np.random.default_rng(5)
    rows = [
        {
            "id": i,
            "lat": float(33.9 + rng.normal(0, 0.05)),
            "lng": float(116.8 + rng.normal(0, 0.05)),
        }
        for i in range(1, 401)
    ]
    index = StationIndex.build(_columns(rows, states), states=states, live=live)
    index.apply(5, None)
    index.apply(7, _columns([{"id": 7, "lat": 34.5, "lng": 117.5}], states))
    snapshot = index.start_log()  # the rebuild starts from here…
    index.apply(9, None)  # …while these land on the old index
    index.apply(7, _columns([{"id": 7, "lat": 33.0, "lng": 116.0}], states))
    index.apply(401, _columns([{"id": 401, "lat": 33.95, "lng": 116.8}], states))
    fresh = StationIndex(snapshot, build_tree(snapshot.xyz), states=states, live=live)
    fresh.replay(index.take_log())
    assert fresh.positions_by_id() == index.positions_by_id()
    assert 5 not in fresh.positions_by_id() and 9 not in fresh.positions_by_id()
    assert fresh.positions_by_id()[7] == (33.0, 116.0)


async def test_a_request_holding_the_last_connection_never_deadlocks_the_live_poll(settings, conn):
    # Requests take a pool connection, then the index's lock (a rating refreshes its
    # station's live data). The live poll took the lock, then a connection: with every
    # connection held by such requests, each side waited for the other for ever, and the
    # worker answered nothing more. Both now take the connection first.
    from stations.search.live import POLL_S

    station = await create_station(conn, name="淮海路爱心驿站")
    one = settings.model_copy(
        update={"db": settings.db.model_copy(update={"pool_min_size": 1, "pool_max_size": 1})}
    )
    async with running_app(one) as (app, client):
        async with app.state.pool.acquire() as held:
            await asyncio.sleep(POLL_S * 1.5)  # the poll comes due while we hold it
            await asyncio.wait_for(app.state.search.refresh_live(held, [station["id"]]), 10)
        found = await asyncio.wait_for(
            client.get("/v1/stations/nearest", params={"lat": 33.9556, "lng": 116.7983}), 10
        )
    assert found.status_code == 200


async def test_the_index_stops_when_a_change_arrives_as_it_closes(settings, conn, pool):
    # A notification that lands in the same turn of the event loop as close() used to be
    # taken by asyncio.wait_for (Python 3.11) in place of the cancellation: the worker
    # went on following changes, close() waited for it for ever, and so did the app's
    # shutdown (a test run once hung there, its connections idle).
    from stations.search.service import IndexService

    loop = asyncio.get_running_loop()
    for _ in range(3):
        service = IndexService(settings.db, pool)
        await service.start()
        await asyncio.sleep(0.05)  # the worker waits for the next notification
        service._on_notify(None, 0, "stations_changed", "1")  # as asyncpg calls it
        started = loop.time()
        await asyncio.wait_for(service.close(), 20)
        assert loop.time() - started < 5, "close() waited for a worker that did not stop"
        assert service._worker is not None and service._worker.done()
