"""Hundreds of simultaneous claims through a real server, also across a ``kill -9``.

A uvicorn server runs the app factory as a separate process on the test session's
database. 240 members at 10 stations with small stock send three claims each (quota
two) plus a duplicate of their first, all at once; suspended members try too. The
database must end with exactly min(stock, entitled demand) claims per station, nobody
over quota, no stock below zero, and every Idempotency-Key answering what it answered
first. The second test kills the server with SIGKILL mid-run, restarts it, retries
every request that got no answer, and checks that nothing was lost or doubled.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest

from tests.factories import code_for, create_campaign, create_member, create_station, member_token

STOCK = [5, 10, 20, 30, 40, 47, 48, 50, 60, 100]  # per station; demand is 48 at each
MEMBERS_PER_STATION = 24
QUOTA = 2
ATTEMPTS_PER_MEMBER = 3
SUSPENDED_AT_LAST_STATION = 10


@dataclass
class Attempt:
    """One claim attempt (one Idempotency-Key) of one member."""

    station: int
    token: str
    key: str
    body: dict
    entitled: bool
    answers: list[tuple[int, bytes]] = field(default_factory=list)


class Server:
    """``uvicorn api.main:create_app --factory`` as a child process, killable."""

    def __init__(self, settings, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.env = {
            **os.environ,
            "STATIONS_DB_NAME": settings.db.name,
            "STATIONS_DB_DATA_DIR": str(settings.db.data_dir.resolve()),
        }
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                env=self.env,
                stdout=log,
                stderr=log,
            )
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    if (await http.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        raise AssertionError(f"the server did not start:\n{self.log.read_text()}")

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def server(settings, conn, tmp_path):
    running = Server(settings, free_port(), tmp_path / "server.log")
    await running.start()
    yield running
    await running.stop()


async def prepare(conn, settings) -> tuple[list[Attempt], list[int]]:
    """Stations, campaign, stock and members; the attempts in sending order."""
    stations = [
        await create_station(conn, kind="water_point", lat=33.90 + i * 0.01, lng=116.80)
        for i in range(len(STOCK))
    ]
    await create_campaign(conn, [s["id"] for s in stations], daily_quota=QUOTA)
    for station, allocated in zip(stations, STOCK, strict=True):
        await conn.execute(
            """
            INSERT INTO water_stock (station_id, local_day, allocated, remaining)
            SELECT id, (now() AT TIME ZONE time_zone)::date, $2, $2 FROM stations WHERE id = $1
            """,
            station["id"],
            allocated,
        )
    attempts: list[Attempt] = []
    for index, station in enumerate(stations):
        suspended = SUSPENDED_AT_LAST_STATION if index == len(stations) - 1 else 0
        for m in range(MEMBERS_PER_STATION + suspended):
            entitled = m < MEMBERS_PER_STATION
            member_id, _, _ = await create_member(
                conn, settings, status="active" if entitled else "suspended"
            )
            token = await member_token(conn, member_id)
            body = {
                "code": code_for(station, settings),
                "lat": 33.90 + index * 0.01 + 0.0003,
                "lng": 116.80 - 0.0002,
            }
            for n in range(ATTEMPTS_PER_MEMBER):
                attempts.append(Attempt(index, token, f"{member_id}-{n}", body, entitled))
    random.Random(4).shuffle(attempts)  # stations and members interleaved, as in the street
    return attempts, [s["id"] for s in stations]


class ConnectionLost(Exception):
    """The server went away before answering."""


async def send(server: Server, attempt: Attempt) -> tuple[int, bytes]:
    """POST one claim on its own connection; the status and the exact body bytes.

    A few lines of HTTP/1.1 instead of httpx: httpcore's pool does work proportional to
    the queue on every request, which makes a thousand simultaneous requests crawl.
    """
    body = orjson.dumps(attempt.body)
    head = (
        f"POST /v1/claims HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {attempt.token}\r\nIdempotency-Key: {attempt.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    except OSError as exc:
        raise ConnectionLost from exc
    try:
        writer.write(head.encode() + body)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionLost
        status = int(status_line.split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await reader.readexactly(length)
    except (OSError, asyncio.IncompleteReadError) as exc:
        raise ConnectionLost from exc
    finally:
        writer.close()


async def fire(server: Server, sends: list[Attempt]) -> list[tuple[int, bytes] | None]:
    """Send everything at once; None where the connection failed."""

    async def one(attempt: Attempt) -> tuple[int, bytes] | None:
        try:
            answer = await send(server, attempt)
        except ConnectionLost:
            return None
        attempt.answers.append(answer)
        return answer

    return await asyncio.gather(*(one(a) for a in sends))


def expected_grants() -> list[int]:
    return [min(stock, MEMBERS_PER_STATION * QUOTA) for stock in STOCK]


async def check_invariants(conn, attempts: list[Attempt], station_ids: list[int]) -> None:
    # Every key has exactly one answer, however many times it was sent.
    for attempt in attempts:
        assert attempt.answers, f"key {attempt.key} never got an answer"
        assert len(set(attempt.answers)) == 1, f"key {attempt.key} answered differently"
    granted = [a for a in attempts if a.answers[0][0] == 201]
    assert all(a.entitled for a in granted), "a suspended member got a bottle"
    assert Counter(a.answers[0][0] for a in attempts if not a.entitled) == {403: 30}
    per_station = Counter(a.station for a in granted)
    assert [per_station[i] for i in range(len(STOCK))] == expected_grants()

    rows = await conn.fetch(
        """
        SELECT w.station_id, w.allocated, w.remaining,
               (SELECT count(*) FROM claims c WHERE c.station_id = w.station_id) AS claims
        FROM water_stock w
        """
    )
    by_station = {r["station_id"]: r for r in rows}
    for index, station_id in enumerate(station_ids):
        row = by_station[station_id]
        assert row["remaining"] >= 0
        assert row["allocated"] - row["remaining"] == row["claims"] == expected_grants()[index]
    over_quota = await conn.fetchval(
        """
        SELECT count(*) FROM (SELECT member_id FROM claims GROUP BY member_id, local_day
                              HAVING count(*) > $1) o
        """,
        QUOTA,
    )
    assert over_quota == 0
    codes_answered = sorted(orjson.loads(a.answers[0][1])["claim_code"] for a in granted)
    codes_stored = sorted(
        r["code"] for r in await conn.fetch("SELECT claim_code(id) AS code FROM claims")
    )
    assert codes_answered == codes_stored
    assert await conn.fetchval("SELECT count(*) FROM claim_requests WHERE outcome IS NULL") == 0


async def test_simultaneous_claims_grant_exactly_min_of_stock_and_demand(server, conn, settings):
    attempts, station_ids = await prepare(conn, settings)
    duplicates = [a for a in attempts if a.key.endswith("-0")]
    sends = attempts + duplicates  # first attempts go twice, at the same moment
    assert len(sends) >= 500 and len({a.token for a in attempts}) >= 200
    answers = await fire(server, sends)
    assert None not in answers
    # Every retry, after the storm, gets its first answer byte for byte.
    await fire(server, attempts)
    await check_invariants(conn, attempts, station_ids)
    statuses = Counter(a.answers[0][0] for a in attempts)
    assert statuses[201] == sum(expected_grants())
    details = Counter(
        orjson.loads(a.answers[0][1])["detail"].split(":")[0]
        for a in attempts
        if a.answers[0][0] != 201
    )
    assert set(details) <= {"quota_used", "out_of_stock", "member_suspended"}


async def test_server_killed_mid_run_loses_and_doubles_nothing(server, conn, settings):
    attempts, station_ids = await prepare(conn, settings)
    answered = 0
    killed = asyncio.Event()

    async def one(attempt: Attempt) -> None:
        nonlocal answered
        try:
            attempt.answers.append(await send(server, attempt))
        except ConnectionLost:
            return
        answered += 1
        if answered == len(attempts) // 4 and not killed.is_set():
            killed.set()
            await server.kill()

    await asyncio.gather(*(one(a) for a in attempts))
    assert killed.is_set()
    unanswered = [a for a in attempts if not a.answers]
    assert unanswered, "the kill should have cut some requests off"

    await server.start()
    await fire(server, unanswered)  # retried with the same keys and bodies
    await fire(server, attempts)  # and everything once more: the first answers
    await check_invariants(conn, attempts, station_ids)
    assert await conn.fetchval("SELECT count(*) FROM claims") == sum(expected_grants())
