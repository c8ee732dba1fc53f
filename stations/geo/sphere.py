"""Points on the unit sphere: the coordinates both KD-trees (search, coverage) hold.

Geodetic latitude and longitude are used as spherical coordinates. Chord length on the
unit sphere is monotone in the spherical angle, which each user turns into bounds on
the ellipsoidal geodesic (``stations.search.geo``, ``stations.coverage.engine``).
"""

from __future__ import annotations

import numpy as np


def unit_xyz(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """Points on the unit sphere, shape (n, 3), from WGS84 latitudes and longitudes in degrees."""
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lng, dtype=np.float64))
    cos_phi = np.cos(phi)
    return np.column_stack((cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)))
