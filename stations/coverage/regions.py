"""The cells of a coverage region, and the city outlines planners pick regions from.

A region (:class:`stations.geo.region.Region`) is a WGS84 polygon. Its cells at a resolution are
the H3 cells whose centre lies inside it (H3's own polygon rule). To let the work be
split, cells are generated as the children of *partition parents*: the cells of a
coarser resolution that overlap the region (buffered, because a parent's children
reach slightly beyond its hexagon), filtered by centre. Every engine produces the
cells this same way, so they all see the same cells.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import asyncpg
import h3
import numpy as np
import orjson
import shapely
from h3.api import basic_int, numpy_int
from shapely.geometry import MultiPolygon, Polygon

from stations.errors import Forbidden, InvalidInput
from stations.geo import h3cells
from stations.geo.region import Region, parse_polygon
from stations.people import branches
from stations.sql import load

SQL = load("coverage")

# City outlines (GeoJSON), package data: found wherever the package is installed.
REGIONS_DIR = files("stations.coverage") / "cities"
_M_PER_DEG_LAT = 110_574.0  # the shortest degree of latitude (at the equator)


PARENT_PAD_EDGES = 0.75


def partition_resolution(res: int) -> int:
    """Resolution of the parents that cells are generated (and split) by."""
    return max(0, res - 3)


def task_resolution(res: int) -> int:
    """Resolution by which parents are grouped into one unit of distributed work."""
    return max(0, res - 5)


def estimated_cells(region: Region, res: int) -> int:
    return math.ceil(region.area_km2 / h3.average_hexagon_area(res, "km^2"))


def partition_parents(region: Region, res: int) -> np.ndarray:
    """Sorted parents (uint64) whose children may have their centre in the region."""
    parent_res = partition_resolution(res)
    # Children's centres stay within ~0.17 parent edges of the parent's hexagon
    # (tests/coverage/test_coverage_analysis.py checks it); pad by half an edge (edges vary ±50%).
    edge_m = h3.average_hexagon_edge_length(parent_res, "m") * PARENT_PAD_EDGES
    _, min_lat, _, max_lat = region.bounds
    cos_lat = max(math.cos(math.radians(max(abs(min_lat), abs(max_lat)))), 0.05)
    pad_deg = edge_m / (_M_PER_DEG_LAT * cos_lat)
    grown = region.geometry.buffer(pad_deg, join_style="mitre")
    cells = basic_int.h3shape_to_cells_experimental(
        _to_h3shape(grown), parent_res, contain="overlap"
    )
    return np.unique(np.asarray(cells, dtype=np.uint64))


def cells_of_parents(
    region: Region, parents: np.ndarray, res: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cells, lat, lng) of the region at ``res`` among the children of ``parents``, sorted.

    Cached (read-only arrays): a planner's summary, cells, suggestions and map of the
    same area all need the same cells, and computing centres is most of the work.
    """
    key = (
        hashlib.sha1(shapely.to_wkb(region.geometry)).hexdigest(),
        res,
        hashlib.sha1(np.ascontiguousarray(parents, dtype=np.uint64).tobytes()).hexdigest(),
    )
    with _CACHE_LOCK:
        hit = _CELL_CACHE.get(key)
        if hit is not None:
            _CELL_CACHE.move_to_end(key)
            return hit
    found = _cells_of_parents(region, parents, res)
    for array in found:
        array.flags.writeable = False
    with _CACHE_LOCK:
        _CELL_CACHE[key] = found
        while sum(len(v[0]) for v in _CELL_CACHE.values()) > _CACHE_CELLS:
            _CELL_CACHE.popitem(last=False)
    return found


_CELL_CACHE: OrderedDict[tuple[str, int, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = (
    OrderedDict()
)
_CACHE_LOCK = threading.Lock()
_CACHE_CELLS = 3_000_000  # about 70 MB of cells and centres


def clear_cell_cache() -> None:
    """Forget cached cells (benchmarks measure the first request of an area with it)."""
    with _CACHE_LOCK:
        _CELL_CACHE.clear()


def _cells_of_parents(
    region: Region, parents: np.ndarray, res: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if len(parents) == 0:
        empty = np.empty(0)
        return np.empty(0, dtype=np.uint64), empty, empty
    children = np.concatenate(
        [numpy_int.cell_to_children(int(p), res) for p in parents.tolist()]
    ).astype(np.uint64)
    children.sort()
    lat, lng = h3cells.centres_array(children)
    inside = region.contains(lat, lng)
    return children[inside], lat[inside], lng[inside]


def region_cells(region: Region, res: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All cells of a region at ``res`` with their centres, sorted by cell."""
    return cells_of_parents(region, partition_parents(region, res), res)


def _to_h3shape(geometry: Polygon | MultiPolygon) -> h3.H3Shape:
    polygons = list(geometry.geoms) if isinstance(geometry, MultiPolygon) else [geometry]
    polys = [
        h3.LatLngPoly(
            [(y, x) for x, y in p.exterior.coords[:-1]],
            *[[(y, x) for x, y in ring.coords[:-1]] for ring in p.interiors],
        )
        for p in polygons
    ]
    return polys[0] if len(polys) == 1 else h3.LatLngMultiPoly(*polys)


# ---------------------------------------------------------------------------- cities


def available_cities() -> list[str]:
    suffix = ".geojson"
    return sorted(
        p.name.removesuffix(suffix) for p in REGIONS_DIR.iterdir() if p.name.endswith(suffix)
    )


def load_city(name: str, *, field: str = "city") -> Region:
    """A city from ``stations/coverage/cities/<name>.geojson``."""
    key = name.strip().lower()
    path = REGIONS_DIR / f"{key}.geojson"
    if not key.isidentifier() or not path.is_file():
        raise InvalidInput(
            f"{field}: unknown city {name!r}; allowed values: {', '.join(available_cities())}",
            field=field,
        )
    return _region_from_file(path, key)


def _region_from_file(path: Traversable, key: str) -> Region:
    data = orjson.loads(path.read_bytes())
    feature = data["features"][0] if data.get("type") == "FeatureCollection" else data
    props = feature.get("properties") or {}
    region = parse_polygon(feature["geometry"], field="city")
    return Region(
        "city", key, region.geometry, props.get("name_zh", key), props.get("name_en", key)
    )


# ---------------------------------------------------------------- a planner's choices


async def planner_regions(conn: asyncpg.Connection, *, branch: str | None) -> dict[str, Any]:
    """The cities and districts a planner of ``branch`` may analyse (None: all).

    A city is listed when its outline holds no station of another branch (the rule
    :func:`stations.people.branches.check_region` applies to every request); a
    district when all its stations are under the branch. Each city carries its bbox
    (lng/lat, WGS84) so a map can open on it before any analysis.
    """
    cities = []
    for key in available_cities():
        region = load_city(key)
        try:
            await branches.check_region(conn, branch=branch, region=region)
        except Forbidden:
            continue
        cities.append(
            {
                "city": key,
                "name_zh": region.label_zh,
                "name_en": region.label_en,
                "bbox": [round(v, 6) for v in region.bounds],
            }
        )
    districts = [dict(r) for r in await conn.fetch(SQL.districts_in_branch, branch)]
    return {"cities": cities, "districts": districts}
