"""Coverage analysis over the catalog: who is within reach of a station, and how many.

:func:`analyse_coverage` loads the active stations (optionally only those with given
amenities, or open at an instant) and the demand of a region, then runs an engine:
``numpy`` (one vectorised batch on this machine) or ``dask`` (the same per-partition
function on a dask cluster). Both give identical numbers.
"""

from __future__ import annotations

import asyncio
import functools
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg
import h3
import numpy as np

from stations.catalog import hours, vocab
from stations.coverage.bands import PROXY_NOTE, BandSet
from stations.coverage.engine import (
    DEMAND_UNIT,
    BatchContext,
    CellMeasures,
    DemandCells,
    StationPoints,
    Totals,
    aggregate_demand,
    analyse_parents,
    merge_demand,
    within_reach,
)
from stations.coverage.regions import estimated_cells, load_city, partition_parents, region_cells
from stations.errors import InvalidInput
from stations.geo import h3cells
from stations.geo import region as geo_region
from stations.geo.crs import WGS84, Crs
from stations.geo.region import Region
from stations.sql import load

SQL = load("coverage")
# Visits counted as observed demand: one year covers a whole summer water campaign.
VISIT_DEMAND_WINDOW = timedelta(days=365)
Engine = Literal["numpy", "dask"]
RESOLUTIONS = range(7, 11)
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LNG_EQ = 111_320.0
DISTRICT_BUFFER_M = 1000.0  # a district reaches a little beyond its outermost stations


@dataclass(frozen=True)
class CoverageRequest:
    """What to analyse: where, how fine, against which stations, with which bands."""

    region: Region
    res: int
    bands: BandSet
    amenities: tuple[str, ...] = ()
    open_at: datetime | None = None
    top_n: int = 20

    def __post_init__(self) -> None:
        if self.res not in RESOLUTIONS:
            raise InvalidInput(
                f"res: H3 resolution {self.res} is not supported; allowed values: 7, 8, 9, 10",
                field="res",
            )
        unknown = [a for a in self.amenities if a not in vocab.AMENITIES]
        if unknown:
            raise InvalidInput(
                f"amenity: unknown {', '.join(map(repr, unknown))}; allowed values: "
                f"{', '.join(vocab.AMENITIES)}",
                field="amenity",
            )
        if self.open_at is not None and self.open_at.tzinfo is None:
            raise InvalidInput(
                "open_at: give a time zone, e.g. 2025-07-01T12:00:00+08:00", field="open_at"
            )
        if not 0 <= self.top_n <= 1000:
            raise InvalidInput("top: must be between 0 and 1000", field="top")


