"""Benchmark: `stations import` of a million generated stations, beside GDAL's ogr2ogr.

Generates a deterministic CSV (GCJ-02 positions clustered around 300 cities across
eastern and central China, as a map-SDK export would give them; Chinese names,
amenities, opening hours), creates a scratch database on the project's cluster with the
full schema (every index and history trigger), times the import as its own process and
prints stations/s and that process's peak memory. The peer is GDAL's
``ogr2ogr -f PostgreSQL`` (Debian's gdal-bin) with ``PG_USE_COPY=YES`` and a GiST index,
loading the same CSV into a database of its own on the same cluster: its rows/s and the
ratio of the two rates are printed (the target is ≥ 0.5×). A re-import of the same file
(which changes nothing) is timed too. The scratch databases are dropped at the end.

    .venv/bin/python bench/import.py [--rows 1000000] [--keep-csv PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stations.db import admin as dbadmin  # noqa: E402
from stations.db import connection as dbconn  # noqa: E402
from stations.geo import crs as crsmod  # noqa: E402
from stations.settings import Settings  # noqa: E402

SEED = 20_240_601
CITIES = 300
DISTRICTS = ["城关", "新华", "和平", "解放", "人民", "建设", "中山", "长江", "黄河", "开发"]
PLACES = ["公园", "广场", "地铁站", "商场", "医院", "社区", "菜市场", "工业园", "大学", "汽车站"]
OPERATORS = ["市总工会", "区总工会", "中国邮政", "中国银行", "工商银行", "国家电网", "美团", "顺丰"]
HOURS = [
    "24/7",
    "Mo-Fr 08:30-18:00",
    "Mo-Su 08:00-20:00",
    "Mo-Fr 08:30-12:00,13:30-18:00; PH off",
    "Mo-Sa 09:00-21:00",
    "Mo-Su 06:00-22:00",
    "",
]
AMENITY_SETS = [
    "drinking_water;seating;phone_charging",
    "drinking_water;hot_water;restroom;seating;air_conditioning",
    "drinking_water",
    "drinking_water;microwave;first_aid;umbrella",
    "restroom;seating;wifi;ebike_charging",
    "drinking_water;hot_water;seating;heating;phone_charging;tire_pump",
]


def generate(path: Path, rows: int) -> None:
    """Write the benchmark CSV (UTF-8, comma-separated, GCJ-02 lat/lng)."""
    rng = np.random.default_rng(SEED)
    city_lat = rng.uniform(22.5, 41.0, CITIES)
    city_lng = rng.uniform(104.0, 121.5, CITIES)
    city = rng.integers(0, CITIES, rows)
    spread = rng.uniform(0.03, 0.25, CITIES)[city]
    lat = city_lat[city] + rng.normal(0, 1, rows) * spread
    lng = city_lng[city] + rng.normal(0, 1, rows) * spread
    glat, glng = crsmod.wgs84_to_gcj02(lat, lng)
    numbers = np.arange(1, rows + 1)
    district = rng.integers(0, len(DISTRICTS), rows)
    place = rng.integers(0, len(PLACES), rows)
    names = [
        f"{DISTRICTS[d]}区{PLACES[p]}爱心驿站{n}号"
        for d, p, n in zip(district.tolist(), place.tolist(), numbers.tolist(), strict=True)
    ]
    table = pa.table(
        {
            "source_id": pa.array([f"ZGH-{n:08d}" for n in numbers.tolist()]),
            "name": pa.array(names),
            "kind": pa.array(np.where(rng.random(rows) < 0.8, "love_station", "water_point")),
            "amenities": pa.array(np.array(AMENITY_SETS)[rng.integers(0, len(AMENITY_SETS), rows)]),
            "opening_hours": pa.array(np.array(HOURS)[rng.integers(0, len(HOURS), rows)]),
            "operator": pa.array(np.array(OPERATORS)[rng.integers(0, len(OPERATORS), rows)]),
            "address": pa.array(
                [
                    f"{DISTRICTS[d]}路{n % 997 + 1}号"
                    for d, n in zip(district.tolist(), numbers.tolist(), strict=True)
                ]
            ),
            "lat": np.round(glat, 6),
            "lng": np.round(glng, 6),
        }
    )
    pacsv.write_csv(table, path)


async def _create(settings: Settings, name: str) -> None:
    await dbadmin.drop_database(settings.db, name)
    await dbadmin.create_database(settings.db, name)
    await dbadmin.migrate(settings.db, database=name)


def _import(csv: Path, database: str) -> tuple[float, float, str, float]:
    """Run `stations import` as its own process; (seconds, its peak RSS in MB, its output,
    the time it started)."""
    env = dict(os.environ, STATIONS_DB_NAME=database)
    command = [
        str(ROOT / ".venv" / "bin" / "stations"),
        "import",
        str(csv),
        "--crs",
        "gcj02",
        "--source",
        "bench",
        "--show",
        "0",
        "--timings",
    ]
    with tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().strip()
    if child.returncode != 0:
        raise SystemExit(f"import failed ({child.returncode}):\n{text}")
    return seconds, usage.ru_maxrss / 1024, text, started  # ru_maxrss is in KiB on Linux


async def _create_plain(settings: Settings, name: str) -> None:
    """A database with PostGIS and nothing else: what ogr2ogr loads into."""
    await dbadmin.drop_database(settings.db, name)
    await dbadmin.create_database(settings.db, name)
    conn = await dbconn.connect(settings.db, database=name)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    finally:
        await conn.close()


def _pg_conninfo(settings: Settings, database: str) -> str:
    """GDAL's ``PG:`` connection string for ``database`` on the project's cluster."""
    url = urlsplit(dbconn.dsn(settings.db, database=database))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    parts = {
        "dbname": database,
        "host": query.get("host") or url.hostname,
        "port": query.get("port") or url.port,
        "user": url.username,
        "password": url.password,
    }
    return "PG:" + " ".join(f"{k}={v}" for k, v in parts.items() if v)


def _ogr2ogr(csv: Path, settings: Settings, database: str) -> tuple[float, str]:
    """Load the CSV with ogr2ogr (COPY, GiST index); (seconds, its output)."""
    ogr2ogr = shutil.which("ogr2ogr")
    if ogr2ogr is None:
        raise SystemExit("ogr2ogr is missing: install Debian's gdal-bin (make bench does)")
    command = [
        ogr2ogr,
        "-f",
        "PostgreSQL",
        _pg_conninfo(settings, database),
        str(csv),
        "-nln",
        "stations",
        "-oo",
        "X_POSSIBLE_NAMES=lng",
        "-oo",
        "Y_POSSIBLE_NAMES=lat",
        "-a_srs",
        "EPSG:4326",
        "-lco",
        "GEOMETRY_NAME=geom",
        "-lco",
        "SPATIAL_INDEX=GIST",
        "--config",
        "PG_USE_COPY",
        "YES",
    ]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"ogr2ogr failed ({result.returncode}):\n{result.stderr}")
    return seconds, result.stdout + result.stderr


async def _wait_for_indexes(settings: Settings, database: str, started: float) -> float:
    """Seconds from ``started`` until the background builder has built every index."""
    conn = await dbconn.connect(settings.db, database=database)
    try:
        # another process's progress, seen only in the database: poll it
        while await conn.fetchval("SELECT count(*) FROM deferred_indexes"):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        # the builder's last index is committed; its ANALYZE may still run: wait for it
        while await conn.fetchval(  # noqa: ASYNC110 - as above
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> "
            "pg_backend_pid() AND query ILIKE 'ANALYZE%' AND state = 'active'",
            database,
        ):
            await asyncio.sleep(0.1)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def _count(settings: Settings, database: str, sql: str) -> int:
    conn = await dbconn.connect(settings.db, database=database)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _ours(csv: Path, settings: Settings, database: str, rows: int) -> tuple[float, float]:
    """One `stations import` into a fresh database: (seconds to return, seconds until
    every search index is built)."""
    asyncio.run(_create(settings, database))
    seconds, peak, output, began = _import(csv, database)
    print(output)
    loaded = asyncio.run(_count(settings, database, "SELECT count(*) FROM stations"))
    print(
        f"stations import into a fresh database: {seconds:.1f} s, {rows / seconds:,.0f} "
        f"stations/s ({loaded:,} loaded and committed, every row checked and reported, "
        f"history written), peak RSS of the import {peak:,.0f} MB"
    )
    indexed = asyncio.run(_wait_for_indexes(settings, database, began))
    print(
        f"its search indexes, built after the commit in the background: complete "
        f"{indexed:.1f} s after the import began ({rows / indexed:,.0f} stations/s)"
    )
    return seconds, indexed


def _peer(csv: Path, settings: Settings, database: str, rows: int) -> float:
    """One ogr2ogr load into a fresh database: its seconds."""
    asyncio.run(_create_plain(settings, database))
    seconds, output = _ogr2ogr(csv, settings, database)
    if output.strip():
        print(output.strip())
    loaded = asyncio.run(_count(settings, database, "SELECT count(*) FROM stations"))
    print(
        f"ogr2ogr -f PostgreSQL (PG_USE_COPY=YES, GiST index), same CSV, same cluster: "
        f"{seconds:.1f} s, {rows / seconds:,.0f} rows/s ({loaded:,} loaded)"
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep-csv", type=Path, default=None)
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="rounds of both loads, in alternating order (the machine's load drifts)",
    )
    args = parser.parse_args()
    settings = Settings()
    database = f"stations_bench_import_{os.getpid()}"
    peer_database = f"stations_bench_ogr2ogr_{os.getpid()}"
    print(f"load average before: {_load()}")
    with tempfile.TemporaryDirectory() as tmp:
        csv = args.keep_csv or Path(tmp) / "stations.csv"
        started = time.perf_counter()
        generate(csv, args.rows)
        size = csv.stat().st_size / 1e6
        print(
            f"generated {args.rows:,} rows ({size:.0f} MB) in {time.perf_counter() - started:.1f} s"
        )
        ratios: list[tuple[float, float]] = []
        try:
            for round_no in range(1, args.rounds + 1):
                print(f"== round {round_no}, load average {_load()}")
                if round_no % 2:
                    peer_seconds = _peer(csv, settings, peer_database, args.rows)
                    ours, indexed = _ours(csv, settings, database, args.rows)
                else:
                    ours, indexed = _ours(csv, settings, database, args.rows)
                    peer_seconds = _peer(csv, settings, peer_database, args.rows)
                ratios.append((peer_seconds / ours, peer_seconds / indexed))
                print(
                    f"round {round_no}: ratio stations import / ogr2ogr {ratios[-1][0]:.2f}x, "
                    f"with every search index built {ratios[-1][1]:.2f}x"
                )
            committed = statistics.median(r[0] for r in ratios)
            complete = statistics.median(r[1] for r in ratios)
            print(
                f"ratio stations import / ogr2ogr (median of {len(ratios)} rounds): "
                f"{committed:.2f}x (target >= 0.5x); with every search index built "
                f"{complete:.2f}x (ogr2ogr builds one GiST index; the catalog has eleven)"
            )
            seconds, peak, output, _ = _import(csv, database)
            print(output)
            print(
                f"re-import (no changes): {seconds:.1f} s, {args.rows / seconds:,.0f} rows/s, "
                f"peak RSS {peak:,.0f} MB"
            )
            print(f"load average after: {_load()}")
        finally:
            asyncio.run(dbadmin.drop_database(settings.db, database))
            asyncio.run(dbadmin.drop_database(settings.db, peer_database))


if __name__ == "__main__":
    main()
