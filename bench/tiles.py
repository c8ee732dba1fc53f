"""Benchmark: vector tiles of a national catalog (184,000 stations), cold and warm.

    .venv/bin/python bench/tiles.py [--stations 184000] [--per-zoom 40]
    .venv/bin/python bench/tiles.py --national [--per-zoom 40]

1. Creates its own database (``stations_bench_tiles_<pid>``) and loads N stations in the
   city clusters of eastern China that ``bench/nearest.py`` uses (straight through COPY),
   or, with ``--national``, the national demo (``stations demo --national``: 184,200
   love stations and 209,500 water points over China's cities, through the importer).
2. Starts the server the default way (``stations serve``, one worker) on a free port.
3. For zooms 4 to 16, picks tiles holding random stations (``--per-zoom`` per zoom) and
   requests each twice: the first answer is built by PostGIS (cold: nothing cached), the
   second comes from the server's tile cache (warm). Prints p50/p95 per zoom and over
   all, and the largest tile.
4. Checks what the tiles say: at z=4 the cells over China sum to the catalog's size;
   at z=15 the stations of sample tiles equal a PostGIS bounding-box count.
5. Prints how often the stations' H3 indexes were scanned, and drops its database.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import mapbox_vector_tile
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from nearest import (  # noqa: E402
    create_and_load,
    free_port,
    start_server,
    synthetic_catalog,
    wait_until_serving,
)

from stations.db import admin as dbadmin  # noqa: E402
from stations.db import connection as dbconn  # noqa: E402
from stations.demo.load import load_demo  # noqa: E402
from stations.demo.national import generate_national  # noqa: E402
from stations.settings import get_settings  # noqa: E402
from stations.tiles.grid import Tile  # noqa: E402

BASE = "/ogc/collections/stations/tiles/WebMercatorQuad"
CHINA = (73.5, 18.0, 135.1, 53.6)  # west, south, east, north


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def tile_of(lat: float, lng: float, z: int) -> tuple[int, int, int]:
    side = 1 << z
    x = int((lng + 180.0) / 360.0 * side)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * side)
    return z, y, x


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(np.array(values), share))


def fetch(client: httpx.Client, tile: tuple[int, int, int]) -> tuple[float, bytes, int]:
    z, y, x = tile
    started = time.perf_counter()
    answer = client.get(f"{BASE}/{z}/{y}/{x}")
    spent = (time.perf_counter() - started) * 1000
    if answer.status_code not in (200, 204):
        raise SystemExit(f"tile {z}/{y}/{x}: {answer.status_code} {answer.text[:200]}")
    return spent, answer.content, answer.status_code


async def bbox_count(db_name: str, tile: tuple[int, int, int]) -> int:
    west, south, east, north = Tile(*tile).bounds()
    conn = await dbconn.connect(get_settings().db, database=db_name)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM stations WHERE status <> 'closed' "
                "AND ST_Intersects(geom::geometry, ST_MakeEnvelope($1, $2, $3, $4, 4326))",
                west,
                south,
                east,
                north,
            )
        )
    finally:
        await conn.close()


async def load_national(db_name: str) -> dict[str, np.ndarray]:
    """Load the national demo; the positions of the stations the tiles draw (not closed)."""
    settings = get_settings()
    await dbadmin.create_database(settings.db, db_name)
    await dbadmin.migrate(settings.db, database=db_name)
    started = time.perf_counter()
    demo = generate_national()
    spent = time.perf_counter() - started
    say(f"generated the national demo ({len(demo.stations):,} stations) in {spent:.1f}s")
    conn = await dbconn.connect(settings.db, database=db_name)
    try:
        started = time.perf_counter()
        report = await load_demo(conn, demo, actor="bench")
        say(
            f"imported {report.stations.created:,} stations and {report.demand.inserted:,} "
            f"demand points (every index built) in {time.perf_counter() - started:.1f}s"
        )
        rows = await conn.fetch(
            "SELECT ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng FROM stations "
            "WHERE status <> 'closed' ORDER BY id"
        )
    finally:
        await conn.close()
    return {
        "lat": np.array([r["lat"] for r in rows]),
        "lng": np.array([r["lng"] for r in rows]),
    }


async def h3_scans(db_name: str) -> dict[str, int]:
    conn = await dbconn.connect(get_settings().db, database=db_name)
    try:
        rows = await conn.fetch(
            "SELECT indexrelname, idx_scan FROM pg_stat_user_indexes "
            "WHERE indexrelname LIKE 'stations_h3_%' ORDER BY 1"
        )
        return {r["indexrelname"]: int(r["idx_scan"]) for r in rows}
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, default=184_000)
    parser.add_argument("--per-zoom", type=int, default=40)
    parser.add_argument(
        "--national", action="store_true", help="load the national demo instead of --stations"
    )
    args = parser.parse_args()
    settings = get_settings()
    db_name = f"stations_bench_tiles_{os.getpid()}"
    if args.national:
        data = asyncio.run(load_national(db_name))
    else:
        asyncio.run(create_and_load(db_name, args.stations))
        data = synthetic_catalog(args.stations)
    drawn_total = len(data["lat"])  # stations closed for good are on no tile
    port = free_port()
    server = start_server(db_name, port)
    base = f"http://127.0.0.1:{port}"
    try:
        say(f"server ready in {wait_until_serving(base, server):.1f}s")
        rng = np.random.default_rng(7)
        zooms = [4, 6, 8, 10, 12, 14, 15, 16]
        cold: dict[int, list[float]] = {}
        warm: dict[int, list[float]] = {}
        largest = (0, "")
        with httpx.Client(base_url=base, timeout=60) as client:
            for z in sorted(set(zooms)):
                picks = rng.choice(drawn_total, size=args.per_zoom * 3, replace=False)
                tiles = list(
                    dict.fromkeys(tile_of(data["lat"][i], data["lng"][i], z) for i in picks)
                )[: args.per_zoom]
                cold[z] = []
                warm[z] = []
                for tile in tiles:
                    spent, content, _ = fetch(client, tile)
                    cold[z].append(spent)
                    if len(content) > largest[0]:
                        largest = (len(content), "/".join(map(str, tile)))
                for tile in tiles:
                    warm[z].append(fetch(client, tile)[0])
                say(
                    f"z={z:2d}: {len(tiles)} tiles, cold p50 {percentile(cold[z], 50):6.1f} ms "
                    f"p95 {percentile(cold[z], 95):6.1f} ms; warm p50 "
                    f"{percentile(warm[z], 50):5.1f} ms p95 {percentile(warm[z], 95):5.1f} ms"
                )
            every_cold = [v for values in cold.values() for v in values]
            every_warm = [v for values in warm.values() for v in values]
            say(
                f"all zooms: cold p95 {percentile(every_cold, 95):.1f} ms (target 300), "
                f"warm p95 {percentile(every_warm, 95):.1f} ms (target 50); "
                f"largest tile {largest[0] / 1000:.1f} kB ({largest[1]}; limit 500 kB)"
            )
            # z=4 over China: every station counted once in the cells
            west, south, east, north = CHINA
            _, y0, x0 = tile_of(north, west, 4)
            _, y1, x1 = tile_of(south, east, 4)
            total = 0
            for y in range(y0 - 1, y1 + 2):
                for x in range(x0 - 1, x1 + 2):
                    _, content, status = fetch(client, (4, y, x))
                    if status == 200:
                        layer = mapbox_vector_tile.decode(content)["cells"]
                        total += sum(f["properties"]["stations"] for f in layer["features"])
            say(f"z=4 over China: the cells hold {total:,} stations of {drawn_total:,}")
            # z=15: the stations of a tile equal a PostGIS bounding-box query
            checked = 0
            for i in rng.choice(drawn_total, size=10, replace=False):
                tile = tile_of(data["lat"][i], data["lng"][i], 15)
                _, content, status = fetch(client, tile)
                layers = mapbox_vector_tile.decode(content) if status == 200 else {}
                if "stations" not in layers:
                    continue
                inside = asyncio.run(bbox_count(db_name, tile))
                drawn = sum(
                    1
                    for f in layers["stations"]["features"]
                    if 0 <= f["geometry"]["coordinates"][0] <= 4096
                    and 0 <= f["geometry"]["coordinates"][1] <= 4096
                )
                if drawn != inside:
                    raise SystemExit(f"tile 15/{tile[1]}/{tile[2]}: {drawn} drawn, {inside} inside")
                checked += 1
            say(f"z=15: {checked} tiles hold exactly the stations a PostGIS bbox query finds")
        say(f"H3 index scans: {asyncio.run(h3_scans(db_name))}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        asyncio.run(dbadmin.drop_database(settings.db, db_name))


if __name__ == "__main__":
    main()
