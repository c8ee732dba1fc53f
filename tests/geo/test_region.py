"""Areas: one bbox parser and one region type for search, exports, imports and coverage."""

from __future__ import annotations

import numpy as np
import pytest

from stations.errors import InvalidInput
from stations.geo.crs import parse_crs
from stations.geo.region import bbox_region, parse_bbox, region_from_text


def test_region_is_a_box_or_a_polygon_file(tmp_path):
    box = region_from_text("116.6,33.8,117.0,34.1")
    assert box is not None
    assert box.contains(np.array([33.95, 35.0]), np.array([116.8, 116.8])).tolist() == [
        True,
        False,
    ]
    polygon = tmp_path / "huaibei.geojson"
    polygon.write_text(
        '{"type": "Polygon", "coordinates": [[[116.7, 33.9], [116.9, 33.9], [116.8, 34.0],'
        " [116.7, 33.9]]]}"
    )
    region = region_from_text(str(polygon))
    assert region is not None and str(region) == "huaibei.geojson"
    # inside the box of the triangle but outside the triangle itself
    assert region.contains(np.array([33.95, 33.99]), np.array([116.8, 116.71])).tolist() == [
        True,
        False,
    ]


def test_a_bad_box_says_how_to_write_one():
    with pytest.raises(InvalidInput) as info:
        parse_bbox("116.6,33.8,117.0")
    assert info.value.detail == (
        "bbox: '116.6,33.8,117.0' is not a bbox; send west,south,east,north "
        "(min_lng,min_lat,max_lng,max_lat) in degrees, e.g. 116.70,33.85,116.90,34.05"
    )


def test_a_box_across_the_antimeridian_only_where_asked():
    bbox = parse_bbox("170,-20,-170,-10", antimeridian=True)
    assert bbox.crosses_antimeridian
    with pytest.raises(InvalidInput, match="bbox: the minimum must be below the maximum"):
        parse_bbox("170,-20,-170,-10")
    with pytest.raises(InvalidInput, match="bbox: longitudes must be from -180 to 180"):
        parse_bbox("200,33,201,34")


def test_a_gcj02_box_moves_to_wgs84_by_its_corners():
    gcj = parse_bbox("116.70,33.90,116.90,34.00")
    wgs = gcj.in_wgs84(parse_crs("gcj02"))
    # Around Huaibei the GCJ-02 shift is about 500 m east and 160 m south.
    assert wgs.west < gcj.west and wgs.east < gcj.east
    assert wgs.south > gcj.south and wgs.north > gcj.north
    assert abs(wgs.west - gcj.west) < 0.01 and abs(wgs.north - gcj.north) < 0.01
    assert gcj.in_wgs84(parse_crs("wgs84")) is gcj


def test_a_region_from_a_box_is_named_by_it():
    region = bbox_region("116.6, 33.8, 117.0, 34.1")
    assert str(region) == "116.6,33.8,117,34.1"
    assert region.is_rectangle
    assert region.contains(np.array([33.9]), np.array([116.8])).tolist() == [True]
