"""Benchmark: nearest stations over a million-station catalog, against a trivial endpoint.

    .venv/bin/python bench/nearest.py [--stations 1000000] [--duration 15]

1. Creates its own database on the project's cluster (``stations_bench_<pid>``) and
   loads N stations clustered in the cities of eastern China (both kinds, varied
   amenities, access rules and opening hours), straight through COPY.
2. Starts the server the default way (``stations serve``: uvicorn, the app factory, one
   worker) on a free port, and waits until the index is loaded.
3. Runs ``wrk`` (2 threads, 64 connections, a Lua script drawing random points from the
   same cities) against ``/healthz`` — the trivial FastAPI endpoint — and against
   ``/v1/stations/nearest?k=5`` and ``…&open_now=true&amenity=drinking_water``, in
   interleaved rounds (mean throughput, median of the rounds' p50 and p99).
4. Times ``POST /v1/stations/nearest:batch`` with 10,000 points.
5. Prints throughput, p50, p99 and the ratios to the trivial endpoint; drops its database.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stations.catalog.vocab import AMENITIES  # noqa: E402
from stations.db import admin as dbadmin  # noqa: E402
from stations.db import connection as dbconn  # noqa: E402
from stations.db import embedded  # noqa: E402
from stations.geo import h3cells  # noqa: E402
from stations.settings import get_settings  # noqa: E402

# (name, lat, lng, weight, spread in km): urban eastern China.
CITIES = [
    ("上海", 31.2304, 121.4737, 10.0, 20.0),
    ("南京", 32.0603, 118.7969, 5.0, 12.0),
    ("杭州", 30.2741, 120.1551, 5.0, 12.0),
    ("苏州", 31.2990, 120.5853, 4.0, 10.0),
    ("合肥", 31.8206, 117.2272, 3.5, 10.0),
    ("青岛", 36.0671, 120.3826, 3.5, 10.0),
    ("宁波", 29.8683, 121.5440, 3.0, 9.0),
    ("济南", 36.6512, 117.1201, 3.0, 9.0),
    ("无锡", 31.4912, 120.3119, 2.5, 8.0),
    ("徐州", 34.2044, 117.2859, 2.5, 8.0),
    ("福州", 26.0745, 119.2965, 2.5, 8.0),
    ("常州", 31.8107, 119.9741, 2.0, 7.0),
    ("南通", 31.9802, 120.8943, 2.0, 7.0),
    ("厦门", 24.4798, 118.0894, 2.0, 7.0),
    ("温州", 27.9938, 120.6994, 2.0, 7.0),
    ("泉州", 24.8740, 118.6750, 1.5, 6.0),
    ("绍兴", 30.0300, 120.5800, 1.5, 6.0),
    ("嘉兴", 30.7460, 120.7550, 1.2, 5.0),
    ("扬州", 32.3940, 119.4130, 1.2, 5.0),
    ("芜湖", 31.3520, 118.4330, 1.2, 5.0),
    ("淮北", 33.9556, 116.7983, 1.0, 5.0),
    ("蚌埠", 32.9160, 117.3890, 1.0, 5.0),
    ("阜阳", 32.8900, 115.8140, 1.0, 5.0),
    ("连云港", 34.5960, 119.2220, 1.0, 5.0),
    ("盐城", 33.3480, 120.1630, 1.0, 5.0),
]
HOURS = [
    ("24/7", 20),
    ("Mo-Su 07:00-21:00", 12),
    ("Mo-Fr 08:00-18:00", 10),
    ("Mo-Fr 08:30-12:00,13:30-18:00; PH off", 10),
    ("Mo-Su 06:00-22:00", 8),
    ("Mo-Sa 08:00-20:00; Su 09:00-17:00", 6),
    ("22:00-06:00", 3),
    ("Mo-Fr 09:00-17:00; PH off", 6),
    ("Mo-Su 10:00-22:00", 5),
    ("Jun-Sep Mo-Su 06:00-20:00; Oct-May Mo-Fr 08:00-17:00", 5),
    ("Mo-Su 05:00-23:00", 4),
    (None, 11),
]
ACCESS = [("open_to_all", 75), ("members_only", 10), ("customers_only", 10), ("key_or_app", 5)]
AMENITY_P = {
    "drinking_water": 0.65,
    "hot_water": 0.5,
    "restroom": 0.45,
    "seating": 0.7,
    "shade": 0.4,
    "air_conditioning": 0.5,
    "heating": 0.35,
    "phone_charging": 0.6,
    "ebike_charging": 0.2,
    "microwave": 0.35,
    "refrigerator": 0.15,
    "first_aid": 0.4,
    "umbrella": 0.3,
    "wifi": 0.45,
    "accessible": 0.2,
    "tire_pump": 0.15,
    "repair_tools": 0.15,
    "sewing_kit": 0.1,
    "lockers": 0.05,
    "handwashing": 0.3,
}
STREETS = ["人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "长江路", "黄河路"]

STAGING = """
CREATE UNLOGGED TABLE bench_staging (
    id bigint, name text, kind text, amenities text[], access text, opening_hours text,
    address text, district text, source_id text, lat float8, lng float8,
    h7 bigint, h9 bigint, h11 bigint, verified_at timestamptz)
