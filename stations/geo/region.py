"""Areas on the map: a bbox, a polygon, a district or a city, always in WGS84.

One bbox parser (:func:`parse_bbox`) and one region type (:class:`Region`) serve every
caller: text/bbox search, exports, the importer's ``--region`` and coverage analysis.
A :class:`BBox` is four numbers in the GeoJSON order (west, south, east, north); a
:class:`Region` is a shapely (Multi)Polygon with x = lng and y = lat, and a name to
show. Areas given in GCJ-02 or BD-09 are moved to WGS84 here, at the boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import shapely
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape

from stations.errors import InvalidInput
from stations.geo.crs import Crs, to_wgs84
from stations.geo.distance import GEOD

RegionKind = Literal["bbox", "polygon", "district", "city"]

BBOX_EXAMPLE = "116.70,33.85,116.90,34.05"


@dataclass(frozen=True)
class BBox:
    """west, south, east, north in degrees; west > east crosses the antimeridian."""

    west: float
    south: float
    east: float
    north: float

    @property
    def crosses_antimeridian(self) -> bool:
        return self.west > self.east

    def as_list(self) -> list[float]:
        return [self.west, self.south, self.east, self.north]

    def in_wgs84(self, crs: Crs) -> BBox:
        """The envelope of the box's corners moved from ``crs`` to WGS84.

        GCJ-02 and BD-09 shift slowly (a few metres over a city), so the envelope of the
        moved corners is the box a search means.
        """
        if crs.is_wgs84:
            return self
        lats, lngs = to_wgs84(
            np.array([self.south, self.south, self.north, self.north]),
            np.array([self.west, self.east, self.west, self.east]),
            crs,
        )
        south, north = float(min(lats)), float(max(lats))
        if self.crosses_antimeridian:
            west, east = float(min(lngs[0], lngs[2])), float(max(lngs[1], lngs[3]))
        else:
            west, east = float(min(lngs)), float(max(lngs))
        return BBox(west, south, east, north)

    def __str__(self) -> str:
        return f"{self.west:g},{self.south:g},{self.east:g},{self.north:g}"


def parse_bbox(text: str, *, field: str = "bbox", antimeridian: bool = False) -> BBox:
    """``west,south,east,north`` (min_lng,min_lat,max_lng,max_lat) in degrees.

    With ``antimeridian`` a west greater than east is a box across the 180th meridian;
    otherwise the minimum must be below the maximum on both axes.
    """
    parts = str(text).split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput(
            f"{field}: {text!r} is not a bbox; send west,south,east,north "
            f"(min_lng,min_lat,max_lng,max_lat) in degrees, e.g. {BBOX_EXAMPLE}",
            field=field,
        )
    west, south, east, north = values
    lng_ok = -180 <= west <= 180 and -180 <= east <= 180
    if not (lng_ok and -90 <= south <= 90 and -90 <= north <= 90):
        raise InvalidInput(
            f"{field}: longitudes must be from -180 to 180 and latitudes from -90 to 90 "
            f"(GeoJSON order: lng, lat), got {text!r}",
            field=field,
        )
    if south >= north or (west >= east and not antimeridian):
        raise InvalidInput(
            f"{field}: the minimum must be below the maximum "
            f"(min_lng,min_lat,max_lng,max_lat), got {text!r}",
            field=field,
        )
    return BBox(west, south, east, north)


@dataclass(frozen=True)
class Region:
    """An area in WGS84: its kind, a name (what ``str()`` shows) and its polygon."""

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
        area, _ = GEOD.geometry_area_perimeter(
            shapely.geometry.polygon.orient(self.geometry)
            if isinstance(self.geometry, Polygon)
            else self.geometry
        )
        return abs(area) / 1e6

    def label(self, lang: str) -> str:
        return (self.label_zh if lang == "zh" else self.label_en) or self.name

    def contains(self, lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
        """Whether each point lies inside (vectorised; the box is tested first)."""
        lat = np.asarray(lat, dtype=float)
        lng = np.asarray(lng, dtype=float)
        min_lng, min_lat, max_lng, max_lat = self.bounds
        inside = (lat >= min_lat) & (lat <= max_lat) & (lng >= min_lng) & (lng <= max_lng)
        if not self.is_rectangle and inside.any():
            shapely.prepare(self.geometry)
            inside[inside] = shapely.contains_xy(self.geometry, lng[inside], lat[inside])
        return inside

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

    def __str__(self) -> str:
        return self.name


def bbox_region(text: str, *, field: str = "bbox") -> Region:
    """A region from ``min_lng,min_lat,max_lng,max_lat`` text (WGS84)."""
    bbox = parse_bbox(text, field=field)
    geometry = box(bbox.west, bbox.south, bbox.east, bbox.north)
    return Region("bbox", str(bbox), geometry, "自定义范围", "bounding box")


def parse_polygon(
    value: str | dict[str, Any], *, field: str = "polygon", name: str = "polygon"
) -> Region:
    """A GeoJSON Polygon or MultiPolygon (a geometry, a Feature or a FeatureCollection)."""
    try:
        data = orjson.loads(value) if isinstance(value, (str, bytes)) else value
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
    geometry = _polygons(geometry)
    if geometry.is_empty or geometry.area == 0:
        raise InvalidInput(f"{field}: the polygon has no area", field=field)
    min_lng, min_lat, max_lng, max_lat = geometry.bounds
    if not (-90 <= min_lat <= max_lat <= 90 and -180 <= min_lng <= max_lng <= 180):
        raise InvalidInput(
            f"{field}: coordinates must be WGS84 longitude -180..180 and latitude -90..90 "
            "(GeoJSON order: lng, lat)",
            field=field,
        )
    return Region("polygon", name, geometry, "自定义多边形", "polygon")


def region_from_text(text: str | None, *, field: str = "region") -> Region | None:
    """A region from ``minlng,minlat,maxlng,maxlat`` or a GeoJSON file holding a polygon."""
    if text is None or not str(text).strip():
        return None
    path = Path(text)
    if not path.exists():
        return bbox_region(text, field=field)
    try:
        return parse_polygon(orjson.loads(path.read_bytes()), field=field, name=path.name)
    except (OSError, orjson.JSONDecodeError, InvalidInput):
        raise InvalidInput(
            f"{field}: {text!r} holds no polygon; give a GeoJSON Polygon or MultiPolygon "
            "(or a Feature/FeatureCollection of them), or a box minlng,minlat,maxlng,maxlat",
            field=field,
        ) from None


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
    geometry = _polygons(shapely.from_wkb(hull_wkb))
    return Region("district", name, geometry, name, name)


def _polygons(geometry: Any) -> Polygon | MultiPolygon:
    """The polygonal parts of a geometry (a collection after make_valid, say)."""
    polys = [g for g in getattr(geometry, "geoms", [geometry]) if isinstance(g, Polygon)]
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)
