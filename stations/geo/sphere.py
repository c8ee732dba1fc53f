"""Points on the unit sphere, and what chord lengths there say about geodesic distances.

Both KD-trees (search, coverage) hold stations as points on the unit sphere, geodetic
latitude and longitude used as spherical coordinates. Chord length on that sphere is
monotone in the spherical angle θ, and two bounds turn θ into statements about the
ellipsoidal geodesic (:mod:`stations.geo.distance`):

* **exact lower bound** (search): the geodesic on the WGS84 ellipsoid is never shorter
  than ``M_MIN · θ``, where ``M_MIN = a(1 − e²)`` is the smallest radius of curvature:
  along any path the ellipsoid's line element ``√(M² dφ² + N² cos²φ dλ²)`` is at least
  ``M_MIN`` times the sphere's ``√(dφ² + cos²φ dλ²)`` because ``N ≥ M ≥ M_MIN``. A
  station whose bound exceeds the k-th best exact distance cannot be among the k nearest.
* **two-sided scale** (coverage): with ``s`` the great-circle distance on the sphere of
  mean radius R, any pair satisfies ``LO·s ≤ g ≤ HI·s`` (the local scale of the sphere
  onto the ellipsoid lies between M_equator/R and N_pole/R).
"""

from __future__ import annotations

import math

import numpy as np

from stations.geo.distance import GEOD

M_MIN = GEOD.a * (1.0 - GEOD.es)
"""Smallest radius of curvature of the WGS84 ellipsoid (meridian, at the equator), metres."""

# Safety margins for the lower bound: relative and absolute (float rounding of xyz).
_REL_SLACK = 1e-9
_ABS_SLACK_M = 1e-3
LOWER_BOUND_SCALE = M_MIN * (1.0 - _REL_SLACK)
"""Metres per radian of spherical angle that the geodesic is at least (see the docstring)."""
LOWER_BOUND_SLACK_M = _ABS_SLACK_M

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius
LO = 0.994  # < 6335439 / R: meridional radius of curvature at the equator
HI = 1.005  # > 6399594 / R: prime-vertical radius of curvature at the poles


def unit_xyz(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """Points on the unit sphere, shape (n, 3), from WGS84 latitudes and longitudes in degrees."""
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lng, dtype=np.float64))
    cos_phi = np.cos(phi)
    return np.column_stack((cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)))


def point_xyz(lat: float, lng: float) -> np.ndarray:
    """One point on the unit sphere (what :func:`unit_xyz` gives, without array overhead)."""
    phi = math.radians(lat)
    lam = math.radians(lng)
    cos_phi = math.cos(phi)
    return np.array((cos_phi * math.cos(lam), cos_phi * math.sin(lam), math.sin(phi)))


def lower_bound_m(chord: np.ndarray) -> np.ndarray:
    """A lower bound of the ellipsoidal geodesic distance for unit-sphere chord lengths."""
    theta = 2.0 * np.arcsin(np.minimum(np.asarray(chord, dtype=float) * 0.5, 1.0))
    return theta * LOWER_BOUND_SCALE - _ABS_SLACK_M


def lower_bound_scalar(chord: float) -> float:
    if chord == math.inf:
        return math.inf
    theta = 2.0 * math.asin(min(chord * 0.5, 1.0))
    return theta * LOWER_BOUND_SCALE - _ABS_SLACK_M


def chord_upper_bound(distance_m: float) -> float:
    """The largest chord a station within ``distance_m`` (geodesic) can have; ``inf`` if any."""
    if not math.isfinite(distance_m):
        return math.inf
    theta = (distance_m + _ABS_SLACK_M) / LOWER_BOUND_SCALE
    if theta >= math.pi:
        return math.inf
    return 2.0 * math.sin(theta * 0.5) * (1.0 + _REL_SLACK) + 1e-15


def chord_to_metres(chord: np.ndarray) -> np.ndarray:
    """Great-circle metres on the sphere of mean radius for unit-sphere chords."""
    return 2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0)) * EARTH_RADIUS_M


def metres_to_chord(metres: float) -> float:
    """The unit-sphere chord of a great-circle distance on the sphere of mean radius."""
    return float(2.0 * np.sin(min(metres / EARTH_RADIUS_M, np.pi) / 2.0))
