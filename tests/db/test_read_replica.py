"""Reads through a real streaming replica; claims and writes on the primary.

The replica is a hot standby of the test cluster (``tests/fixtures/replica.py``). Where
a test must tell the two servers apart it pauses the replica's replay: the primary then
has a change the replica does not show, and each answer says which server it came from.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from stations.db import connection as dbconn
from stations.db import embedded, replica
from stations.db.replication import server_state
from stations.errors import SetupError
from stations.search import live
from stations.search.service import LISTENER_NAME
from stations.settings import DatabaseSettings, Settings
from tests.factories import (
    HUAIBEI_CENTRE,
    admin_headers,
    claim_at,
    create_campaign,
    create_demand_point,
    create_member_with_token,
    create_station,
    run_cli,
    set_stock,
)
from tests.fixtures import replica as test_replica
from tests.fixtures.search.app import eventually, running_app

LAT, LNG = HUAIBEI_CENTRE
ROOT = Path(__file__).resolve().parents[2]
OLD, NEW = "相山路驿站", "濉溪路驿站"
# A second station far enough away to lie in another zoom-14 tile.
FAR_LAT, FAR_LNG = LAT + 0.05, LNG + 0.05


@pytest.fixture(scope="session")
async def replica_settings(settings: Settings, database: str) -> Settings:
    """The session's settings with DATABASE_READ_URL naming the test replica."""
    db = await test_replica.session_database_on_replica(settings.db)
    return settings.model_copy(update={"db": db})


