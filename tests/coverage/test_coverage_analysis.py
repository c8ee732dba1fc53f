"""Coverage analysis against an independent brute-force computation in PostGIS."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import h3
import numpy as np
import pytest

from stations.coverage import bands as bandmod
from stations.coverage import regions
from stations.coverage.analysis import CoverageRequest, analyse_coverage
from stations.coverage.engine import StationPoints, aggregate_demand, nearest_stations
from stations.errors import InvalidInput
from stations.geo import region as geo_region
from tests.factories import create_demand_point, create_station
from tests.fixtures.coverage.demo_city import build_demo_city

BRUTE_DISTANCES = """
SELECT c.i, min(ST_Distance(ST_SetSRID(ST_MakePoint(c.lng, c.lat), 4326)::geography, s.geom))
FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS c(lat, lng, i)
CROSS JOIN stations s
WHERE s.status = 'active'
GROUP BY c.i ORDER BY c.i
"""


async def test_covered_shares_equal_brute_force_on_demo_city(conn):
    await build_demo_city(conn)
    region = regions.load_city("huaibei")
    bands = bandmod.band_set()
    result = await analyse_coverage(
        conn, request=CoverageRequest(region=region, res=9, bands=bands)
    )

    # Independently: the city's cells by H3's own polygon fill, distances by PostGIS
    # (spheroid), demand by each point's res-11 cell's parent, via h3's string API.
    ring = [(lat, lng) for lng, lat in region.geometry.exterior.coords[:-1]]
    cells = sorted(h3.polygon_to_cells(h3.LatLngPoly(ring), 9))
    centres = [h3.cell_to_latlng(c) for c in cells]
    rows = await conn.fetch(BRUTE_DISTANCES, [c[0] for c in centres], [c[1] for c in centres])
    distance = np.array([r["min"] for r in rows])
    demand = dict.fromkeys(cells, 0.0)
    for p in await conn.fetch(
        "SELECT ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng, weight FROM demand_points"
    ):
        parent = h3.cell_to_parent(h3.latlng_to_cell(p["lat"], p["lng"], 11), 9)
        if parent in demand:
            demand[parent] += p["weight"]
    weights = np.array([demand[c] for c in cells])
    edges = [b.max_m for b in bands.bands[:-1]]
    band_of = np.array([sum(d > e for e in edges) for d in distance])
    total = weights.sum()

    assert [h3.int_to_str(int(c)) for c in result.cells.cells] == cells
    np.testing.assert_allclose(result.cells.distance_m, distance, rtol=0, atol=1e-3)
    rows_by_band = result.band_rows("en")
    for i, row in enumerate(rows_by_band):
        assert row["cells"] == int((band_of == i).sum())
        assert row["share"] == pytest.approx(weights[band_of == i].sum() / total, abs=1e-9)
    expected_cover = weights[band_of <= bands.target_index].sum() / total
    assert result.covered_share == pytest.approx(expected_cover, abs=1e-9)
    assert 0.05 < result.covered_share < 0.95  # the demo city has real gaps


async def test_worst_cells_rank_uncovered_demand_first(conn):
    await create_station(conn, lat=33.95, lng=116.80)
    # Far from the station: 3 units in one cell, 1 unit in another; a covered one nearby.
    await create_demand_point(conn, lat=33.99, lng=116.86, weight=1)
    await create_demand_point(conn, lat=33.99, lng=116.86, weight=2)
    await create_demand_point(conn, lat=33.90, lng=116.74, weight=1)
    await create_demand_point(conn, lat=33.9502, lng=116.8002, weight=9)
    result = await analyse_coverage(
        conn,
        request=CoverageRequest(
            region=regions.load_city("huaibei"), res=9, bands=bandmod.band_set(), top_n=5
        ),
    )
    worst = result.summary("en")["worst_cells"]
    assert [w["uncovered_demand"] for w in worst] == [3.0, 1.0]
    assert worst[0]["cell"] == h3.latlng_to_cell(33.99, 116.86, 9)
    assert worst[0]["distance_m"] > 1125
    assert result.covered_demand == 9.0


async def test_amenity_and_open_at_filters_choose_the_stations_measured(conn):
    await create_station(conn, lat=33.95, lng=116.80, amenities=["restroom"], opening_hours="24/7")
    await create_station(
        conn, lat=33.96, lng=116.81, amenities=["drinking_water"], opening_hours="Mo-Fr 09:00-17:00"
    )
    await create_station(conn, lat=33.97, lng=116.82, status="temporarily_closed")
    region = geo_region.bbox_region("116.78,33.94,116.84,33.98")
    base = dict(region=region, res=8, bands=bandmod.band_set())
    everyone = await analyse_coverage(conn, request=CoverageRequest(**base))
    assert len(everyone.stations) == 2
    restroom = await analyse_coverage(
        conn, request=CoverageRequest(**base, amenities=("restroom",))
    )
    assert len(restroom.stations) == 1
    sunday_noon = datetime(2025, 7, 6, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    open_sunday = await analyse_coverage(conn, request=CoverageRequest(**base, open_at=sunday_noon))
    assert open_sunday.stations.ids.tolist() == restroom.stations.ids.tolist()


async def test_cells_far_from_every_loaded_station_fall_back_to_the_whole_catalog(conn):
    # The only station is 60 km away: beyond the loading margin, still the nearest.
    await create_station(conn, lat=34.50, lng=116.80)
    result = await analyse_coverage(
        conn,
        request=CoverageRequest(
            region=geo_region.bbox_region("116.79,33.94,116.81,33.96"),
            res=8,
            bands=bandmod.band_set(),
        ),
    )
    assert len(result.stations) == 1
    assert np.all(result.cells.distance_m > 55_000)
    assert np.all(result.cells.band == len(bandmod.band_set().bands) - 1)


def test_nearest_is_the_ellipsoid_nearest_when_the_sphere_disagrees():
    # At 34° N a metre north is shorter on the ellipsoid than a metre east on the
    # mean sphere: the sphere prefers the east station, the ellipsoid the north one.
    lat0, lng0 = 34.0, 116.0
    north = (lat0 + 1000 / 111_195, lng0)
    east = (lat0, lng0 + 997 / (111_195 * np.cos(np.radians(lat0))))
    stations = StationPoints.build(
        np.array([1, 2]),
        np.array([north[0], east[0]]),
        np.array([north[1], east[1]]),
        [None, None],
    )
    idx, dist = nearest_stations(stations, np.array([lat0]), np.array([lng0]))
    import pyproj

    geod = pyproj.Geod(ellps="WGS84")
    d_north = geod.inv(lng0, lat0, north[1], north[0])[2]
    d_east = geod.inv(lng0, lat0, east[1], east[0])[2]
    assert d_north < d_east  # the premise
    assert idx[0] == 0
    assert dist[0] == pytest.approx(d_north, abs=1e-4)


def test_nearest_matches_brute_force_geodesics_on_random_points():
    import pyproj

    rng = np.random.default_rng(3)
    slat, slng = rng.uniform(30, 40, 300), rng.uniform(110, 120, 300)
    plat, plng = rng.uniform(30, 40, 2000), rng.uniform(110, 120, 2000)
    stations = StationPoints.build(np.arange(300), slat, slng, [None] * 300)
    idx, dist = nearest_stations(stations, plat, plng)
    geod = pyproj.Geod(ellps="WGS84")
    full = np.array(
        [
            geod.inv(np.full(300, lng), np.full(300, lat), slng, slat)[2]
            for lat, lng in zip(plat, plng, strict=True)
        ]
    )
    np.testing.assert_array_equal(idx, full.argmin(axis=1))
    np.testing.assert_allclose(dist, full.min(axis=1), rtol=0, atol=1e-4)  # 0.1 mm


def test_coarser_observed_demand_is_split_among_children():
    coarse = h3.str_to_int(h3.latlng_to_cell(33.95, 116.8, 9))
    fine = h3.str_to_int(h3.latlng_to_cell(33.95, 116.8, 11))
    demand = aggregate_demand(np.array([coarse, fine], dtype=np.uint64), np.array([7.0, 1.0]), 10)
    assert len(demand.cells) == 7
    assert demand.micro.sum() == 8_000_000
    assert sorted(demand.micro.tolist())[:6] == [1_000_000] * 6


def test_bands_follow_speeds_and_reject_unknown_target():
    bands = bandmod.band_set(walk_kmh=6.0, ebike_kmh=20.0)
    assert bands.names == ["m300", "m500", "m1000", "walk_15min", "ebike_15min", "beyond"]
    assert bands.target_m == pytest.approx(1500.0)
    assert bands.bands[4].max_m == pytest.approx(5000.0)
    assert bands.classify(np.array([300.0, 300.01, 1e9])).tolist() == [0, 1, 5]
    with pytest.raises(InvalidInput, match="allowed values: m300, m500, m1000, walk_15min"):
        bandmod.band_set(target="car_15min")


def test_region_parsing_refuses_bad_input_with_the_parameter_named():
    with pytest.raises(InvalidInput, match="bbox: the minimum must be below"):
        geo_region.bbox_region("116.9,33.8,116.7,34.0")
    with pytest.raises(InvalidInput, match=r"bbox: .* is not a bbox"):
        geo_region.bbox_region("116.9,33.8")
    with pytest.raises(InvalidInput, match="polygon: send a GeoJSON Polygon"):
        geo_region.parse_polygon('{"type": "Point", "coordinates": [116.8, 33.9]}')
    with pytest.raises(
        InvalidInput, match="city: unknown city 'atlantis'; allowed values: huaibei"
    ):
        regions.load_city("atlantis")


async def test_unknown_district_lists_the_known_ones(conn):
    from stations.coverage.analysis import resolve_region

    await create_station(conn, district="相山区")
    with pytest.raises(InvalidInput, match="allowed values: 相山区"):
        await resolve_region(conn, district="火星区")
    region = await resolve_region(conn, district="相山区")
    lat, lng = region.centre
    assert region.contains(np.array([lat]), np.array([lng]))[0]
    assert 2.5 < region.area_km2 < 3.5  # a point buffered by 1 km: π km²


def test_child_centres_stay_near_their_parent_hexagon():
    """partition_parents pads the region by PARENT_PAD_EDGES; children must need less."""
    import shapely
    from h3.api import basic_int, numpy_int
    from shapely.geometry import Polygon

    from stations.geo import h3cells

    rng = np.random.default_rng(2)
    worst = 0.0
    for _ in range(150):
        lat, lng = rng.uniform(-70, 70), rng.uniform(-180, 180)
        for parent_res in (4, 6, 7):
            parent = basic_int.latlng_to_cell(lat, lng, parent_res)
            hexagon = Polygon([(b, a) for a, b in basic_int.cell_to_boundary(parent)])
            kids = numpy_int.cell_to_children(parent, parent_res + 3).astype(np.uint64)
            k_lat, k_lng = h3cells.centres_array(kids)
            outside = shapely.distance(hexagon, shapely.points(k_lng, k_lat)).max()
            worst = max(worst, outside / (hexagon.length / 6))
    assert worst < regions.PARENT_PAD_EDGES / 3


async def test_demand_written_after_an_analysis_is_seen_by_the_next_one(conn):
    await create_station(conn, lat=33.95, lng=116.80)
    await create_demand_point(conn, lat=33.951, lng=116.801, weight=1)
    request = CoverageRequest(
        region=geo_region.bbox_region("116.78,33.94,116.82,33.96"), res=9, bands=bandmod.band_set()
    )
    first = await analyse_coverage(conn, request=request)
    again = await analyse_coverage(conn, request=request)  # served from the demand cache
    assert first.total_demand == again.total_demand == 1.0
    await create_demand_point(conn, lat=33.952, lng=116.802, weight=2)
    await conn.execute("UPDATE demand_points SET weight = 4 WHERE weight = 1")
    after = await analyse_coverage(conn, request=request)
    assert after.total_demand == 6.0
    await conn.execute("DELETE FROM demand_points")
    assert (await analyse_coverage(conn, request=request)).total_demand == 0.0


async def test_demand_of_several_sources_is_summed_and_listed_per_source(conn):
    await create_station(conn, lat=33.95, lng=116.80)
    near, far = (33.951, 116.801), (33.958, 116.818)
    await create_demand_point(conn, lat=near[0], lng=near[1], weight=1.5, source="orders")
    await create_demand_point(conn, lat=far[0], lng=far[1], weight=2, source="orders")
    await create_demand_point(conn, lat=far[0], lng=far[1], weight=0.25, source="pings")
    await create_demand_point(conn, lat=10.0, lng=10.0, weight=100, source="elsewhere")
    request = CoverageRequest(
        region=geo_region.bbox_region("116.78,33.94,116.82,33.96"), res=9, bands=bandmod.band_set()
    )
    result = await analyse_coverage(conn, request=request)

    assert result.total_demand == 3.75
    assert [(s["source"], s["points"], s["weight"]) for s in result.demand_sources] == [
        ("orders", 2, 3.5),
        ("pings", 1, 0.25),
    ]
    cells = result.cells
    assert cells is not None
    by_cell = dict(zip(cells.cells.tolist(), cells.demand_micro.tolist(), strict=True))
    far_cell = h3.str_to_int(h3.cell_to_parent(h3.latlng_to_cell(*far, 11), 9))
    assert by_cell[far_cell] == 2_250_000


async def test_an_area_without_demand_has_none_and_no_sources(conn):
    await create_station(conn, lat=33.95, lng=116.80)
    await create_demand_point(conn, lat=10.0, lng=10.0, weight=100, source="elsewhere")
    request = CoverageRequest(
        region=geo_region.bbox_region("116.78,33.94,116.82,33.96"), res=9, bands=bandmod.band_set()
    )
    result = await analyse_coverage(conn, request=request)
    assert result.total_demand == 0.0
    assert result.demand_sources == []
