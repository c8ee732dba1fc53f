"""Stations along a rider's route: within a corridor, in the order the rider meets them.

The route is projected to an azimuthal equidistant plane centred on it (pyproj, WGS84
ellipsoid). Candidates come from the index's KD-tree around points sampled along the
route (a generous radius, so none is missed), then each is placed exactly:

* **distance off the route**: the geodesic distance from the station to the closest
  point of the route (that point found in the plane, where the route is short enough —
  at most :data:`MAX_ROUTE_M` — that the projection distorts by well under 0.1 %);
* **distance along the route**: geodesic lengths of the route's segments up to that
  point, the last one pro rata.

Stations farther off the route than ``max_detour_m`` are left out; the rest are ordered
by distance along the route (then off it, then id).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyproj
import shapely

from stations.errors import InvalidInput
from stations.geo import distance, sphere
from stations.search.filters import Filters
from stations.search.index import StationIndex

MAX_VERTICES = 10_000
MAX_ROUTE_M = 500_000.0
MAX_DETOUR_M = 5_000.0
MAX_SAMPLES = 5_000


@dataclass(frozen=True)
class RouteHit:
    station_id: int
    in_delta: bool
    pos: int
    off_route_m: float
    along_route_m: float


@dataclass(frozen=True)
class RouteAnswer:
    length_m: float
    hits: list[RouteHit]
    total: int  # stations in the corridor before the limit


def _centre(lat: np.ndarray, lng: np.ndarray) -> tuple[float, float]:
    xyz = sphere.unit_xyz(lat, lng).mean(axis=0)
    norm = float(np.linalg.norm(xyz))
    if norm < 1e-9:
        raise InvalidInput(
            "route: the route wraps around the globe; send a rider's route "
            f"(at most {MAX_ROUTE_M / 1000:g} km)",
            field="route",
        )
    x, y, z = (xyz / norm).tolist()
    return math.degrees(math.asin(max(-1.0, min(1.0, z)))), math.degrees(math.atan2(y, x))


def stations_along_route(
    index: StationIndex,
    *,
    lat: np.ndarray,
    lng: np.ndarray,
    max_detour_m: float,
    filters: Filters,
    now: float,
    limit: int,
) -> RouteAnswer:
    """Stations within ``max_detour_m`` of the route (WGS84 vertices), along it in order."""
    lat = np.asarray(lat, dtype=float)
    lng = np.asarray(lng, dtype=float)
    seg_geo, _ = distance.geodesic_many(lat[:-1], lng[:-1], lat[1:], lng[1:])
    length = float(seg_geo.sum())
    if length > MAX_ROUTE_M:
        raise InvalidInput(
            f"route: {length / 1000:.1f} km long; send at most {MAX_ROUTE_M / 1000:g} km "
            "(split longer routes)",
            field="route",
        )
    lat0, lng0 = _centre(lat, lng)
    plane = pyproj.Transformer.from_crs(
        "EPSG:4326",
        pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lng0} +ellps=WGS84 +units=m"),
        always_xy=True,
    )
    x, y = plane.transform(lng, lat)
    vertices = np.column_stack((x, y))
    keep = np.ones(len(vertices), dtype=bool)
    keep[1:] = np.any(vertices[1:] != vertices[:-1], axis=1)
    vertices, seg_lat, seg_lng = vertices[keep], lat[keep], lng[keep]
    if len(vertices) < 2:
        # A route that stays on one spot: the corridor is a circle around it.
        vertices = np.vstack([vertices[:1], vertices[:1] + 1e-6])
        seg_lat = np.repeat(seg_lat[:1], 2)
        seg_lng = np.repeat(seg_lng[:1], 2)
    line = shapely.LineString(vertices)
    planar_length = float(line.length)

    spacing = max(max_detour_m, planar_length / MAX_SAMPLES, 25.0)
    steps = np.arange(0.0, planar_length + spacing, spacing)
    samples = shapely.get_coordinates(shapely.line_interpolate_point(line, steps))
    samples = np.vstack([samples, vertices])
    s_lng, s_lat = plane.transform(samples[:, 0], samples[:, 1], direction="INVERSE")
    reach = (max_detour_m + spacing / 2.0) * 1.01 + 1.0
    in_delta, pos = index.within_chord(
        sphere.unit_xyz(s_lat, s_lng), sphere.chord_upper_bound(reach), filters, now
    )
    if len(pos) == 0:
        return RouteAnswer(length, [], 0)

    c_lat = np.empty(len(pos))
    c_lng = np.empty(len(pos))
    c_ids = np.empty(len(pos), dtype=np.int64)
    for flag in (False, True):
        sel = in_delta == flag
        if sel.any():
            cols = index.columns_of(flag)
            c_lat[sel] = cols.lat[pos[sel]]
            c_lng[sel] = cols.lng[pos[sel]]
            c_ids[sel] = cols.ids[pos[sel]]
    cx, cy = plane.transform(c_lng, c_lat)
    points = shapely.points(np.column_stack((cx, cy)))
    planar_along = shapely.line_locate_point(line, points)
    closest = shapely.get_coordinates(shapely.line_interpolate_point(line, planar_along))
    k_lng, k_lat = plane.transform(closest[:, 0], closest[:, 1], direction="INVERSE")
    off, _ = distance.geodesic_many(c_lat, c_lng, np.asarray(k_lat), np.asarray(k_lng))

    # Along: whole segments before the closest point, then the fraction of its segment.
    seg_planar = np.hypot(*(vertices[1:] - vertices[:-1]).T)
    cum_planar = np.concatenate([[0.0], np.cumsum(seg_planar)])
    seg_geo_kept, _ = distance.geodesic_many(seg_lat[:-1], seg_lng[:-1], seg_lat[1:], seg_lng[1:])
    cum_geo = np.concatenate([[0.0], np.cumsum(seg_geo_kept)])
    seg = np.clip(
        np.searchsorted(cum_planar, planar_along, side="right") - 1, 0, len(seg_planar) - 1
    )
    fraction = np.where(
        seg_planar[seg] > 0,
        (planar_along - cum_planar[seg]) / np.maximum(seg_planar[seg], 1e-12),
        0.0,
    )
    along = cum_geo[seg] + np.clip(fraction, 0.0, 1.0) * seg_geo_kept[seg]

    inside = off <= max_detour_m
    order = np.lexsort((c_ids, off, along))
    order = order[inside[order]]
    hits = [
        RouteHit(int(c_ids[j]), bool(in_delta[j]), int(pos[j]), float(off[j]), float(along[j]))
        for j in order[:limit].tolist()
    ]
    return RouteAnswer(length, hits, int(inside.sum()))
