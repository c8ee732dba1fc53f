"""Geometry of the search: unit-sphere points for the KD-tree, exact geodesics for the answer.

The KD-tree holds stations as points on the unit sphere (geodetic latitude and
longitude used as spherical coordinates). Chord length on that sphere is monotone in
the spherical angle θ, and the geodesic distance on the WGS84 ellipsoid (what PostGIS
``geography`` measures) is never shorter than ``M_MIN · θ``, where ``M_MIN = a(1 − e²)``
is the smallest radius of curvature of the ellipsoid: along any path the ellipsoid's
line element ``√(M² dφ² + N² cos²φ dλ²)`` is at least ``M_MIN`` times the sphere's
``√(dφ² + cos²φ dλ²)`` because ``N ≥ M ≥ M_MIN``. So a station whose chord-derived
lower bound exceeds the k-th best exact distance cannot be among the k nearest; only
the few stations that pass that test get an exact (Karney) geodesic from pyproj.
"""

from __future__ import annotations

import math

import numpy as np
from pyproj import Geod

GEOD = Geod(ellps="WGS84")
_A = GEOD.a
_ES = GEOD.es
M_MIN = _A * (1.0 - _ES)
"""Smallest radius of curvature of the WGS84 ellipsoid (meridian, at the equator), metres."""

# Safety margins for the lower bound: relative and absolute (float rounding of xyz).
_REL_SLACK = 1e-9
_ABS_SLACK_M = 1e-3
LOWER_BOUND_SCALE = M_MIN * (1.0 - _REL_SLACK)
"""Metres per radian of spherical angle that the geodesic is at least (see the docstring)."""
LOWER_BOUND_SLACK_M = _ABS_SLACK_M


def point_xyz(lat: float, lng: float) -> np.ndarray:
    phi = math.radians(lat)
    lam = math.radians(lng)
    cos_phi = math.cos(phi)
    return np.array((cos_phi * math.cos(lam), cos_phi * math.sin(lam), math.sin(phi)))


def lower_bound_m(chord: np.ndarray) -> np.ndarray:
    """A lower bound of the ellipsoidal geodesic distance for unit-sphere chord lengths."""
    theta = 2.0 * np.arcsin(np.minimum(np.asarray(chord, dtype=float) * 0.5, 1.0))
    return theta * M_MIN * (1.0 - _REL_SLACK) - _ABS_SLACK_M


def lower_bound_scalar(chord: float) -> float:
    if chord == math.inf:
        return math.inf
    theta = 2.0 * math.asin(min(chord * 0.5, 1.0))
    return theta * M_MIN * (1.0 - _REL_SLACK) - _ABS_SLACK_M


def chord_upper_bound(distance_m: float) -> float:
    """The largest chord a station within ``distance_m`` (geodesic) can have; ``inf`` if any."""
    if not math.isfinite(distance_m):
        return math.inf
    theta = (distance_m + _ABS_SLACK_M) / (M_MIN * (1.0 - _REL_SLACK))
    if theta >= math.pi:
        return math.inf
    return 2.0 * math.sin(theta * 0.5) * (1.0 + _REL_SLACK) + 1e-15


def geodesic(lat: float, lng: float, lat2: float, lng2: float) -> tuple[float, float]:
    """Exact geodesic distance (m) and forward azimuth (degrees, 0–360) from a point."""
    az, _, dist = GEOD.inv(lng, lat, lng2, lat2)
    return float(dist), float(az) % 360.0


def geodesic_many(
    lat: np.ndarray, lng: np.ndarray, lat2: np.ndarray, lng2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`geodesic`: distances (m) and azimuths (0–360)."""
    az, _, dist = GEOD.inv(
        np.asarray(lng, dtype=float),
        np.asarray(lat, dtype=float),
        np.asarray(lng2, dtype=float),
        np.asarray(lat2, dtype=float),
    )
    return np.asarray(dist, dtype=float), np.mod(np.asarray(az, dtype=float), 360.0)
