"""Granted water claims per second through the real server, against its trivial endpoint.

    .venv/bin/python bench/claims.py [--rounds 3] [--duration 5] [--connections 64]

Builds its own database ``stations_bench_claims`` on the project's cluster (never the
working database): 1,000 water points around Huaibei with stock, 20,000 members with
tokens, one running campaign with a prize pool. Starts the server the way
``stations serve`` does (uvicorn, the app factory, uvloop, httptools, one worker),
then drives ``wrk`` with 64 connections: every request is a claim at one of the
1,000 stations by a rotating member with a fresh Idempotency-Key, so nearly all are
granted (the server decides the claims that arrive together in one transaction; the
average per transaction is printed); after each round, ``/healthz`` for as long
(interleaved rounds, so load that drifts during the run falls on both). Prints both
rates and their ratio, and checks the integrity invariants in the database afterwards.
The target is a ratio of at least 0.3.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stations.db import admin as dbadmin  # noqa: E402
from stations.db import connection as dbconn  # noqa: E402
from stations.db import embedded  # noqa: E402
from stations.geo import h3cells  # noqa: E402
from stations.people import members, tokens  # noqa: E402
from stations.settings import Settings  # noqa: E402
from stations.visits import qr  # noqa: E402

DATABASE = "stations_bench_claims"
STATIONS = 1000
MEMBERS = 20_000
STOCK_PER_STATION = 500
QUOTA = 5
PRIZE_TOTAL = 500
PRIZE_PROBABILITY = 0.01
CENTRE = (33.9556, 116.7983)

LUA = r"""
local data = dofile(os.getenv("CLAIMS_BENCH_DATA"))
local tokens, bodies = data.tokens, data.bodies
local run = os.getenv("CLAIMS_BENCH_RUN")  -- every wrk run claims with keys of its own
-- Requests of earlier runs: each run goes on where the last stopped in the rotation of
-- members, so no member is asked for more than its share of claims.
local base = tonumber(os.getenv("CLAIMS_BENCH_BASE"))
local nthreads = tonumber(os.getenv("CLAIMS_BENCH_THREADS"))
local counter, thread_id = 0, 0
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  thread_id = tid
  granted, replayed, refused, failed = 0, 0, 0, 0
end

