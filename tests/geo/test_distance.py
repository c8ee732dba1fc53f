"""Geodesic distances: the vectorised path agrees with Karney's algorithm everywhere."""

from __future__ import annotations

import numpy as np
import pyproj

from stations.geo.distance import geodesic, geodesic_m


def test_geodesic_agrees_with_karney_and_handles_antipodes():
    rng = np.random.default_rng(9)
    n = 30_000  # large enough to be split among threads
    lat1, lng1 = rng.uniform(-80, 80, n), rng.uniform(-180, 180, n)
    lat2 = np.clip(lat1 + rng.normal(0, 3, n), -89, 89)
    lng2 = lng1 + rng.normal(0, 3, n)
    # Nearly antipodal pairs, where Vincenty's iteration fails, a zero-length pair and
    # the poles; the same again in the middle, so that both thread chunks have some.
    odd_lat1, odd_lng1 = [0.0, 0.5, 34.0, 90.0, -90.0], [0.0, 0.0, 116.0, 0.0, 10.0]
    odd_lat2, odd_lng2 = [0.5, -0.5, 34.0, 89.0, -89.5], [179.7, 179.5, 116.0, 45.0, 10.0]
    for at in (n // 2, n):
        lat1, lng1 = np.insert(lat1, at, odd_lat1), np.insert(lng1, at, odd_lng1)
        lat2, lng2 = np.insert(lat2, at, odd_lat2), np.insert(lng2, at, odd_lng2)
    expected = pyproj.Geod(ellps="WGS84").inv(lng1, lat1, lng2, lat2)[2]
    one = geodesic_m(lat1, lng1, lat2, lng2)
    np.testing.assert_allclose(one, expected, rtol=0, atol=1e-4)
    for threads in (2, -1):
        np.testing.assert_array_equal(geodesic_m(lat1, lng1, lat2, lng2, threads=threads), one)


def test_scalar_and_broadcast_forms_agree():
    distance, azimuth = geodesic(33.9, 116.8, 34.0, 116.9)
    assert abs(float(geodesic_m(33.9, 116.8, 34.0, 116.9)) - distance) < 1e-4
    assert 0 <= azimuth < 360
    many = geodesic_m(np.array([33.9, 33.95]), 116.8, 34.0, 116.9)
    assert many.shape == (2,)
    assert abs(many[0] - distance) < 1e-4