"""
LOAD = """
INSERT INTO stations (id, code, name, kind, status, amenities, access, opening_hours,
                      time_zone, country_code, address, district, source, source_id,
                      original_position, geom, h3_r7, h3_r9, h3_r11, verified_at)
SELECT id, station_code(id), name, kind, 'active', amenities, access, opening_hours,
       'Asia/Shanghai', 'CN', address, district, 'bench', source_id,
       jsonb_build_object('crs', 'wgs84', 'lat', lat, 'lng', lng),
       ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography, h7, h9, h11, verified_at
FROM bench_staging
"""

SECONDARY_INDEXES = """
SELECT i.indexname, i.indexdef
FROM pg_indexes i
WHERE i.schemaname = 'public' AND i.tablename = 'stations'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
"""


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def synthetic_catalog(n: int, seed: int = 2026) -> dict[str, np.ndarray | list]:
    """N stations in city clusters (each city a few dense districts), reproducible."""
    rng = np.random.default_rng(seed)
    weights = np.array([c[3] for c in CITIES])
    city = rng.choice(len(CITIES), size=n, p=weights / weights.sum())
    lat = np.empty(n)
    lng = np.empty(n)
    for c, (_, lat0, lng0, _, spread) in enumerate(CITIES):
        members = np.flatnonzero(city == c)
        km_lat = 1 / 111.0
        km_lng = 1 / (111.0 * math.cos(math.radians(lat0)))
        centres = rng.normal(0, spread / 2.5, size=(12, 2))
        which = rng.integers(0, 12, size=len(members))
        offsets = centres[which] + rng.normal(0, spread / 6, size=(len(members), 2))
        lat[members] = lat0 + offsets[:, 0] * km_lat
        lng[members] = lng0 + offsets[:, 1] * km_lng
    kind = np.where(rng.random(n) < 0.3, "water_point", "love_station")
    names = list(AMENITIES)
    has = {a: rng.random(n) < p for a, p in AMENITY_P.items()}
    has["drinking_water"] |= kind == "water_point"
    amenities = [[a for a in names if has[a][i]] for i in range(n)]
    hours_p = np.array([w for _, w in HOURS], dtype=float)
    hours = [HOURS[i][0] for i in rng.choice(len(HOURS), size=n, p=hours_p / hours_p.sum())]
    access_p = np.array([w for _, w in ACCESS], dtype=float)
    access = [ACCESS[i][0] for i in rng.choice(len(ACCESS), size=n, p=access_p / access_p.sum())]
    now = datetime.now(UTC)
    verified_days = rng.integers(0, 400, size=n)
    verified = [None if d > 320 else now - timedelta(days=int(d)) for d in verified_days.tolist()]
    city_names = [CITIES[c][0] for c in city.tolist()]
    return {
        "lat": lat.round(7),
        "lng": lng.round(7),
        "kind": kind.tolist(),
        "amenities": amenities,
        "opening_hours": hours,
        "access": access,
        "verified_at": verified,
        "city": city_names,
    }


async def create_and_load(db_name: str, n: int) -> None:
    settings = get_settings()
    await dbadmin.create_database(settings.db, db_name)
    await dbadmin.migrate(settings.db, database=db_name)
    started = time.perf_counter()
    data = synthetic_catalog(n)
    cells = h3cells.catalog_cells(data["lat"], data["lng"])
    say(f"generated {n:,} stations in {time.perf_counter() - started:.1f}s")
    records = [
        (
            i + 1,
            f"{data['city'][i]}{STREETS[i % 8]}爱心驿站{i + 1}",
            data["kind"][i],
            data["amenities"][i],
            data["access"][i],
            data["opening_hours"][i],
            f"{data['city'][i]}市{STREETS[i % 8]}{i % 500 + 1}号",
            data["city"][i],
            f"b{i + 1}",
            float(data["lat"][i]),
            float(data["lng"][i]),
            int(cells[7][i]),
            int(cells[9][i]),
            int(cells[11][i]),
            data["verified_at"][i],
        )
        for i in range(n)
    ]
    conn = await dbconn.connect(settings.db, database=db_name)
    try:
        # A bulk load of our own throwaway database: no per-row history or NOTIFY.
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(STAGING)
        started = time.perf_counter()
        await conn.copy_records_to_table("bench_staging", records=records)
        # Secondary indexes are built once after the load (as pg_restore does), which is
        # several times faster than maintaining them row by row; the schema ends the same.
        indexes = await conn.fetch(SECONDARY_INDEXES)
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        await conn.execute(LOAD)
        await conn.execute("SET maintenance_work_mem = '512MB'")
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute("DROP TABLE bench_staging")
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('stations', 'id'), "
            "(SELECT max(id) FROM stations))"
        )
        await conn.execute("ANALYZE stations")
        say(f"loaded them into PostGIS (with every index) in {time.perf_counter() - started:.1f}s")
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(db_name: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "STATIONS_DB_NAME": db_name, "STATIONS_API_PORT": str(port)}
    env.pop("DATABASE_URL", None)
    stations = ROOT / ".venv" / "bin" / "stations"
    command = [str(stations) if stations.exists() else "stations", "serve", "--port", str(port)]
    return subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)


def wait_until_serving(base: str, server: subprocess.Popen, timeout: float = 600) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if server.poll() is not None:
            raise SystemExit("the server stopped while starting; see its output above")
        try:
            response = httpx.get(f"{base}/v1/stations/nearest?lat=31.23&lng=121.47&k=5", timeout=5)
            if response.status_code == 200 and response.json()["count"] == 5:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not start in time")


LUA = """
local cities = {%(cities)s}
local total = 0
for _, c in ipairs(cities) do total = total + c[3] end
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local function gauss()
  local u1, u2 = math.random(), math.random()
  return math.sqrt(-2 * math.log(u1 + 1e-12)) * math.cos(2 * math.pi * u2)