function request()
  counter = counter + 1
  local n = base + counter * nthreads + thread_id
  local token = tokens[(n * 7919) % #tokens + 1]
  local body = bodies[(n * 104729) % #bodies + 1]
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "b-" .. run .. "-" .. n,
  }
  return wrk.format("POST", "/v1/claims", headers, body)
end

function response(status, headers, body)
  local again = headers["idempotent-replayed"] or headers["Idempotent-Replayed"]
  if status == 201 and again then replayed = replayed + 1
  elseif status == 201 then granted = granted + 1
  elseif status < 500 then refused = refused + 1
  else failed = failed + 1 end
end

function done(summary, latency, requests)
  local g, p, r, f = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    g = g + t:get("granted"); p = p + t:get("replayed")
    r = r + t:get("refused"); f = f + t:get("failed")
  end
  io.write(string.format("LUA granted=%d replayed=%d refused=%d failed=%d\n", g, p, r, f))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def prepare(settings: Settings) -> tuple[list[str], list[str]]:
    """A fresh benchmark database with stations, stock, members, tokens and a campaign."""
    db = settings.db
    await dbadmin.drop_database(db, DATABASE)
    await dbadmin.create_database(db, DATABASE)
    await dbadmin.migrate(db, database=DATABASE)
    conn = await dbconn.connect(db, database=DATABASE)
    rng = random.Random(7)
    try:
        station_rows = []
        for i in range(STATIONS):
            lat = CENTRE[0] + rng.uniform(-0.15, 0.15)
            lng = CENTRE[1] + rng.uniform(-0.15, 0.15)
            cells = h3cells.catalog_cells_of(lat, lng)
            station_rows.append((i, lat, lng, cells[7], cells[9], cells[11]))
        stations = await conn.fetch(
            """
            INSERT INTO stations (name, kind, amenities, source, source_id, original_position,
                                  geom, h3_r7, h3_r9, h3_r11)
            SELECT '测试派水点' || i, 'water_point', '{drinking_water}', 'bench', 'b' || i,
                   jsonb_build_object('crs', 'wgs84', 'lat', lat, 'lng', lng),
                   ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography, r7, r9, r11
            FROM unnest($1::int[], $2::float8[], $3::float8[], $4::int8[], $5::int8[],
                        $6::int8[]) AS t(i, lat, lng, r7, r9, r11)
            RETURNING id, code, ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng
            """,
            *(list(col) for col in zip(*station_rows, strict=True)),
        )
        await conn.execute(
            """
            INSERT INTO water_stock (station_id, local_day, allocated, remaining)
            SELECT id, (now() AT TIME ZONE time_zone)::date, $1, $1 FROM stations
            """,
            STOCK_PER_STATION,
        )
        campaign_id = await conn.fetchval(
            """
            INSERT INTO campaigns (name, starts_on, ends_on, daily_quota)
            VALUES ('bench', current_date - 1, current_date + 1, $1) RETURNING id
            """,
            QUOTA,
        )
        await conn.execute(
            "INSERT INTO campaign_stations (campaign_id, station_id) SELECT $1, id FROM stations",
            campaign_id,
        )
        await conn.execute(
            """
            INSERT INTO prize_pools (campaign_id, name, total, remaining, probability)
            VALUES ($1, '夏日礼包', $2, $2, $3)
            """,
            campaign_id,
            PRIZE_TOTAL,
            PRIZE_PROBABILITY,
        )
        member_ids = await conn.fetch(
            """
            INSERT INTO members (member_no, phone_hash, occupation)
            SELECT 'B' || i, $1, 'food_delivery' FROM generate_series(1, $2) AS i
            RETURNING id
            """,
            members.phone_hash("13800000000", settings.security),
            MEMBERS,
        )
        clear = [tokens.new_token() for _ in member_ids]
        await conn.execute(
            """
            INSERT INTO api_tokens (token_hash, member_id, expires_at)
            SELECT h, m, now() + interval '1 day' FROM unnest($1::bytea[], $2::int8[]) AS t(h, m)
            """,
            [tokens.token_hash(t) for t in clear],
            [r["id"] for r in member_ids],
        )
        # Steady state before measuring: statistics and visibility maps up to date, so
        # autovacuum does not clean up after the bulk load during the run.
        await conn.execute("VACUUM ANALYZE")
        # And no dirty pages left by earlier work on the cluster (another benchmark's
        # million-row load): the checkpointer would flush them during the run and its
        # CPU counts as the database's. Needs a superuser, as on the embedded cluster.
        try:
            await conn.execute("CHECKPOINT")
        except asyncpg.InsufficientPrivilegeError:
            print("(not a superuser: no CHECKPOINT before the run)")
    finally:
        await conn.close()
    bodies = []
    for s in stations:
        url = qr.poster_url(s["code"], security=settings.security, base_url="http://bench")
        # Positions up to ~50 m from the station: inside the 300 m geofence.
        lat = s["lat"] + rng.uniform(-0.0004, 0.0004)
        lng = s["lng"] + rng.uniform(-0.0004, 0.0004)
        bodies.append(f'{{"code":"{url}","lat":{lat:.6f},"lng":{lng:.6f}}}')
    return clear, bodies


def lua_data(tokens_: list[str], bodies: list[str], path: Path) -> None:
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    with path.open("w") as out:
        out.write("return {\ntokens = {\n")
        out.writelines(quote(t) + ",\n" for t in tokens_)
        out.write("},\nbodies = {\n")
        out.writelines(quote(b) + ",\n" for b in bodies)
        out.write("}}\n")


def start_server(port: int) -> subprocess.Popen:
    env = dict(os.environ, STATIONS_DB_NAME=DATABASE)
    stations_cli = Path(sys.executable).parent / "stations"
    server = subprocess.Popen(
        [str(stations_cli), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(
        f"the server did not start: {server.stderr.read().decode() if server.stderr else ''}"
    )


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes (and their exited children's), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15]) / ticks
    return total


def cluster_pids(settings: Settings) -> list[int]:
    """The embedded cluster's postmaster and its children (backends, WAL writer, ...)."""
    if not settings.db.embedded:
        return []
    try:
        postmaster = int(embedded.layout(settings.db).pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children")
    try:
        return [postmaster, *(int(p) for p in children.read_text().split())]
    except OSError:
        return [postmaster]


def run_wrk(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        ["wrk", *args], capture_output=True, text=True, env=dict(os.environ, **env), check=True
    )
    return result.stdout


def parse_wrk(output: str) -> tuple[int, float]:
    match = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    if not match:
        raise SystemExit(f"could not read wrk's output:\n{output}")
    seconds = float(match.group(2)) * {"ms": 0.001, "s": 1, "m": 60}[match.group(3)]
    return int(match.group(1)), seconds


async def transactions(settings: Settings) -> int:
    """Transactions the benchmark database has committed (the statistics lag ~1 s)."""
    conn = await dbconn.connect(settings.db, database=DATABASE)
    try:
        return int(
            await conn.fetchval(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", DATABASE
            )
        )
    finally:
        await conn.close()


async def invariants(settings: Settings) -> dict[str, object]:
    conn = await dbconn.connect(settings.db, database=DATABASE)
    try:
        row = await conn.fetchrow(
            """
            SELECT
              (SELECT count(*) FROM claims) AS claims,
              (SELECT sum(allocated - remaining) FROM water_stock) AS stock_consumed,
              (SELECT count(*) FROM water_stock WHERE remaining < 0) AS negative_stock,
              (SELECT count(*) FROM (
                   SELECT 1 FROM claims GROUP BY campaign_id, member_id, local_day
                   HAVING count(*) > max(daily_quota)) q) AS members_over_quota,
              (SELECT count(*) FROM claims WHERE prize_pool_id IS NOT NULL) AS prizes_awarded,
              (SELECT sum(total - remaining) FROM prize_pools) AS prizes_taken,
              (SELECT sum(total) FROM prize_pools) AS prize_total,
              (SELECT count(*) FROM claim_requests WHERE outcome = 'granted') AS granted_answers,
              (SELECT count(*) FROM claim_requests WHERE outcome IS NULL) AS unanswered
            """
        )
        return dict(row)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help=f"keep the {DATABASE} database")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    settings = Settings()
    if settings.db.embedded:
        embedded.start(settings.db)
    print(f"preparing {DATABASE}: {STATIONS} stations, {MEMBERS} members ...", flush=True)
    member_tokens, bodies = asyncio.run(prepare(settings))
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="claims-bench-"))
    data_path, script_path = workdir / "data.lua", workdir / "claims.lua"
    lua_data(member_tokens, bodies, data_path)
    script_path.write_text(LUA)
    env = {"CLAIMS_BENCH_DATA": str(data_path)}
    base = f"http://127.0.0.1:{port}"
    conc = ["-t", str(args.threads), "-c", str(args.connections)]
    server = start_server(port)
    try:
        sent = 0  # requests so far, with room for those still in flight when wrk stops

        def claims_env(run: str) -> dict[str, str]:
            return dict(
                env,
                CLAIMS_BENCH_RUN=run,
                CLAIMS_BENCH_BASE=str(sent),
                CLAIMS_BENCH_THREADS=str(args.threads),
            )

        warm_up = run_wrk([*conc, "-d", "3s", "-s", str(script_path), base], claims_env("w"))
        sent += parse_wrk(warm_up)[0] + 10 * args.connections
        database_pids = cluster_pids(settings)
        time.sleep(2)  # the warm-up's transactions reach the statistics
        commits_before = asyncio.run(transactions(settings))
        requests = granted = replayed = refused = failed = health_requests = 0
        seconds = health_seconds = server_cpu = database_cpu = 0.0
        # Interleaved rounds: load that drifts during the run falls on both endpoints.
        for round_no in range(args.rounds):
            cpu_before = cpu_seconds([server.pid]), cpu_seconds(database_pids)
            output = run_wrk(
                [*conc, "-d", f"{args.duration}s", "-s", str(script_path), base],
                claims_env(f"r{round_no}"),
            )
            cpu_after = cpu_seconds([server.pid]), cpu_seconds(database_pids)
            server_cpu += cpu_after[0] - cpu_before[0]
            database_cpu += cpu_after[1] - cpu_before[1]
            done, spent = parse_wrk(output)
            requests, seconds = requests + done, seconds + spent
            sent += done + 10 * args.connections
            lua = re.search(r"LUA granted=(\d+) replayed=(\d+) refused=(\d+) failed=(\d+)", output)
            if not lua:
                raise SystemExit(f"wrk's script printed no counts:\n{output}")
            granted += int(lua.group(1))
            replayed += int(lua.group(2))
            refused += int(lua.group(3))
            failed += int(lua.group(4))
            health = run_wrk([*conc, "-d", f"{args.duration}s", f"{base}/healthz"], env)
            done, spent = parse_wrk(health)
            health_requests, health_seconds = health_requests + done, health_seconds + spent
        time.sleep(2)
        commits = asyncio.run(transactions(settings)) - commits_before
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    claims_per_s = granted / seconds
    health_per_s = health_requests / health_seconds
    print(
        f"claims:  {requests} requests in {seconds:.1f}s at {args.connections} connections "
        f"({args.rounds} rounds of {args.duration}s, each followed by /healthz)"
    )
    print(
        f"         answers: {granted} granted, {replayed} replayed, {refused} refused, "
        f"{failed} server errors"
    )
    if requests:
        server_ms = server_cpu / requests * 1000
        database_ms = database_cpu / requests * 1000
        print(f"         CPU per claim: server {server_ms:.2f} ms, database {database_ms:.2f} ms")
        print(f"         claims per transaction: {requests / max(commits, 1):.1f}")
    print(f"granted claims/s:      {claims_per_s:8.0f}")
    print(f"/healthz requests/s:   {health_per_s:8.0f}")
    print(f"ratio:                 {claims_per_s / health_per_s:8.2f}  (target >= 0.30)")
    checks = asyncio.run(invariants(settings))
    print("invariants after the run:")
    ok = (
        checks["negative_stock"] == 0
        and checks["members_over_quota"] == 0
        and checks["claims"] == checks["stock_consumed"]
        and checks["claims"] == checks["granted_answers"]
        and checks["prizes_awarded"] == checks["prizes_taken"]
        and checks["prizes_taken"] <= checks["prize_total"]  # type: ignore[operator]
        and checks["unanswered"] == 0
    )
    print(f"  stations with negative stock:   {checks['negative_stock']}")
    print(f"  members over quota:             {checks['members_over_quota']}")
    print(f"  claims / stock consumed:        {checks['claims']} / {checks['stock_consumed']}")
    print(f"  claims / granted answers kept:  {checks['claims']} / {checks['granted_answers']}")
    print(
        f"  prizes awarded / taken / pool:  {checks['prizes_awarded']} / "
        f"{checks['prizes_taken']} / {checks['prize_total']}"
    )
    print(f"  keys without a stored answer:   {checks['unanswered']}")
    print("invariants hold" if ok else "INVARIANTS BROKEN")
    if not args.keep:
        asyncio.run(dbadmin.drop_database(settings.db, DATABASE))
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
