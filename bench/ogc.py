"""Benchmark: OGC API – Features (/ogc) over a national-size catalog, read by GDAL.

    .venv/bin/python bench/ogc.py [--stations 184000] [--repeats 7]

1. Creates its own database on the project's cluster (``stations_bench_ogc_<pid>``) and
   loads N stations (30 % water points, a few closed) spread over the cities of eastern
   China, in one INSERT … SELECT.
2. Serves the app in this process (uvicorn in a thread, one worker) on a free port.
3. Times, over ``--repeats`` requests each (median and worst): a first page of 10, a page
   of 1,000 deep in the catalog (keyset paging: the cursor of a late id), a page of the
   10,000 maximum, a page in EPSG:4490, a CQL2 filter, a city bbox.
4. Copies every water point to GeoPackage with ``ogr2ogr`` (``PAGE_SIZE=10000``) and checks
   the copy against the database: same count, same codes, positions < 1 cm apart.
5. QGIS's OAPIF provider (``bench/qgis_read.py``, Debian's ``python3-qgis``) lists the
   collections, counts them, pages through every water point, evaluates a subset string
   and reprojects to EPSG:4490; checked against the database the same way.
6. Prints the figures; drops its database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import h3
import httpx
import numpy as np
import pyogrio
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.main import create_app  # noqa: E402
from stations.db import admin as dbadmin  # noqa: E402
from stations.db import connection as dbconn  # noqa: E402
from stations.db import embedded  # noqa: E402
from stations.geo.distance import GEOD  # noqa: E402
from stations.ogc import params  # noqa: E402
from stations.settings import get_settings  # noqa: E402

# (lat, lng, weight, spread in km): a few large cities of eastern China.
CITIES = [
    (31.2304, 121.4737, 10.0, 25.0),
    (32.0603, 118.7969, 5.0, 15.0),
    (30.2741, 120.1551, 5.0, 15.0),
    (31.8206, 117.2272, 3.5, 12.0),
    (36.0671, 120.3826, 3.5, 12.0),
    (33.9556, 116.7983, 1.0, 6.0),
    (34.2044, 117.2859, 2.5, 10.0),
    (26.0745, 119.2965, 2.5, 10.0),
]

LOAD = """
INSERT INTO stations (code, name, kind, status, amenities, district, source, source_id,
                      original_position, geom, h3_r7, h3_r9, h3_r11, verified_at)
SELECT upper(lpad(to_hex(i), 7, '0')),
       '驿站 ' || i,
       CASE WHEN i % 10 < 3 THEN 'water_point' ELSE 'love_station' END,
       CASE WHEN i % 50 = 0 THEN 'closed' ELSE 'active' END,
       CASE WHEN i % 10 < 3 THEN ARRAY['drinking_water', 'shade'] ELSE ARRAY['seating'] END,
       '区' || (i % 40),
       'bench', 'b' || i,
       jsonb_build_object('crs', 'wgs84', 'lat', lat, 'lng', lng),
       ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography, r7, r9, r11,
       CASE WHEN i % 3 = 0 THEN now() - i * interval '1 minute' END
FROM unnest($1::float8[], $2::float8[], $3::int8[], $4::int8[], $5::int8[])
     WITH ORDINALITY AS t(lat, lng, r7, r9, r11, i)