@pytest.fixture
async def standby(replica_settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the session's database on the replica."""
    connection = await dbconn.connect(replica_settings.db, replica=True)
    yield connection
    await connection.close()


def with_lag_wait(settings: Settings, seconds: float) -> Settings:
    return settings.model_copy(
        update={"db": settings.db.model_copy(update={"read_lag_wait_s": seconds})}
    )


@asynccontextmanager
async def replay_paused(standby: asyncpg.Connection) -> AsyncIterator[None]:
    """The replica stops replaying the primary's WAL (its reads stand still)."""
    await standby.execute("SELECT pg_wal_replay_pause()")
    for _ in range(1000):
        if await standby.fetchval("SELECT pg_get_wal_replay_pause_state()") == "paused":
            break
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        await standby.execute("SELECT pg_wal_replay_resume()")


@asynccontextmanager
async def committed_locally(conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    """A transaction on the primary that does not wait for the replica to apply it.

    (With STATIONS_TEST_READ_REPLICA=1 the session's database waits for the replica,
    which, paused, would never answer.)
    """
    async with dbconn.transaction(conn, actor="test"):
        await conn.execute("SET LOCAL synchronous_commit = local")
        yield conn


async def rename(conn: asyncpg.Connection, station_id: int, name: str) -> None:
    await conn.execute("UPDATE stations SET name = $2 WHERE id = $1", station_id, name)


def tile_of(lat: float, lng: float, z: int = 14) -> str:
    n = 2**z
    col = int((lng + 180) / 360 * n)
    rad = math.radians(lat)
    row = int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * n)
    return f"/ogc/collections/stations/tiles/WebMercatorQuad/{z}/{row}/{col}"


async def nearest_name(client: httpx.AsyncClient) -> str:
    body = (await client.get("/v1/stations/nearest", params={"lat": LAT, "lng": LNG})).json()
    return body["results"][0]["name"]


async def found_by_search(client: httpx.AsyncClient, words: str) -> int:
    response = await client.get("/v1/stations", params={"q": words})
    assert response.status_code == 200, response.text
    return response.json()["count"]


async def test_without_a_read_url_the_read_pool_is_the_primary_pool(settings, conn):
    plain = settings.model_copy(update={"db": settings.db.model_copy(update={"read_url": None})})
    async with running_app(plain) as (app, client):
        assert app.state.read_pool is app.state.pool
        ready = (await client.get("/readyz")).json()
    assert ready["read"] == "primary"


async def test_a_route_reading_and_writing_holds_one_connection_without_a_replica(settings, conn):
    """Coverage counts the caller's share on the primary and reads through the read pool:
    with one pool they are one connection, so a pool of one still answers."""
    db = settings.db.model_copy(
        update={
            "read_url": None,
            "pool_min_size": 1,
            "pool_max_size": 1,
            "pool_acquire_timeout_s": 1,
        }
    )
    async with running_app(settings.model_copy(update={"db": db})) as (_, client):
        response = await client.get("/v1/coverage/regions", headers=admin_headers(settings))
    assert response.status_code == 200, response.text


async def test_reads_come_from_the_replica_until_it_replays_and_the_index_waits_for_it(
    replica_settings, conn, standby
):
    station = await create_station(conn, name=OLD)
    await test_replica.caught_up(conn, standby)
    async with running_app(with_lag_wait(replica_settings, 60)) as (app, client):
        async with app.state.read_pool.acquire() as read:
            assert (await server_state(read)).in_recovery
        async with app.state.pool.acquire() as write:
            assert not (await server_state(write)).in_recovery
        assert await nearest_name(client) == OLD
        far_tile = tile_of(FAR_LAT, FAR_LNG)
        assert (await client.get(far_tile)).status_code == 204

        async with replay_paused(standby):
            async with committed_locally(conn):
                await rename(conn, station["id"], NEW)
                await create_station(conn, name="相山北驿站", lat=FAR_LAT, lng=FAR_LNG)
            await asyncio.sleep(1.0)  # the notification has arrived; the replica lags
            # The replica's reads: search, OGC API, tiles, and the index, which waits.
            assert await found_by_search(client, "濉溪") == 0
            assert await found_by_search(client, "相山路") == 1
            features = (await client.get("/ogc/collections/stations/items")).json()
            assert [f["properties"]["name"] for f in features["features"]] == [OLD]
            assert (await client.get(far_tile)).status_code == 204
            assert await nearest_name(client) == OLD
            # The primary's: a station read before an edit (its version for If-Match).
            detail = (await client.get(f"/v1/stations/{station['id']}")).json()
            assert detail["name"] == NEW
            ready = (await client.get("/readyz")).json()
            assert ready["read"]["replica"] and ready["read"]["in_recovery"]

        # Replayed: the index reads the change from the replica, tiles are built again.
        async def caught_up() -> bool:
            return await nearest_name(client) == NEW

        async def drawn() -> bool:
            return (await client.get(far_tile)).status_code == 200

        await eventually(caught_up, what="the renamed station in nearest")
        await eventually(drawn, what="the new station in its tile")
        assert await found_by_search(client, "濉溪") == 1
        assert app.state.search.read_from_primary == 0


async def test_a_change_the_replica_has_not_replayed_in_time_is_read_from_the_primary(
    replica_settings, conn, standby
):
    station = await create_station(conn, name=OLD)
    await test_replica.caught_up(conn, standby)
    far_tile = tile_of(FAR_LAT, FAR_LNG)
    async with running_app(with_lag_wait(replica_settings, 0.5)) as (app, client):
        assert await nearest_name(client) == OLD
        assert (await client.get(far_tile)).status_code == 204
        async with replay_paused(standby):
            async with committed_locally(conn):
                await rename(conn, station["id"], NEW)
                await create_station(conn, name="相山北驿站", lat=FAR_LAT, lng=FAR_LNG)

            async def renamed() -> bool:
                return await nearest_name(client) == NEW

            await eventually(renamed, within_s=10, what="the change read from the primary")
            assert app.state.search.read_from_primary >= 1
            assert await found_by_search(client, "濉溪") == 0  # search still reads the replica
            assert (await client.get(far_tile)).status_code == 204  # built from the replica

        # Once the replica has replayed, tiles are built again (not only when they expire).
        async def drawn() -> bool:
            return (await client.get(far_tile)).status_code == 200

        assert app.state.tiles.cache.max_age_s > 10
        await eventually(drawn, within_s=10, what="the new station in its tile")


async def test_claims_and_station_edits_run_on_the_primary(replica_settings, conn, standby):
    station = await create_station(conn, name=OLD)
    await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 5)
    _, token = await create_member_with_token(conn, replica_settings)
    await test_replica.caught_up(conn, standby)
    async with running_app(replica_settings) as (_, client):
        # A standby refuses every write (read-only transaction): these succeed, so they
        # ran on the primary.
        claim = await claim_at(client, station, token, replica_settings)
        assert claim.status_code in (200, 201), claim.text
        edit = await client.patch(
            f"/v1/stations/{station['id']}",
            json={"name": NEW, "reason": "改名"},
            headers=admin_headers(replica_settings) | {"If-Match": '"1"'},
        )
        assert edit.status_code == 200, edit.text
        # Read-your-writes: the station and nearest show the edit at once.
        assert (await client.get(f"/v1/stations/{station['id']}")).json()["name"] == NEW
        assert await nearest_name(client) == NEW
        # The service holds connections on both servers, and listens on the primary.
        on_replica = await standby.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
            dbconn.APPLICATION_NAME,
            replica_settings.db.name,
        )
        listeners = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
            LISTENER_NAME,
            replica_settings.db.name,
        )
    assert on_replica >= replica_settings.db.pool_min_size
    assert listeners == 1


