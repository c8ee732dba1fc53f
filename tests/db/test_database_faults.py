"""The database going away: every request that needs it is a JSON 503, and it recovers.

The test runs its own PostgreSQL cluster (a data directory of its own, its own port)
and really stops and starts it, so the session's cluster and other tests never notice.
Both kinds of server are checked: one that was serving when the database stopped, and
one started while it was down (it waits, and serves once the database is back).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid

import httpx
import pytest

from stations.db import admin as dbadmin
from stations.db import connection as dbconn
from stations.db import embedded
from tests.factories import (
    HUAIBEI_CENTRE,
    bearer,
    claim_at,
    create_campaign,
    create_member_with_token,
    create_station,
    set_stock,
)
from tests.fixtures.server import LiveServer

LAT, LNG = HUAIBEI_CENTRE


@pytest.fixture
async def own_cluster(settings):
    """Settings whose database lives in a cluster of this test's own, migrated.

    Beside the session's cluster (not under /tmp): when the server runs as the
    ``postgres`` user it must reach the directory, as it reaches the session's.
    """
    where = settings.db.data_dir.parent / f"faults-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    # Reads too: with STATIONS_TEST_READ_REPLICA=1 the session's replica is not its replica.
    db = settings.db.model_copy(
        update={"data_dir": where / "pg", "name": "stations", "read_url": None}
    )
    await asyncio.to_thread(embedded.start, db)
    try:
        await dbadmin.create_database(db, db.name)
        await dbadmin.migrate(db, database=db.name)
        yield settings.model_copy(update={"db": db})
    finally:
        await asyncio.to_thread(embedded.stop, db)
        shutil.rmtree(where, ignore_errors=True)


def check_unavailable(response: httpx.Response, what: str) -> None:
    assert response.status_code == 503, (what, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), what
    assert int(response.headers["Retry-After"]) > 0, what
    body = response.json()
    assert body["code"] in ("database_unavailable", "not_ready"), (what, body)
    assert body["detail"], what


async def test_requests_get_json_503_while_the_database_is_stopped_and_recover(own_cluster):
    settings = own_cluster
    conn = await dbconn.connect(settings.db)
    try:
        station = await create_station(conn, kind="water_point")
        await create_campaign(conn, [station["id"]])
        await set_stock(conn, station["id"], 100)
        _, token = await create_member_with_token(conn, settings)
    finally:
        await conn.close()

    with LiveServer(settings) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            assert (await claim_at(http, station, token, settings)).status_code == 201
            assert (await http.get("/readyz")).status_code == 200

            await asyncio.to_thread(embedded.stop, settings.db)
            requests = {
                "claim": lambda: claim_at(http, station, token, settings),
                "text search": lambda: http.get("/v1/stations", params={"q": "驿站"}),
                "readyz": lambda: http.get("/readyz"),
                "station": lambda: http.get(f"/v1/stations/{station['id']}"),
                "sign-in": lambda: http.post(
                    "/v1/auth/member", json={"member_no": "HB1", "phone": "13800000000"}
                ),
                "who am i": lambda: http.get("/v1/auth/me", headers=bearer(token)),
            }
            for _ in range(2):  # the pool's dead connections, then refused new ones
                for what, send in requests.items():
                    check_unavailable(await send(), what)
            # The station index lives in the process: riders still find stations.
            nearest = await http.get("/v1/stations/nearest", params={"lat": LAT, "lng": LNG})
            assert nearest.status_code == 200

            await asyncio.to_thread(embedded.start, settings.db)
            back = time.monotonic()
            while (await http.get("/v1/stations", params={"q": "驿站"})).status_code != 200:
                assert time.monotonic() - back < 2.0, "not answering 2 s after the database"
                await asyncio.sleep(0.05)
            assert (await claim_at(http, station, token, settings)).status_code in (201, 409)
            assert (await http.get("/readyz")).status_code == 200


async def test_a_server_started_while_the_database_is_down_waits_for_it(own_cluster):
    settings = own_cluster
    await asyncio.to_thread(embedded.stop, settings.db)
    server = LiveServer(settings)
    server.thread.start()
    try:
        await asyncio.sleep(3)
        assert server.thread.is_alive(), "the server gave up instead of waiting"
        assert not server.server.started
        await asyncio.to_thread(embedded.start, settings.db)
        base_url = await asyncio.to_thread(server.wait_started, 30)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            assert (await http.get("/readyz")).status_code == 200
    finally:
        server.__exit__(None, None, None)