"""


def say(text: str) -> None:
    print(text, flush=True)


def positions(n: int, seed: int = 18) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = np.array([c[2] for c in CITIES])
    which = rng.choice(len(CITIES), size=n, p=weights / weights.sum())
    lat0 = np.array([CITIES[w][0] for w in which])
    lng0 = np.array([CITIES[w][1] for w in which])
    spread = np.array([CITIES[w][3] for w in which])
    lat = lat0 + rng.normal(0, 1, n) * spread / 111.0
    lng = lng0 + rng.normal(0, 1, n) * spread / (111.0 * np.cos(np.radians(lat0)))
    return np.round(lat, 7), np.round(lng, 7)


def _signed(cell: str) -> int:
    value = int(cell, 16)
    return value - (1 << 64) if value >= 1 << 63 else value


async def create_and_load(settings, db_name: str, n: int) -> None:
    await dbadmin.create_database(settings.db, db_name)
    await dbadmin.migrate(settings.db, database=db_name)
    lat, lng = positions(n)
    cells = {
        res: [_signed(h3.latlng_to_cell(a, b, res)) for a, b in zip(lat, lng, strict=True)]
        for res in (7, 9, 11)
    }
    conn = await dbconn.connect(settings.db, database=db_name)
    try:
        started = time.perf_counter()
        await conn.execute(LOAD, list(lat), list(lng), cells[7], cells[9], cells[11])
        await conn.execute("ANALYZE stations")
        say(f"loaded {n:,} stations in {time.perf_counter() - started:.1f}s")
    finally:
        await conn.close()


def serve(app) -> tuple[uvicorn.Server, threading.Thread, str]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}/ogc"


def timed(http: httpx.Client, url: str, repeats: int) -> tuple[float, float, int, int]:
    """Median and worst milliseconds of ``repeats`` requests (after one warm-up)."""
    http.get(url).raise_for_status()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = http.get(url)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    body = response.json()
    return statistics.median(times), max(times), body["numberReturned"], len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=184_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-qgis", action="store_true", help="skip the QGIS client")
    args = parser.parse_args()
    settings = get_settings()
    if settings.db.embedded:
        embedded.start(settings.db)
    db_name = f"stations_bench_ogc_{os.getpid()}"
    bench_settings = settings.model_copy(
        update={"db": settings.db.model_copy(update={"name": db_name})}
    )
    server = thread = None
    try:
        asyncio.run(create_and_load(settings, db_name, args.stations))
        server, thread, base = serve(create_app(bench_settings))
        items = f"{base}/collections/stations/items"
        late = args.stations - 5_000
        cursor = params.encode_cursor(params.BY_ID, {"id": late})
        cql = quote("kind = 'water_point' AND district IN ('区1', '区12') AND status <> 'closed'")
        box = "121.40,31.15,121.55,31.30"
        cases = {
            "first page, limit=10": f"{items}",
            "deep page, limit=1000 (cursor near the end)": f"{items}?limit=1000&cursor={cursor}",
            "page of 10,000 (the maximum)": f"{items}?limit=10000",
            "limit=1000 in EPSG:4490": (
                f"{items}?limit=1000&crs={quote('http://www.opengis.net/def/crs/EPSG/0/4490')}"
            ),
            "CQL2 filter, limit=1000": f"{items}?limit=1000&filter={cql}",
            "city bbox, limit=1000": f"{items}?limit=1000&bbox={box}",
        }
        with httpx.Client(timeout=120) as http:
            for name, url in cases.items():
                median, worst, returned, size = timed(http, url, args.repeats)
                say(
                    f"{name:45s} median {median:7.1f} ms, worst {worst:7.1f} ms "
                    f"({returned:,} features, {size / 1e6:.2f} MB)"
                )
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "water.gpkg"
            started = time.perf_counter()
            subprocess.run(
                ["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{base}", "stations",
                 "-where", "kind='water_point'", "-oo", "PAGE_SIZE=10000"],
                check=True, capture_output=True, timeout=1800,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
            frame = pyogrio.read_dataframe(out)
            rows = asyncio.run(_water_points(settings, db_name))
            by_code = {r[0]: (r[1], r[2]) for r in rows}
            assert sorted(frame["code"]) == sorted(by_code), "the copy differs from the catalog"
            worst = 0.0
            for code, point in zip(frame["code"], frame.geometry, strict=True):
                lng, lat = by_code[code]
                worst = max(worst, GEOD.inv(lng, lat, point.x, point.y)[2])
            say(
                f"ogr2ogr of every water point (PAGE_SIZE=10000): {len(frame):,} features in "
                f"{elapsed:.1f}s ({len(frame) / elapsed:,.0f}/s), same codes as the catalog, "
                f"largest position difference {worst * 1000:.3f} mm"
            )
        if not args.no_qgis:
            asyncio.run(_qgis_reads(settings, db_name, base))
    finally:
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=30)
        asyncio.run(dbadmin.drop_database(settings.db, db_name))


async def _qgis_reads(settings, db_name: str, base: str) -> None:
    """QGIS's OAPIF provider (Debian's python3-qgis, run by the system's Python) lists
    the collections, counts, pages through every water point, filters and reprojects."""
    started = time.perf_counter()
    done = await asyncio.to_thread(
        subprocess.run,
        ["/usr/bin/python3", str(ROOT / "bench" / "qgis_read.py"), base],
        capture_output=True,
        text=True,
        timeout=3600,
        env={"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen", "HOME": "/tmp"},
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"QGIS failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-3000:]}"
        )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    conn = await dbconn.connect(settings.db, database=db_name)
    try:
        counts = await conn.fetchrow(
            "SELECT count(*) AS stations, count(*) FILTER (WHERE kind = 'water_point') AS water,"
            " count(*) FILTER (WHERE kind = 'water_point' AND status = 'active') AS active_water"
            " FROM stations"
        )
        first = await conn.fetchrow(
            "SELECT ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng FROM stations"
            " WHERE code = $1",
            seen["first_code"],
        )
    finally:
        await conn.close()
    rows = await _water_points(settings, db_name)
    by_code = {r[0]: (r[1], r[2]) for r in rows}
    codes = [p[0] for p in seen["water_points"]]
    worst = max(
        GEOD.inv(by_code[code][0], by_code[code][1], lng, lat)[2]
        for code, lat, lng in seen["water_points"]
    )
    moved = GEOD.inv(first["lng"], first["lat"], seen["first_in_4490"][1], seen["first_in_4490"][0])
    checks = [
        ("stations count", seen["stations_count"] == counts["stations"]),
        ("water points count", seen["water_count"] == counts["water"]),
        ("every water point read, once", sorted(codes) == sorted(by_code)),
        ("subset string", seen["active_water_points"] == counts["active_water"]),
    ]
    say(
        f"QGIS {seen['qgis']} OAPIF provider: stations {seen['stations_count']:,} "
        f"(catalog {counts['stations']:,}), water points {seen['water_count']:,} read page by page "
        f"in {elapsed:.1f} s with the rest, largest position difference {worst * 1000:.3f} mm; "
        f"subset kind/status {seen['active_water_points']:,} (catalog {counts['active_water']:,}); "
        f"a water point in EPSG:4490 {moved[2] * 1000:.1f} mm from WGS84; layer CRS {seen['crs']}"
    )
    failed = [name for name, ok in checks if not ok]
    if failed or worst > 0.01:
        raise SystemExit(f"QGIS read something else than the catalog: {failed or 'positions'}")


async def _water_points(settings, db_name: str) -> list[tuple[str, float, float]]:
    conn = await dbconn.connect(settings.db, database=db_name)
    try:
        rows = await conn.fetch(
            "SELECT code, ST_X(geom::geometry), ST_Y(geom::geometry) FROM stations "
            "WHERE kind = 'water_point'"
        )
        return [(r[0], r[1], r[2]) for r in rows]
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
