"""GCJ-02 / BD-09 / EPSG conversions against published reference points."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from stations.errors import InvalidInput
from stations.geo import crs

GEOD = Geod(ellps="WGS84")

# (wgs84 lat, lng, gcj02 lat, lng) from the eviltransform project's test suite.
GCJ_REFERENCE = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


def metres(lat1, lng1, lat2, lng2) -> np.ndarray:
    return np.asarray(GEOD.inv(lng1, lat1, lng2, lat2)[2])


@pytest.mark.parametrize(("wlat", "wlng", "glat", "glng"), GCJ_REFERENCE)
def test_wgs84_to_gcj02_matches_reference_points(wlat, wlng, glat, glng):
    lat, lng = crs.wgs84_to_gcj02(wlat, wlng)
    assert metres(lat, lng, glat, glng) < 0.01


@pytest.mark.parametrize(("wlat", "wlng", "glat", "glng"), GCJ_REFERENCE)
def test_gcj02_to_wgs84_recovers_reference_points(wlat, wlng, glat, glng):
    lat, lng = crs.gcj02_to_wgs84(glat, glng)
    assert metres(lat, lng, wlat, wlng) < 0.01


def test_bd09_to_gcj02_matches_baidu_reference_within_decimetres():
    # Baidu's own closed-form inverse (coordtransform's test values) is approximate;
    # ours inverts the forward formula exactly, so they agree to centimetres.
    lat, lng = crs.bd09_to_gcj02(39.915, 116.404)
    assert metres(lat, lng, 39.90865673957631, 116.39762729119315) < 0.1
    blat, blng = crs.gcj02_to_bd09(39.915, 116.404)
    assert metres(blat, blng, 39.92133699351021, 116.41036949371029) < 0.01


@pytest.mark.parametrize("name", ["gcj02", "bd09"])
def test_round_trip_over_china_stays_under_a_millimetre(name):
    rng = np.random.default_rng(7)
    lat = rng.uniform(18.0, 53.0, 20_000)
    lng = rng.uniform(74.0, 134.0, 20_000)
    target = crs.parse_crs(name)
    there = crs.from_wgs84(lat, lng, target)
    back_lat, back_lng = crs.to_wgs84(*there, target)
    assert metres(lat, lng, back_lat, back_lng).max() < 0.001
    # and the shift itself is the real, large one (hundreds of metres), not a no-op
    shift = metres(lat, lng, *there)
    assert np.median(shift) > 100


def test_gcj02_is_wgs84_outside_china():
    lat, lng = crs.wgs84_to_gcj02(48.8566, 2.3522)
    assert (float(lat), float(lng)) == (48.8566, 2.3522)


def test_projected_epsg_converts_montreal_mtm8():
    # A Montréal fountain: X/Y in NAD83 MTM zone 8 and lat/lng as published side by side.
    lat, lng = crs.to_wgs84(297819.89, 5050237.94, crs.parse_crs("EPSG:32188"))
    assert metres(lat, lng, 45.59201175, -73.58946238) < 0.5
    x, y = crs.from_wgs84(lat, lng, crs.parse_crs("EPSG:32188"))
    assert abs(float(x) - 297819.89) < 0.01 and abs(float(y) - 5050237.94) < 0.01


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("WGS84", "wgs84"),
        ("gcj-02", "gcj02"),
        ("BD09", "bd09"),
        ("epsg:4326", "wgs84"),
        ("EPSG:32650", "EPSG:32650"),
        (None, "wgs84"),
    ],
)
def test_parse_crs_accepts_the_documented_spellings(text, expected):
    assert crs.parse_crs(text).name == expected


@pytest.mark.parametrize("text", ["mars", "EPSG:99999999", "EPSG:1", "4326", ""])
def test_parse_crs_refuses_unknown_names_with_the_allowed_list(text):
    with pytest.raises(InvalidInput) as info:
        crs.parse_crs(text)
    assert "wgs84, gcj02, bd09 or EPSG:" in info.value.detail