end
request = function()
  local pick, acc = math.random() * total, 0
  local c = cities[#cities]
  for _, city in ipairs(cities) do
    acc = acc + city[3]
    if pick <= acc then c = city; break end
  end
  local lat = c[1] + gauss() * c[4] / 2 / 111.0
  local lng = c[2] + gauss() * c[4] / 2 / (111.0 * math.cos(math.rad(c[1])))
  return wrk.format("GET", string.format(wrk.path .. "lat=%%.6f&lng=%%.6f", lat, lng))
end
"""


def wrk_script(directory: Path) -> Path:
    cities = ",".join(f"{{{lat},{lng},{w},{s}}}" for _, lat, lng, w, s in CITIES)
    path = directory / "points.lua"
    path.write_text(LUA % {"cities": cities})
    return path


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(url: str, script: Path, duration: int) -> dict[str, float]:
    command = [
        "wrk", "-t2", "-c64", f"-d{duration}s", "--latency", "--timeout", "10s",
        "-s", str(script), url,
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        result[f"p{pct}"] = _ms(re.search(rf"\s{pct}%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["non2xx"] = float(errors.group(1)) if errors else 0.0
    sockets = re.search(r"Socket errors:.*", out)
    result["socket_errors"] = sockets.group(0) if sockets else ""  # type: ignore[assignment]
    return result


def combine(runs: list[dict[str, float]]) -> dict[str, float]:
    """Rounds of one endpoint: mean throughput, median of the rounds' percentiles."""
    return {
        "rps": statistics.fmean(r["rps"] for r in runs),
        "p50": statistics.median(r["p50"] for r in runs),
        "p99": statistics.median(r["p99"] for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs),
        "socket_errors": "; ".join(str(r["socket_errors"]) for r in runs if r["socket_errors"]),
    }


def time_batch(base: str, n_points: int, repeats: int) -> list[float]:
    rng = np.random.default_rng(7)
    weights = np.array([c[3] for c in CITIES])
    city = rng.choice(len(CITIES), size=n_points, p=weights / weights.sum())
    points = []
    for c in city.tolist():
        _, lat0, lng0, _, spread = CITIES[c]
        lat = lat0 + rng.normal(0, spread / 2) / 111.0
        lng = lng0 + rng.normal(0, spread / 2) / (111.0 * math.cos(math.radians(lat0)))
        points.append({"lat": round(float(lat), 6), "lng": round(float(lng), 6)})
    times = []
    with httpx.Client(timeout=60) as client:
        for _ in range(repeats):
            started = time.perf_counter()
            response = client.post(
                f"{base}/v1/stations/nearest:batch", json={"points": points, "k": 5}
            )
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            assert len(response.json()["answers"]) == n_points
            times.append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=15, help="seconds per endpoint")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--batch-repeats", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is missing: run `scripts/system-packages.sh bench` (apt-get install wrk)"
        )
    settings = get_settings()
    if settings.db.embedded:
        embedded.start(settings.db)
    db_name = f"stations_bench_{os.getpid()}"
    server = None
    try:
        asyncio.run(create_and_load(db_name, args.stations))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(db_name, port)
        say(f"server (stations serve, 1 worker) ready in {wait_until_serving(base, server):.1f}s")
        with tempfile.TemporaryDirectory() as tmp:
            script = wrk_script(Path(tmp))
            nearest = f"{base}/v1/stations/nearest?k=5&"
            filtered = f"{base}/v1/stations/nearest?k=5&open_now=true&amenity=drinking_water&"
            run_wrk(nearest, script, 5)  # warm-up (page cache, code paths)
            run_wrk(f"{base}/healthz?", script, 3)
            targets = {
                "GET /healthz (trivial)": f"{base}/healthz?",
                "GET nearest k=5": nearest,
                "GET nearest k=5 open_now amenity": filtered,
            }
            # Interleaved rounds: load from other processes drifts, and must fall on every
            # endpoint alike for the ratios to mean something.
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            slice_s = max(2, args.duration // args.rounds)
            for _ in range(args.rounds):
                for name, url in targets.items():
                    rounds[name].append(run_wrk(url, script, slice_s))
            results = {name: combine(runs) for name, runs in rounds.items()}
        batch = time_batch(base, 10_000, args.batch_repeats)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        asyncio.run(dbadmin.drop_database(settings.db, db_name))

    trivial = results["GET /healthz (trivial)"]
    load = os.getloadavg()
    print()
    print(
        f"{args.stations:,} stations; wrk -t2 -c64, {args.rounds} interleaved rounds of "
        f"{max(2, args.duration // args.rounds)}s per endpoint; {os.cpu_count()} cores; "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (other processes share them)"
    )
    header = ("endpoint", "req/s", "p50 ms", "p99 ms", "rps ratio", "p99 ratio")
    print("{:36} {:>9} {:>8} {:>8} {:>10} {:>10}".format(*header))
    for name, r in results.items():
        print(
            f"{name:36} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} "
            f"{r['rps'] / trivial['rps']:10.2f} {r['p99'] / trivial['p99']:10.2f}"
            + (f"  non-2xx: {r['non2xx']:.0f}" if r["non2xx"] else "")
            + (f"  {r['socket_errors']}" if r["socket_errors"] else "")
        )
    print(
        f"POST nearest:batch, 10,000 points, k=5: median {statistics.median(batch):.3f}s "
        f"(min {min(batch):.3f}s, max {max(batch):.3f}s over {len(batch)} runs)"
    )
    targets = [
        (
            "nearest throughput ≥ 0.6 × trivial",
            results["GET nearest k=5"]["rps"] / trivial["rps"] >= 0.6,
        ),
        ("nearest p99 ≤ 2 × trivial p99", results["GET nearest k=5"]["p99"] <= 2 * trivial["p99"]),
        (
            "open_now+amenity throughput ≥ 0.4 × trivial",
            results["GET nearest k=5 open_now amenity"]["rps"] / trivial["rps"] >= 0.4,
        ),
        ("nearest:batch 10,000 points ≤ 1 s", statistics.median(batch) <= 1.0),
    ]
    for label, ok in targets:
        print(f"  {'met' if ok else 'NOT met'}: {label}")


if __name__ == "__main__":
    main()
