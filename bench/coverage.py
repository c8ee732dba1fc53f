"""Coverage benchmark: a city-sized analysis, the geopandas baseline, the map, a national run.

    .venv/bin/python bench/coverage.py            # everything (a few minutes)
    .venv/bin/python bench/coverage.py --no-national    (or --no-city)

Uses its own database on the project-local cluster (created, then dropped). Figures
and targets:
* city (≈100,000 res-9 cells, 1,000 stations, 50,000 demand points): full analysis
  including database reads, target ≤ 1 s;
* the same computation done the straightforward way (geopandas ``sjoin_nearest`` on
  projected points, UTM 50N), target: ours ≥ 5× faster;
* the city map's self-contained HTML, target ≤ 3 MB;
* national res-8 run (≈1.3×10^7 cells, 200,000 stations) on a local dask cluster,
  target ≤ 60 s and ≤ 8 GB peak memory (sum over driver and workers).
The numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stations.coverage import regions
from stations.coverage.analysis import CoverageRequest, analyse_coverage, clear_caches
from stations.coverage.bands import band_set
from stations.coverage.dask_engine import group_parents, local_cluster, run_on_dask
from stations.coverage.demand import import_demand_frame
from stations.coverage.engine import (
    BatchContext,
    StationPoints,
    aggregate_demand,
    analyse_parents,
)
from stations.db import admin as dbadmin
from stations.db import connection as dbconn
from stations.db import embedded
from stations.geo import h3cells
from stations.geo import region as geo_region
from stations.settings import Settings

CITY_BBOX = "116.40,33.55,117.30,34.40"  # around Huaibei; ≈100,000 res-9 cells
SEED = 20250701
COLD_RUNS = 5  # first requests (caches cleared) and baseline runs, each; medians reported

# A rough outline of mainland China (lng, lat), for load only: NOT a boundary.
CHINA_ROUGH = [
    (123.5, 53.5),
    (127.5, 49.8),
    (131.0, 47.7),
    (134.7, 48.3),
    (133.1, 45.1),
    (131.2, 42.9),
    (128.0, 41.5),
    (124.4, 40.0),
    (121.2, 38.8),
    (117.8, 38.6),
    (122.6, 37.4),
    (120.3, 36.0),
    (119.2, 34.9),
    (121.9, 31.7),
    (121.9, 29.9),
    (120.6, 27.9),
    (119.5, 26.0),
    (118.1, 24.5),
    (116.7, 23.3),
    (114.3, 22.3),
    (110.5, 21.0),
    (108.6, 21.5),
    (106.7, 22.0),
    (103.9, 22.5),
    (101.8, 21.2),
    (99.2, 22.1),
    (98.7, 24.1),
    (97.6, 24.8),
    (98.7, 27.5),
    (97.1, 28.3),
    (92.0, 27.8),
    (88.9, 27.3),
    (85.9, 28.0),
    (81.2, 30.0),
    (79.4, 32.5),
    (78.1, 35.4),
    (75.0, 37.0),
    (73.6, 39.4),
    (74.9, 40.5),
    (80.2, 42.1),
    (80.5, 44.8),
    (82.9, 47.2),
    (87.3, 49.2),
    (90.9, 46.0),
    (95.4, 44.2),
    (96.4, 42.7),
    (101.0, 42.6),
    (105.0, 41.6),
    (111.0, 43.6),
    (111.9, 45.1),
    (116.0, 46.4),
    (119.9, 46.7),
    (117.8, 49.5),
    (120.8, 52.6),
    (123.5, 53.5),
]


def say(text: str) -> None:
    print(text, flush=True)


def clustered_points(
    rng: np.random.Generator, n: int, box: tuple[float, float, float, float], centres: int
) -> tuple[np.ndarray, np.ndarray]:
    """Points in a box: 70 % around random centres (towns), 30 % spread out."""
    min_lng, min_lat, max_lng, max_lat = box
    k = int(n * 0.7)
    c_lat = rng.uniform(min_lat, max_lat, centres)
    c_lng = rng.uniform(min_lng, max_lng, centres)
    pick = rng.integers(0, centres, k)
    lat = np.concatenate(
        [c_lat[pick] + rng.normal(0, 0.02, k), rng.uniform(min_lat, max_lat, n - k)]
    )
    lng = np.concatenate(
        [c_lng[pick] + rng.normal(0, 0.025, k), rng.uniform(min_lng, max_lng, n - k)]
    )
    return np.clip(lat, min_lat, max_lat), np.clip(lng, min_lng, max_lng)


async def load_city(conn, rng: np.random.Generator, box) -> None:
    s_lat, s_lng = clustered_points(rng, 1000, box, 40)
    cells = h3cells.catalog_cells(s_lat, s_lng)
    await conn.execute(
        """
        INSERT INTO stations (name, kind, source, source_id, original_position, geom,
                              h3_r7, h3_r9, h3_r11, district, opening_hours)
        SELECT '基准驿站' || i, 'love_station', 'bench', 'b' || i, '{}'::jsonb,
               ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography, r7, r9, r11,
               (ARRAY['相山区', '杜集区', '烈山区'])[1 + i % 3], '24/7'
        FROM unnest($1::float8[], $2::float8[], $3::int8[], $4::int8[], $5::int8[])
             WITH ORDINALITY AS t(lat, lng, r7, r9, r11, i)
        """,
        s_lat,
        s_lng,
        cells[7],
        cells[9],
        cells[11],
    )
    d_lat, d_lng = clustered_points(rng, 50_000, box, 60)
    frame = pd.DataFrame(
        {
            "source_id": [f"d{i}" for i in range(len(d_lat))],
            "lat": d_lat,
            "lng": d_lng,
            "weight": rng.choice([1.0, 1.0, 2.0, 0.5], len(d_lat)),
        }
    )
    await import_demand_frame(conn, frame, source="bench", actor="bench")


def baseline_sjoin_nearest(region, stations: pd.DataFrame, demand: pd.DataFrame, bands) -> dict:
    """The straightforward approach: geopandas, projected CRS, sjoin_nearest."""
    import geopandas as gpd
    import h3

    ring = [(lat, lng) for lng, lat in region.geometry.exterior.coords[:-1]]
    cells = h3.polygon_to_cells(h3.LatLngPoly(ring), 9)
    centres = [h3.cell_to_latlng(c) for c in cells]
    grid = gpd.GeoDataFrame(
        {"cell": cells},
        geometry=gpd.points_from_xy([c[1] for c in centres], [c[0] for c in centres]),
        crs=4326,
    ).to_crs(32650)
    st = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(stations["lng"], stations["lat"]), crs=4326
    ).to_crs(32650)
    joined = gpd.sjoin_nearest(grid, st, distance_col="distance_m")
    joined = joined[~joined.index.duplicated()]
    demand = demand.assign(
        cell=[h3.cell_to_parent(h3.int_to_str(int(c)), 9) for c in demand["h3_r11"]]
    )
    per_cell = demand.groupby("cell")["weight"].sum()
    joined["demand"] = joined["cell"].map(per_cell).fillna(0.0)
    edges = [b.max_m for b in bands.bands[:-1]]
    joined["band"] = np.searchsorted(edges, joined["distance_m"].to_numpy(), side="left")
    return joined.groupby("band")["demand"].sum().to_dict()


async def city_figures(settings: Settings) -> None:
    rng = np.random.default_rng(SEED)
    region = geo_region.bbox_region(CITY_BBOX)
    box = region.bounds
    conn = await dbconn.connect(settings.db)
    try:
        await load_city(conn, rng, box)
        request = CoverageRequest(region=region, res=9, bands=band_set())
        await analyse_coverage(conn, request=request)  # warm the connection and imports
        colds = []
        for _ in range(COLD_RUNS):
            clear_caches()
            started = time.perf_counter()
            result = await analyse_coverage(conn, request=request)
            colds.append(time.perf_counter() - started)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            result = await analyse_coverage(conn, request=request)
            times.append(time.perf_counter() - started)
        cold, warm = statistics.median(colds), statistics.median(times)
        say(
            f"city: {len(result.cells):,} cells at res 9, {len(result.stations):,} stations, "
            f"demand {result.total_demand:,.0f} from 50,000 points"
        )
        say(
            f"  full analysis (database reads + engine), first request for the area: "
            f"median {cold:.3f} s, best {min(colds):.3f} s (target ≤ 1 s) "
            f"{'OK' if cold <= 1 else 'MISSED'}"
        )
        say(
            f"  same, repeated (cells, centres and demand cached): median {warm:.3f} s, "
            f"best {min(times):.3f} s"
        )

        base_times = []
        for _ in range(COLD_RUNS):
            started = time.perf_counter()
            stations = pd.DataFrame(
                [
                    dict(r)
                    for r in await conn.fetch(
                        "SELECT ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng "
                        "FROM stations WHERE status = 'active'"
                    )
                ]
            )
            demand = pd.DataFrame(
                [dict(r) for r in await conn.fetch("SELECT h3_r11, weight FROM demand_points")]
            )
            base = baseline_sjoin_nearest(region, stations, demand, request.bands)
            base_times.append(time.perf_counter() - started)
        baseline = statistics.median(base_times)
        covered = sum(v for k, v in base.items() if k <= request.bands.target_index)
        say(
            f"  baseline, geopandas sjoin_nearest in UTM 50N (same reads): "
            f"median {baseline:.3f} s, best {min(base_times):.3f} s"
        )
        for label, ours, theirs in (
            ("first request, medians", cold, baseline),
            ("first request, best runs", min(colds), min(base_times)),
            ("repeated, medians", warm, baseline),
        ):
            ratio = theirs / ours
            say(
                f"    ours is {ratio:.1f}× faster ({label}) (target ≥ 5×) "
                f"{'OK' if ratio >= 5 else 'MISSED'}"
            )
        say(
            f"  covered share, ours {result.covered_share:.4f} vs baseline "
            f"{covered / sum(base.values()):.4f} (the baseline's planar UTM distances differ)"
        )

        from maps.assets import render_html
        from maps.coverage import build_coverage_map
        from stations.coverage.mapdata import load_map_stations
        from stations.coverage.suggestions import suggest_sites

        started = time.perf_counter()
        suggestions = suggest_sites(result, n=10)
        suggest_s = time.perf_counter() - started
        map_stations = await load_map_stations(conn, region=region, at=datetime.now(UTC))
        started = time.perf_counter()
        html = render_html(
            build_coverage_map(result, stations=map_stations, suggestions=suggestions)
        )
        map_s = time.perf_counter() - started
        size = len(html.encode("utf-8"))
        say(f"  10 suggested sites: {suggest_s:.2f} s; city map built in {map_s:.2f} s")
        say(
            f"  city map HTML (self-contained): {size / 1e6:.2f} MB (target ≤ 3 MB) "
            f"{'OK' if size <= 3e6 else 'MISSED'}"
        )
    finally:
        await conn.close()


class PeakMemory:
    """Peak of the summed RSS of this process and all its descendants (dask workers)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process(os.getpid())
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(0.1)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def national_inputs() -> tuple[geo_region.Region, StationPoints, object]:
    from shapely.geometry import Polygon

    rng = np.random.default_rng(SEED + 1)
    china = geo_region.Region(
        "polygon", "china-rough", Polygon(CHINA_ROUGH), "全国（粗略）", "China (rough)"
    )

    def inside(n: int, east_bias: bool) -> tuple[np.ndarray, np.ndarray]:
        lats, lngs = [], []
        got = 0
        while got < n:
            lat, lng = clustered_points(rng, n, (73.5, 18.0, 135.0, 53.6), 400)
            if east_bias:  # most stations and workers are in the east
                keep = rng.random(len(lng)) < np.clip((lng - 85.0) / 30.0, 0.05, 1.0)
                lat, lng = lat[keep], lng[keep]
            ok = china.contains(lat, lng)
            lats.append(lat[ok])
            lngs.append(lng[ok])
            got += int(ok.sum())
        return np.concatenate(lats)[:n], np.concatenate(lngs)[:n]

    s_lat, s_lng = inside(200_000, True)
    stations = StationPoints.build(np.arange(len(s_lat)), s_lat, s_lng, [None] * len(s_lat))
    d_lat, d_lng = inside(1_000_000, True)
    demand = aggregate_demand(
        h3cells.cells_from_latlng_array(d_lat, d_lng, 8), rng.choice([1.0, 2.0], len(d_lat)), 8
    )
    return china, stations, demand