@dataclass
class CoverageResult:
    """Per-cell measures (unless dropped for national runs) and integer totals."""

    request: CoverageRequest
    stations: StationPoints
    totals: Totals
    cells: CellMeasures | None
    demand_sources: list[dict[str, Any]] = field(default_factory=list)
    engine: str = "numpy"
    seconds: float = 0.0
    # which of ``stations`` can reach the region (see :func:`stations_in_reach`)
    reaching: np.ndarray | None = None

    def reaching_ids(self) -> np.ndarray:
        """Ids of the stations that can reach the region: what ``stations_used`` counts."""
        if self.reaching is None:
            return self.stations.ids
        return self.stations.ids[self.reaching]

    @property
    def bands(self) -> BandSet:
        return self.request.bands

    @property
    def total_demand(self) -> float:
        return int(self.totals.band_demand.sum()) / DEMAND_UNIT

    @property
    def covered_demand(self) -> float:
        t = self.bands.target_index
        return int(self.totals.band_demand[: t + 1].sum()) / DEMAND_UNIT

    @property
    def covered_share(self) -> float | None:
        total = int(self.totals.band_demand.sum())
        if total == 0:
            return None
        t = self.bands.target_index
        return int(self.totals.band_demand[: t + 1].sum()) / total

    @property
    def cell_km2(self) -> float:
        """Mean area of the region's cells (H3 cells shrink away from the equator)."""
        n = int(self.totals.band_cells.sum())
        if n == 0:
            return h3.average_hexagon_area(self.request.res, "km^2")
        return self.request.region.area_km2 / n

    def band_rows(self, lang: str = "zh") -> list[dict[str, Any]]:
        cell_km2 = self.cell_km2
        total = int(self.totals.band_demand.sum())
        rows: list[dict[str, Any]] = []
        running = 0
        for i, band in enumerate(self.bands.bands):
            demand = int(self.totals.band_demand[i])
            running += demand
            rows.append(
                {
                    **band.as_dict(lang),
                    "inside_target": self.bands.inside_target(i),
                    "cells": int(self.totals.band_cells[i]),
                    "area_km2": round(int(self.totals.band_cells[i]) * cell_km2, 3),
                    "demand": demand / DEMAND_UNIT,
                    "share": demand / total if total else None,
                    "cumulative_demand": running / DEMAND_UNIT,
                    "cumulative_share": running / total if total else None,
                }
            )
        return rows

    def worst_rows(self, lang: str = "zh") -> list[dict[str, Any]]:
        rows = []
        names = self.bands.bands
        for rank, w in enumerate(self.totals.worst, start=1):
            lat, lng = h3cells.cell_to_latlng(int(w["cell"]))
            station = int(w["station"])
            dist = float(w["distance_m"])
            rows.append(
                {
                    "rank": rank,
                    "cell": h3cells.cell_to_hex(int(w["cell"])),
                    "lat": round(lat, 6),
                    "lng": round(lng, 6),
                    "uncovered_demand": int(w["demand_micro"]) / DEMAND_UNIT,
                    "distance_m": None if math.isinf(dist) else round(dist, 1),
                    "band": names[int(w["band"])].name,
                    "band_label": names[int(w["band"])].label(lang),
                    "nearest_station_id": int(self.stations.ids[station]) if station >= 0 else None,
                }
            )
        return rows

    def district_rows(self) -> list[dict[str, Any]]:
        names = [*self.stations.districts, None]
        rows = []
        for i, name in enumerate(names):
            cells = int(self.totals.district_cells[i])
            if cells == 0:
                continue
            demand = int(self.totals.district_demand[i])
            covered = int(self.totals.district_covered[i])
            rows.append(
                {
                    "district": name,
                    "cells": cells,
                    "demand": demand / DEMAND_UNIT,
                    "covered_demand": covered / DEMAND_UNIT,
                    "uncovered_demand": (demand - covered) / DEMAND_UNIT,
                    "covered_share": covered / demand if demand else None,
                }
            )
        return rows

    def summary(self, lang: str = "zh") -> dict[str, Any]:
        req = self.request
        target = self.bands.target_band
        total = self.total_demand
        covered = self.covered_demand
        return {
            "region": req.region.describe(lang),
            "resolution": req.res,
            "engine": self.engine,
            "filters": {
                "amenities": list(req.amenities),
                "open_at": req.open_at.isoformat() if req.open_at else None,
            },
            "stations_used": len(self.reaching_ids()),
            "cells": int(self.totals.band_cells.sum()),
            "area_km2": round(req.region.area_km2, 3),
            "demand": {
                "total": total,
                "covered": covered,
                "uncovered": round(total - covered, 6),
                "sources": self.demand_sources,
            },
            "target": {
                **target.as_dict(lang),
                "covered_share": self.covered_share,
            },
            "bands": self.band_rows(lang),
            "worst_cells": self.worst_rows(lang),
            "districts": {
                "basis": "nearest_station",
                "note": (
                    "每个网格计入其最近驿站所属的区县（服务片区），不是行政边界。"
                    if lang == "zh"
                    else "Each cell counts toward the district of its nearest station "
                    "(its catchment), not an administrative boundary."
                ),
                "rows": self.district_rows(),
            },
            "notes": [PROXY_NOTE[lang]],
            "seconds": round(self.seconds, 3),
        }


# ----------------------------------------------------------------------- loading


