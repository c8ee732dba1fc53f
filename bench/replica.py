"""Benchmark: reads under load with a streaming read replica, and without one.

    .venv/bin/python bench/replica.py [--stations 50000] [--duration 15] [--workers 2]

1. Creates its own database on the project's cluster (``stations_bench_<pid>``), loads N
   stations (bench/nearest.py's catalog of eastern Chinese cities), and starts the
   project's replica (``stations db replica up``) if it does not run yet.
2. Serves it twice with ``stations serve --workers W``: reads on the primary (no
   ``DATABASE_READ_URL``), then with ``DATABASE_READ_URL`` naming the replica.
3. Each round runs ``wrk`` (2 threads, 32 connections) against a mix of the reads that
   go to the read pool: text/box search (``/v1/stations?bbox=…``), OGC API items in a
   box, and street-level vector tiles, all at random places in the same cities;
   meanwhile it samples ``pg_stat_activity`` on both servers every 0.2 s.
4. Prints throughput, p50 and p99, and per server the backends the service held (most
   seen) and how many were running a query on average: where the reads were served.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from nearest import (  # noqa: E402
    CITIES,
    create_and_load,
    free_port,
    run_wrk,
    say,
    wait_until_serving,
)

from stations.db import admin as dbadmin  # noqa: E402
from stations.db import connection as dbconn  # noqa: E402
from stations.db import embedded, replica, replication  # noqa: E402
from stations.search.service import LISTENER_NAME  # noqa: E402
from stations.settings import get_settings  # noqa: E402

LUA = """
local cities = {%(cities)s}
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local function place()
  local c = cities[math.random(#cities)]
  local lat = c[1] + (math.random() - 0.5) * c[4] / 111.0
  local lng = c[2] + (math.random() - 0.5) * c[4] / (111.0 * math.cos(math.rad(c[1])))
  return lat, lng
end
request = function()
  local lat, lng = place()
  local kind = math.random(3)
  if kind == 1 then
    return wrk.format("GET", string.format(
      "/v1/stations?bbox=%%.5f,%%.5f,%%.5f,%%.5f&limit=20",
      lng - 0.01, lat - 0.01, lng + 0.01, lat + 0.01))
  elseif kind == 2 then
    return wrk.format("GET", string.format(
      "/ogc/collections/stations/items?bbox=%%.5f,%%.5f,%%.5f,%%.5f&limit=20",
      lng - 0.01, lat - 0.01, lng + 0.01, lat + 0.01))
  end
  local n = 2 ^ 15
  local x = math.floor((lng + 180) / 360 * n)
  local r = math.rad(lat)
  local y = math.floor((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
  return wrk.format("GET", string.format(
    "/ogc/collections/stations/tiles/WebMercatorQuad/15/%%d/%%d", y, x))
end
"""


class Sampler:
    """pg_stat_activity of the service's connections on one server, sampled in a thread."""

    def __init__(self, db, database: str, *, on_replica: bool) -> None:
        self.db, self.database, self.on_replica = db, database, on_replica
        self.held = 0
        self.listeners = 0
        self.active: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        conn = await dbconn.connect(self.db, database="postgres", replica=self.on_replica)
        try:
            while not self._stop.is_set():
                rows = await conn.fetch(
                    "SELECT application_name, state FROM pg_stat_activity WHERE datname = $1",
                    self.database,
                )
                pooled = [r for r in rows if r["application_name"] == dbconn.APPLICATION_NAME]
                self.held = max(self.held, len(pooled))
                self.listeners = max(
                    self.listeners, sum(r["application_name"] == LISTENER_NAME for r in rows)
                )
                self.active.append(sum(r["state"] == "active" for r in pooled))
                await asyncio.sleep(0.2)
        finally:
            await conn.close()

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def line(self) -> str:
        mean = sum(self.active) / len(self.active) if self.active else 0.0
        return (
            f"held {self.held:3d} backends (listeners {self.listeners}), "
            f"{mean:5.1f} running a query on average"
        )


def serve(db_name: str, port: int, workers: int, read_url: str | None) -> subprocess.Popen:
    env = {**os.environ, "STATIONS_DB_NAME": db_name, "STATIONS_API_PORT": str(port)}
    env.pop("DATABASE_URL", None)
    env.pop("DATABASE_READ_URL", None)
    if read_url:
        env["DATABASE_READ_URL"] = read_url
    stations = ROOT / ".venv" / "bin" / "stations"
    command = [str(stations), "serve", "--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)


def round_of(name: str, db_name: str, args, read_url: str | None, script: Path) -> None:
    settings = get_settings()
    port = free_port()
    server = serve(db_name, port, args.workers, read_url)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, server)
        with (
            Sampler(settings.db, db_name, on_replica=False) as primary,
            Sampler(settings.db.model_copy(update={"read_url": read_url}), db_name,
                    on_replica=read_url is not None) as standby,
        ):  # fmt: skip
            result = run_wrk(f"{base}/", script, args.duration)
        print(
            f"{name:18} {result['rps']:8.0f} req/s  p50 {result['p50']:6.1f} ms  "
            f"p99 {result['p99']:6.1f} ms  non-2xx {result['non2xx']:.0f}",
            flush=True,
        )
        print(f"{'':18} primary: {primary.line()}", flush=True)
        if read_url:
            print(f"{'':18} replica: {standby.line()}", flush=True)
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=50_000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = get_settings()
    if not settings.db.embedded:
        raise SystemExit("this benchmark clones the project-local cluster; unset DATABASE_URL")
    embedded.start(settings.db)
    asyncio.run(replica.prepare_primary(settings.db))
    replica.start(settings.db)
    db_name = f"stations_bench_{os.getpid()}"
    try:
        asyncio.run(create_and_load(db_name, args.stations))
        read_db = settings.db.model_copy(update={"name": db_name})
        read_url = replica.url(read_db)
        asyncio.run(_replayed(read_db.model_copy(update={"read_url": read_url})))
        say(f"the replica has replayed the load; {args.workers} workers per server")
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "reads.lua"
            cities = ",".join(f"{{{lat},{lng},{w},{s}}}" for _, lat, lng, w, s in CITIES)
            script.write_text(LUA % {"cities": cities})
            round_of("reads on primary", db_name, args, None, script)
            round_of("reads on replica", db_name, args, read_url, script)
    finally:
        asyncio.run(dbadmin.drop_database(settings.db, db_name))


async def _replayed(db) -> None:
    primary = await dbconn.connect(db, database="postgres")
    standby = await dbconn.connect(db, database="postgres", replica=True)
    try:
        lsn = await replication.primary_lsn(primary)
        for _ in range(6000):
            if await replication.replayed(standby, lsn):
                return
            await asyncio.sleep(0.05)
        raise SystemExit("the replica did not replay the load in 5 minutes")
    finally:
        await primary.close()
        await standby.close()


if __name__ == "__main__":
    main()