async def test_reads_answer_503_while_the_replica_is_down_and_recover(replica_settings, conn):
    await create_station(conn, name=OLD)
    where = test_replica.replica_dir(replica_settings.db)
    async with running_app(replica_settings) as (_, client):
        await eventually(lambda: nearest_name(client), what="the index")
        await asyncio.to_thread(replica.stop, replica_settings.db, where)
        try:
            for path in ("/v1/stations?q=相山", "/ogc/collections/stations/items", "/readyz"):
                response = await client.get(path)
                assert response.status_code == 503, (path, response.text)
                assert int(response.headers["Retry-After"]) > 0
                assert response.json()["code"] in ("database_unavailable", "not_ready")
            # Nearest answers from the index in memory.
            assert await nearest_name(client) == OLD
        finally:
            await asyncio.to_thread(replica.start, replica_settings.db, where)

        async def served() -> bool:
            return (await client.get("/v1/stations?q=相山")).status_code == 200

        await eventually(served, what="reads after the replica came back")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_each_server_worker_loads_its_index_and_listens(replica_settings, conn, standby):
    station = await create_station(conn, name=OLD)
    await test_replica.caught_up(conn, standby)
    port = _free_port()
    db = replica_settings.db
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": dbconn.dsn(db),
        "DATABASE_READ_URL": dbconn.read_dsn(db),
        "STATIONS_API_PORT": str(port),
    }
    server = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "stations.cli", "serve", "--workers", "2"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        listeners = 0
        while listeners < 2:
            assert server.returncode is None, "the server exited"
            assert time.monotonic() < deadline, f"{listeners} of 2 workers listen"
            await asyncio.sleep(0.2)
            listeners = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 "
                "AND datname = $2",
                LISTENER_NAME,
                db.name,
            )
        read_backends = await standby.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
            dbconn.APPLICATION_NAME,
            db.name,
        )
        assert read_backends >= 2 * db.pool_min_size  # each worker's own read pool

        async with dbconn.transaction(conn, actor="test"):
            await rename(conn, station["id"], NEW)

        # Every answer, from either worker (a new connection each), shows the change.
        async def all_renamed() -> bool:
            for _ in range(20):
                async with httpx.AsyncClient(base_url=base) as fresh:
                    if await nearest_name(fresh) != NEW:
                        return False
            return True

        await eventually(all_renamed, within_s=30, what="the change in both workers")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(server.wait(), 30)
        except TimeoutError:
            os.killpg(server.pid, signal.SIGKILL)
            await server.wait()


@pytest.mark.parametrize("variable", ["DATABASE_READ_URL", "STATIONS_DB_READ_URL"])
def test_the_read_url_is_read_from_the_environment(monkeypatch, variable):
    monkeypatch.setenv(variable, "postgresql://reader@replica.example.org/stations")
    db = DatabaseSettings()
    assert db.read_url == "postgresql://reader@replica.example.org/stations"
    assert db.has_replica
    assert dbconn.read_dsn(db, database="other") == "postgresql://reader@replica.example.org/other"


def test_the_project_replica_needs_the_project_cluster(settings):
    elsewhere = settings.db.model_copy(update={"url": "postgresql://u@db.example.org/stations"})
    with pytest.raises(SetupError, match="DATABASE_READ_URL"):
        replica.start(elsewhere)


async def last_queries(conn: asyncpg.Connection, database: str) -> list[str]:
    """The last statement of each of the service's pooled connections to ``database``."""
    rows = await conn.fetch(
        "SELECT query FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
        dbconn.APPLICATION_NAME,
        database,
    )
    return [r["query"] for r in rows]


