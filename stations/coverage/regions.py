"""Regions of a coverage analysis: a bbox, a GeoJSON polygon, a district or a city file.

A region is a WGS84 polygon (shapely, x = lng, y = lat). Its cells at a resolution are
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
from dataclasses import dataclass, replace
from functools import cached_property
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Literal

import h3
import numpy as np
import orjson
import pyproj
import shapely
from h3.api import basic_int, numpy_int
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape

from stations.errors import InvalidInput
from stations.geo import h3cells
from stations.geo.crs import Crs, to_wgs84

# City outlines (GeoJSON), package data: found wherever the package is installed.
REGIONS_DIR = files("stations.coverage") / "cities"
RegionKind = Literal["bbox", "polygon", "district", "city"]
_GEOD = pyproj.Geod(ellps="WGS84")
_M_PER_DEG_LAT = 110_574.0  # the shortest degree of latitude (at the equator)


@dataclass(frozen=True)
class Region:
    """An area to analyse, in WGS84."""

    kind: RegionKind
    name: str
    geometry: Polygon | MultiPolygon
    label_zh: str = ""
    label_en: str = ""

    @cached_property
    def is_rectangle(self) -> bool:
        g = self.geometry
        return isinstance(g, Polygon) and not g.interiors and g.equals(box(*g.bounds))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min_lng, min_lat, max_lng, max_lat), the GeoJSON bbox order."""
        min_lng, min_lat, max_lng, max_lat = self.geometry.bounds
        return float(min_lng), float(min_lat), float(max_lng), float(max_lat)

    @property
    def centre(self) -> tuple[float, float]:
        """(lat, lng) of the bbox centre, where a map opens."""
        min_lng, min_lat, max_lng, max_lat = self.bounds
        return (min_lat + max_lat) / 2, (min_lng + max_lng) / 2

    @cached_property
    def area_km2(self) -> float:
        area, _ = _GEOD.geometry_area_perimeter(
            shapely.geometry.polygon.orient(self.geometry)
            if isinstance(self.geometry, Polygon)
            else self.geometry
        )
        return abs(area) / 1e6

    def label(self, lang: str) -> str:
        return (self.label_zh if lang == "zh" else self.label_en) or self.name

    def contains(self, lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
        """Whether each point lies inside (vectorised)."""
        if self.is_rectangle:
            min_lng, min_lat, max_lng, max_lat = self.bounds
            return (lat >= min_lat) & (lat <= max_lat) & (lng >= min_lng) & (lng <= max_lng)
        shapely.prepare(self.geometry)
        return shapely.contains_xy(self.geometry, lng, lat)

    def describe(self, lang: str = "zh") -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "label": self.label(lang),
            "bbox": [round(v, 6) for v in self.bounds],
            "area_km2": round(self.area_km2, 3),
        }

    def to_geojson(self) -> dict[str, Any]:
        return dict(mapping(self.geometry))


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


# ---------------------------------------------------------------------------- parsing


def _check_lat_lng(geometry: Polygon | MultiPolygon, field: str) -> None:
    min_lng, min_lat, max_lng, max_lat = geometry.bounds
    if not (-90 <= min_lat <= max_lat <= 90 and -180 <= min_lng <= max_lng <= 180):
        raise InvalidInput(
            f"{field}: coordinates must be WGS84 longitude -180..180 and latitude -90..90 "
            "(GeoJSON order: lng, lat)",
            field=field,
        )


def parse_bbox(text: str, *, field: str = "bbox") -> Region:
    """``min_lng,min_lat,max_lng,max_lat`` (the GeoJSON bbox order), in WGS84."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput(
            f"{field}: {text!r} is not a bbox; send min_lng,min_lat,max_lng,max_lat "
            "in WGS84, e.g. 116.70,33.85,116.90,34.05",
            field=field,
        )
    min_lng, min_lat, max_lng, max_lat = values
    if not (min_lng < max_lng and min_lat < max_lat):
        raise InvalidInput(
            f"{field}: the minimum must be below the maximum "
            "(min_lng,min_lat,max_lng,max_lat), got {text!r}",
            field=field,
        )
    geometry = box(min_lng, min_lat, max_lng, max_lat)
    _check_lat_lng(geometry, field)
    return Region("bbox", text.replace(" ", ""), geometry, "自定义范围", "bounding box")


def parse_polygon(value: str | dict[str, Any], *, field: str = "polygon") -> Region:
    """A GeoJSON Polygon or MultiPolygon (a geometry, a Feature or a FeatureCollection)."""
    try:
        data = orjson.loads(value) if isinstance(value, str) else value
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"{field}: not JSON ({exc}); send a GeoJSON Polygon", field=field
        ) from exc
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        geoms = [f.get("geometry") for f in data.get("features") or [] if isinstance(f, dict)]
    elif isinstance(data, dict) and data.get("type") == "Feature":
        geoms = [data.get("geometry")]
    else:
        geoms = [data]
    try:
        shapes = [shape(g) for g in geoms if g]
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
        raise InvalidInput(f"{field}: not a GeoJSON geometry ({exc})", field=field) from exc
    if not shapes or not all(isinstance(s, (Polygon, MultiPolygon)) for s in shapes):
        raise InvalidInput(
            f"{field}: send a GeoJSON Polygon or MultiPolygon (lng, lat in WGS84)", field=field
        )
    geometry = shapely.union_all(shapes)
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    polys = [g for g in getattr(geometry, "geoms", [geometry]) if isinstance(g, Polygon)]
    geometry = polys[0] if len(polys) == 1 else MultiPolygon(polys)
    if geometry.is_empty or geometry.area == 0:
        raise InvalidInput(f"{field}: the polygon has no area", field=field)
    _check_lat_lng(geometry, field)
    return Region("polygon", "polygon", geometry, "自定义多边形", "polygon")


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


def region_in_wgs84(region: Region, crs: Crs) -> Region:
    """A bbox or polygon given in GCJ-02 or BD-09, moved to WGS84 (edges densified first)."""
    if crs.is_wgs84:
        return region
    if not crs.is_geographic:
        raise InvalidInput(
            f"crs: regions are given in degrees; use wgs84, gcj02 or bd09, not {crs}", field="crs"
        )
    dense = shapely.segmentize(region.geometry, 0.002)

    def move(coords: np.ndarray) -> np.ndarray:
        lat, lng = to_wgs84(coords[:, 1], coords[:, 0], crs)
        return np.column_stack([lng, lat])

    return replace(region, geometry=shapely.transform(dense, move))


def district_region(name: str, hull_wkb: bytes) -> Region:
    """A district as the buffered convex hull of its stations (WKB from the database)."""
    geometry = shapely.from_wkb(hull_wkb)
    polys = [g for g in getattr(geometry, "geoms", [geometry]) if isinstance(g, Polygon)]
    geometry = polys[0] if len(polys) == 1 else MultiPolygon(polys)
    return Region("district", name, geometry, name, name)