def pad_box(region: Region, metres: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lng, max_lng) of the region's bbox grown by ``metres``."""
    min_lng, min_lat, max_lng, max_lat = region.bounds
    dlat = metres / _M_PER_DEG_LAT
    top = min(90.0, max(abs(min_lat - dlat), abs(max_lat + dlat)))
    cos_lat = max(math.cos(math.radians(top)), 1e-6)
    dlng = metres / (_M_PER_DEG_LNG_EQ * cos_lat)
    return (
        max(-90.0, min_lat - dlat),
        min(90.0, max_lat + dlat),
        max(-180.0, min_lng - dlng),
        min(180.0, max_lng + dlng),
    )


def _open_mask(rows: list[asyncpg.Record], at: datetime) -> np.ndarray:
    """Which stations are open at ``at`` (unknown hours count as not open)."""
    verdict: dict[tuple[str | None, str, str | None], bool] = {}
    out = np.zeros(len(rows), dtype=bool)
    for i, r in enumerate(rows):
        key = (r["opening_hours"], r["time_zone"], r["country_code"])
        if key not in verdict:
            state = hours.state_at(key[0], time_zone=key[1], country=key[2], at=at)
            verdict[key] = state.is_open is True
        out[i] = verdict[key]
    return out


async def load_stations(
    conn: asyncpg.Connection, *, request: CoverageRequest, box: tuple[float, ...] | None
) -> StationPoints:
    """Active stations matching the request's filters inside ``box`` (None: everywhere)."""
    amenities = list(request.amenities) or None
    b: tuple[float | None, ...] = box if box is not None else (None, None, None, None)
    rows = await conn.fetch(SQL.stations_in_box, amenities, *b)
    if request.open_at is not None:
        mask = _open_mask(rows, request.open_at)
        rows = [r for r, keep in zip(rows, mask.tolist(), strict=True) if keep]
    return StationPoints.build(
        np.array([r["id"] for r in rows], dtype=np.int64),
        np.array([r["lat"] for r in rows], dtype=np.float64),
        np.array([r["lng"] for r in rows], dtype=np.float64),
        [r["district"] for r in rows],
    )