def national_figures(workers: int) -> None:
    from dask.distributed import Client

    say("national: preparing a rough outline of China, 200,000 stations, 1,000,000 demand points")
    china, stations, demand = national_inputs()
    bands = band_set()
    ctx = BatchContext(
        region=china,
        res=8,
        stations=stations,
        demand=demand,
        edges_m=bands.edges_m,
        target_index=bands.target_index,
        top_n=20,
        keep_cells=False,
    )
    parents = regions.partition_parents(china, 8)
    groups = group_parents(parents, 8)
    say(f"  {len(parents):,} partition parents (res 5) in {len(groups):,} tasks (res 3)")
    gc.collect()
    started = time.perf_counter()
    with PeakMemory() as mem:
        cluster = local_cluster(workers)
        client = Client(cluster)
        up = time.perf_counter() - started
        run_started = time.perf_counter()
        totals, _ = run_on_dask(parents, ctx, client=client)
        run_s = time.perf_counter() - run_started
        client.close()
        cluster.close()
    total_s = time.perf_counter() - started
    cells = int(totals.band_cells.sum())
    say(
        f"  dask ({workers} worker processes): {cells:,} res-8 cells in {run_s:.1f} s "
        f"(+{up:.1f} s cluster start; {total_s:.1f} s in all) (target ≤ 60 s) "
        f"{'OK' if total_s <= 60 else 'MISSED'}"
    )
    say(
        f"  peak memory, driver + workers: {mem.peak / 1e9:.2f} GB (target ≤ 8 GB) "
        f"{'OK' if mem.peak <= 8e9 else 'MISSED'}"
    )
    covered = int(totals.band_demand[: bands.target_index + 1].sum()) / max(
        int(totals.band_demand.sum()), 1
    )
    say(f"  covered share of national demand (synthetic): {covered:.4f}")

    gc.collect()
    started = time.perf_counter()
    with PeakMemory() as mem:
        serial = None
        for group in groups:
            part, _ = analyse_parents(group, ctx)
            serial = part if serial is None else serial + part
    serial_s = time.perf_counter() - started
    assert serial is not None
    same = all(
        np.array_equal(getattr(serial, f), getattr(totals, f))
        for f in ("band_cells", "band_demand", "district_cells", "district_demand")
    )
    say(
        f"  same groups in one process, no dask: {serial_s:.1f} s, peak {mem.peak / 1e9:.2f} GB; "
        f"identical totals: {same}"
    )


async def main(args: argparse.Namespace) -> None:
    base = Settings()
    name = f"stations_bench_coverage_{os.getpid()}"
    settings = base.model_copy(update={"db": base.db.model_copy(update={"name": name})})
    say(
        f"machine: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB "
        f"(figures are noisy when the machine is shared)"
    )
    if args.city:
        if settings.db.embedded:
            embedded.start(settings.db)
        await dbadmin.create_database(settings.db, name)
        try:
            await dbadmin.migrate(settings.db, database=name)
            await city_figures(settings)
        finally:
            await dbadmin.drop_database(settings.db, name)
    if args.national:
        national_figures(args.workers)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-national", dest="national", action="store_false")
    parser.add_argument("--no-city", dest="city", action="store_false")
    parser.add_argument("--workers", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