async def test_coverage_reads_on_the_replica_and_counts_the_caller_on_the_primary(
    replica_settings, conn, standby
):
    await create_station(conn, name=OLD)
    for i in range(20):
        await create_demand_point(conn, lat=LAT + 0.001 * i, lng=LNG - 0.001 * i)
    await test_replica.caught_up(conn, standby)
    box = f"{LNG - 0.05},{LAT - 0.05},{LNG + 0.05},{LAT + 0.05}"
    async with running_app(replica_settings) as (_, client):
        response = await client.get(
            "/v1/coverage/summary", params={"bbox": box}, headers=admin_headers(replica_settings)
        )
        assert response.status_code == 200, response.text
        on_replica = await last_queries(standby, replica_settings.db.name)
        on_primary = await last_queries(conn, replica_settings.db.name)
    assert any("demand" in q for q in on_replica), on_replica
    assert not any("demand" in q for q in on_primary), on_primary
    # The caller's share of expensive requests is a write: on the primary.
    assert any("throttle" in q.lower() for q in on_primary), on_primary


async def test_stations_db_replica_up_status_down_on_a_fresh_cluster(settings):
    """`stations db up` makes a cluster a replica can clone; `replica up` prints its URL."""
    where = settings.db.data_dir.parent / f"replica-cli-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    db = settings.db.model_copy(
        update={"data_dir": where / "pg", "name": "stations", "read_url": None}
    )
    own = settings.model_copy(update={"db": db})
    try:
        code, _, err = await run_cli(own, "db", "up")
        assert code == 0, err
        code, out, err = await run_cli(own, "db", "replica", "up")
        assert code == 0, err
        [line] = [x for x in out.splitlines() if x.startswith("DATABASE_READ_URL=")]
        url = line.removeprefix("DATABASE_READ_URL=")
        standby = await asyncpg.connect(url)
        try:
            assert await standby.fetchval("SELECT pg_is_in_recovery()")
            postgis = "SELECT extversion FROM pg_extension WHERE extname = 'postgis'"
            assert await standby.fetchval(postgis)  # the migrated database, replayed
        finally:
            await standby.close()
        code, out, err = await run_cli(own, "db", "replica", "status", "--json")
        assert code == 0, err
        status = json.loads(out)
        assert status["running"] and status["in_recovery"] and status["url"] == url
        assert status["streaming"] == "streaming"
        # `stations db down` stops the replica with its primary: no server left behind.
        code, _, err = await run_cli(own, "db", "down")
        assert code == 0, err
        standby_layout = embedded.layout(replica.replica_settings(db))
        assert embedded.running_pid(standby_layout) is None
        assert embedded.running_pid(embedded.layout(db)) is None
        code, _, err = await run_cli(own, "db", "up")
        assert code == 0, err
        code, _, err = await run_cli(own, "db", "replica", "down", "--remove")
        assert code == 0, err
        assert not (where / "pg-replica").exists()
        code, out, _ = await run_cli(own, "db", "replica", "status")
        assert code == 3 and "running          False" in out
    finally:
        await asyncio.to_thread(replica.stop, db)
        await asyncio.to_thread(embedded.stop, db)
        shutil.rmtree(where, ignore_errors=True)


def test_a_query_the_replica_cancels_for_its_replay_is_a_retry_later():
    """A hot standby cancels a read that conflicts with the WAL it replays (40001): the
    answer is 503 with Retry-After, as for a database away, not a 500."""
    cancelled = asyncpg.exceptions.SerializationError(
        "canceling statement due to conflict with recovery"
    )
    assert dbconn.is_unavailable(cancelled)
    assert not dbconn.is_unavailable(asyncpg.exceptions.UniqueViolationError("duplicate key"))


async def test_ratings_and_water_polled_from_a_lagging_replica_are_not_missed(
    replica_settings, conn, standby, monkeypatch
):
    """The live data's polls ask for changes since the replica's clock: the time of what it
    has replayed, not its wall clock, or a change it replays late would be skipped."""
    monkeypatch.setattr(live, "OVERLAP", timedelta(seconds=0.5))
    station = await create_station(conn, name=OLD)
    await test_replica.caught_up(conn, standby)
    async with running_app(replica_settings) as (app, _):
        data = app.state.search.live
        async with replay_paused(standby):
            async with committed_locally(conn):
                await set_stock(conn, station["id"], 7)
            await asyncio.sleep(3 * live.POLL_S)  # the replica is polled meanwhile
            assert station["id"] not in data.water_left

        await eventually(
            lambda: data.water_left.get(station["id"]) == 7,
            within_s=4 * live.POLL_S,
            what="the stock replayed late",
        )