async def observed_visit_demand(
    conn: asyncpg.Connection, *, box: tuple[float, float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Claims and check-ins as observed demand: (cells, weights), any resolution.

    Every visit of the last :data:`VISIT_DEMAND_WINDOW` weighs 1 in the cell it was
    coarsened to (claims and check-ins keep nothing finer; settings
    ``STATIONS_H3_VISIT_LOCATION``); :func:`aggregate_demand` splits coarser cells
    among their children. ``box`` is (min_lat, max_lat, min_lng, max_lng).
    """
    rows = await conn.fetch(SQL.visit_demand_cells, VISIT_DEMAND_WINDOW)
    if not rows:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.float64)
    cells = np.array([r["h3_cell"] for r in rows], dtype=np.int64).astype(np.uint64)
    weights = np.array([r["visits"] for r in rows], dtype=np.float64)
    lat, lng = h3cells.centres_array(cells)
    min_lat, max_lat, min_lng, max_lng = box
    inside = (lat >= min_lat) & (lat <= max_lat) & (lng >= min_lng) & (lng <= max_lng)
    return cells[inside], weights[inside]


async def load_demand(
    conn: asyncpg.Connection, *, region: Region, res: int
) -> tuple[DemandCells, list[dict[str, Any]]]:
    """Demand per cell at ``res`` around the region: imported points plus observed visits.

    Imported points are cached per area and resolution until the demand data changes
    (the token of migration 0004): a planner's summary, cells, suggestions and map of
    one city read them once.
    """
    pad = 3 * h3.average_hexagon_edge_length(res, "m") + 1000.0
    box = pad_box(region, pad)
    min_lat, max_lat, min_lng, max_lng = box
    # Tokens are random UUIDs, so entries of two databases never match each other.
    key = (tuple(round(v, 9) for v in box), res)
    cached = _DEMAND_CACHE.get(key)
    if cached is not None and cached[0] != await conn.fetchval(SQL.demand_token):
        cached = None  # demand changed since (or the token is unknown)
    if cached is not None:
        imported, sources = cached[1], cached[2]
    else:
        rows = await conn.fetch(SQL.demand_in_box, min_lng, min_lat, max_lng, max_lat)
        found = [r for r in rows if r["source"] is not None]
        cells = np.concatenate(
            [_array_values(r["cells"], ">u8") for r in found] or [np.empty(0, np.uint64)]
        ).astype(np.uint64)
        weights = np.concatenate(
            [_array_values(r["weights"], ">f8") for r in found] or [np.empty(0)]
        ).astype(np.float64)
        imported = aggregate_demand(cells, weights, res)
        sources = [
            {
                "source": r["source"],
                "points": r["points"],
                "weight": r["weight"],
                "last_observed": r["last_observed"],
            }
            for r in found
        ]
        token = rows[0]["token"]
        if token is not None:
            _DEMAND_CACHE.put(key, (token, imported, sources), size=len(imported.cells))
    v_cells, v_weights = await observed_visit_demand(conn, box=box)
    if len(v_cells) == 0:
        return imported, sources
    observed = aggregate_demand(v_cells, v_weights, res)
    return merge_demand(imported, observed), sources


def _array_values(binary: bytes, dtype: str) -> np.ndarray:
    """The values of a one-dimensional, NULL-free array in PostgreSQL's binary form.

    After a 20-byte header (dimensions, null flag, element type, length, lower bound)
    every element is a 4-byte length followed by its 8-byte big-endian value.
    """
    element = np.dtype([("length", ">i4"), ("value", dtype)])
    return np.frombuffer(binary, dtype=element, offset=20)["value"]


class _SizedCache:
    """A small LRU cache bounded by the number of cells it holds."""

    def __init__(self, max_cells: int) -> None:
        self.max_cells = max_cells
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: Any, value: Any, *, size: int) -> None:
        with self._lock:
            self._items[key] = (value, size)
            self._items.move_to_end(key)
            while sum(s for _, s in self._items.values()) > self.max_cells and len(self._items) > 1:
                self._items.popitem(last=False)


_DEMAND_CACHE = _SizedCache(max_cells=5_000_000)


def clear_caches() -> None:
    """Forget cached cells and demand (benchmarks time a first request with this)."""
    from stations.coverage.regions import clear_cell_cache

    clear_cell_cache()
    with _DEMAND_CACHE._lock:
        _DEMAND_CACHE._items.clear()


# ----------------------------------------------------------------------- running


def run_engine(
    *,
    region: Region,
    res: int,
    bands: BandSet,
    stations: StationPoints,
    demand: DemandCells,
    top_n: int = 20,
    keep_cells: bool = True,
    engine: Engine = "numpy",
    client: Any = None,
) -> tuple[Totals, CellMeasures | None]:
    """Run an engine on prepared inputs (no database): what the benchmarks call."""
    ctx = BatchContext(
        region=region,
        res=res,
        stations=stations,
        demand=demand,
        edges_m=bands.edges_m,
        target_index=bands.target_index,
        top_n=top_n,
        keep_cells=keep_cells,
    )
    parents = partition_parents(region, res)
    if engine == "numpy":
        return analyse_parents(parents, replace(ctx, threads=-1))
    if engine == "dask":
        from stations.coverage.dask_engine import run_on_dask

        if client is None:
            from dask.distributed import Client

            from stations.coverage.dask_engine import local_cluster

            with local_cluster(processes=False) as cluster, Client(cluster) as own:
                return run_on_dask(parents, ctx, client=own)
        return run_on_dask(parents, ctx, client=client)
    raise InvalidInput(
        f"engine: {engine!r} is unknown; allowed values: numpy, dask", field="engine"
    )


async def analyse_coverage(
    conn: asyncpg.Connection,
    *,
    request: CoverageRequest,
    engine: Engine = "numpy",
    client: Any = None,
    keep_cells: bool = True,
    max_cells: int | None = None,
) -> CoverageResult:
    """Distance to the nearest matching station, demand and band of every cell of a region."""
    if max_cells is not None and estimated_cells(request.region, request.res) > max_cells:
        raise InvalidInput(
            f"res: the region has about {estimated_cells(request.region, request.res):,} cells "
            f"at resolution {request.res}, more than the {max_cells:,} allowed here; use a "
            "coarser res, a smaller region, or the CLI with --engine dask",
            field="res",
        )
    started = time.perf_counter()
    # Stations beyond the margin are farther than `margin` from every cell; a cell
    # whose nearest loaded station is farther than that makes us load them all.
    margin = 2.0 * float(request.bands.edges_m.max()) + 2000.0

    async def reads() -> tuple[StationPoints, DemandCells, list[dict[str, Any]]]:
        box = pad_box(request.region, margin)
        stations = await load_stations(conn, request=request, box=box)
        demand, sources = await load_demand(conn, region=request.region, res=request.res)
        return stations, demand, sources

    # The region's cells and centres need no database: on a first request for an area
    # they are computed (and cached for the engine) in a thread while PostgreSQL reads.
    jobs: list[Any] = [reads()]
    if engine == "numpy":
        jobs.append(asyncio.to_thread(region_cells, request.region, request.res))
    (stations, demand, sources), *_ = await asyncio.gather(*jobs)
    run = functools.partial(
        run_engine,
        region=request.region,
        res=request.res,
        bands=request.bands,
        demand=demand,
        top_n=request.top_n,
        keep_cells=keep_cells,
        engine=engine,
        client=client,
    )
    # The engine is CPU work: keep the event loop free for other requests meanwhile.
    totals, cells = await asyncio.to_thread(run, stations=stations)
    if totals.max_distance_m > 0.9 * margin or len(stations) == 0:
        everywhere = await load_stations(conn, request=request, box=None)
        if len(everywhere) != len(stations):
            stations = everywhere
            totals, cells = await asyncio.to_thread(run, stations=stations)
    reaching = await asyncio.to_thread(stations_in_reach, stations, cells, request)
    return CoverageResult(
        request=request,
        stations=stations,
        totals=totals,
        cells=cells if keep_cells else None,
        demand_sources=sources,
        engine=engine,
        seconds=time.perf_counter() - started,
        reaching=reaching,
    )


def stations_in_reach(
    stations: StationPoints, cells: CellMeasures | None, request: CoverageRequest
) -> np.ndarray:
    """The stations within the largest finite band of some cell of the region.

    The engine loads stations well beyond the region (the whole catalog when part of
    the region is far from all of them); only these could serve a cell in any band.
    A run that keeps no cells (national dask runs) counts the stations inside the region.
    """
    if cells is None:
        return request.region.contains(stations.lat, stations.lng)
    return within_reach(stations, cells.lat, cells.lng, request.bands.reach_m)


async def district_region(conn: asyncpg.Connection, name: str) -> Region:
    """A district named in the catalog, as the buffered convex hull of its stations."""
    row = await conn.fetchrow(SQL.district_hull, name, DISTRICT_BUFFER_M)
    if row is None or row["hull"] is None:
        known = [r["district"] for r in await conn.fetch(SQL.district_names)]
        listed = ", ".join(known[:40]) + (" …" if len(known) > 40 else "")
        raise InvalidInput(
            f"district: no station lists the district {name!r}; allowed values: "
            f"{listed or '(the catalog names no district yet)'}",
            field="district",
        )
    return geo_region.district_region(name, row["hull"])


async def resolve_region(
    conn: asyncpg.Connection,
    *,
    bbox: str | None = None,
    polygon: str | dict[str, Any] | None = None,
    district: str | None = None,
    city: str | None = None,
    crs: Crs | None = None,
) -> Region:
    """Exactly one of bbox, polygon, district or city, as a :class:`Region`.

    ``crs`` is the coordinate system of a bbox or polygon (default WGS84).
    """
    given = [
        n
        for n, v in (("bbox", bbox), ("polygon", polygon), ("district", district), ("city", city))
        if v
    ]
    if len(given) != 1:
        raise InvalidInput(
            "region: give exactly one of bbox, polygon, district or city"
            + (f" (got {', '.join(given)})" if given else ""),
            field="region",
        )
    if bbox:
        return geo_region.region_in_wgs84(geo_region.bbox_region(bbox), crs or WGS84)
    if polygon:
        return geo_region.region_in_wgs84(geo_region.parse_polygon(polygon), crs or WGS84)
    if city:
        return load_city(city)
    assert district
    return await district_region(conn, district)
