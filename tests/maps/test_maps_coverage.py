"""The coverage map, rendered: layers, cell polygons, markers, offline assets, GCJ-02."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from maps.assets import VENDOR_DIR, render_html
from maps.coverage import build_coverage_map
from maps.layers import EncodedPolygons, HtmlMarkers, StationCluster, decode_ring, encode_ring
from maps.settings import TileSettings
from stations.coverage import bands as bandmod
from stations.coverage import regions
from stations.coverage.analysis import CoverageRequest, analyse_coverage
from stations.coverage.mapdata import load_map_stations
from stations.coverage.suggestions import suggest_sites
from stations.geo.crs import wgs84_to_gcj02
from tests.factories import create_station
from tests.fixtures.coverage.demo_city import build_demo_city


@pytest.fixture
async def city(conn):
    await build_demo_city(conn)
    request = CoverageRequest(region=regions.load_city("huaibei"), res=9, bands=bandmod.band_set())
    result = await analyse_coverage(conn, request=request)
    stations = await load_map_stations(conn, region=request.region, at=datetime.now(UTC))
    return result, stations, suggest_sites(result, n=4, min_gain=0)


def _layers(m, kind):
    return [c for c in m._children.values() if isinstance(c, kind)]


def _polygons(layer):
    return [
        Polygon(
            [(lng, lat) for lat, lng in decode_ring(p["rings"][0])],
            [[(lng, lat) for lat, lng in decode_ring(r)] for r in p["rings"][1:]],
        )
        for p in layer.polygons
    ]


def test_encoded_rings_round_trip_to_a_metre():
    rng = np.random.default_rng(5)
    lat = rng.uniform(-89, 89, 500)
    lng = rng.uniform(-179, 179, 500)
    back = np.array(decode_ring(encode_ring(lat, lng)))
    np.testing.assert_allclose(back[:, 0], np.round(lat, 5), atol=1e-9)
    np.testing.assert_allclose(back[:, 1], np.round(lng, 5), atol=1e-9)


async def test_map_has_a_layer_per_band_gaps_heat_stations_sites_and_control(city):
    result, stations, suggestions = city
    m = build_coverage_map(result, stations=stations, suggestions=suggestions, lang="zh")
    polys = _layers(m, EncodedPolygons)
    names = [p.layer_name for p in polys]
    for band in result.bands.bands:
        assert any(n.startswith(band.label("zh")) for n in names), band.name
    assert "服务缺口（圈外有需求）" in names and "分析范围" in names
    [cluster] = _layers(m, StationCluster)
    assert len(cluster.rows) == len(stations) == 27  # 30 demo stations, 3 closed
    [sites] = _layers(m, HtmlMarkers)
    assert [re.match(r'<div class="ls-site"><b>(\d)</b>', r[2]).group(1) for r in sites.rows] == [
        "1",
        "2",
        "3",
        "4",
    ]
    html = render_html(m)
    assert "L.control.layers" in html and "L.heatLayer" in html
    assert html.count("map(lsDecode)") == len(polys) == 8
    assert html.count("function lsDecode") == 1
    assert "淮北市（中心城区） · 户外劳动者驿站服务覆盖" in html
    assert "按直线距离÷速度估算" in html


async def test_band_polygons_hold_their_cells(city):
    result, stations, _ = city
    m = build_coverage_map(result, stations=stations)
    cells = result.cells
    by_band = {p.style["className"].split()[-1]: p for p in _layers(m, EncodedPolygons)}
    inside_total = 0
    for i, band in enumerate(result.bands.bands):
        layer = by_band[f"ls-band-{band.name}"]
        mask = cells.band == i
        if not mask.any():
            assert layer.polygons == []
            continue
        shape = shapely.union_all(_polygons(layer))
        inside = shapely.contains_xy(shape, cells.lng[mask], cells.lat[mask])
        inside_total += int(inside.sum())
        # Simplification moves boundaries by under a cell edge; centres stay inside.
        assert inside.mean() > 0.97, band.name
    assert inside_total > 0.98 * len(cells)


async def test_gaps_outline_uncovered_areas_with_their_demand(city):
    result, stations, _ = city
    m = build_coverage_map(result, stations=stations, lang="en")
    gap = next(p for p in _layers(m, EncodedPolygons) if p.layer_name.startswith("Gaps"))
    assert gap.style["fill"] is False and gap.polygons
    total = sum(
        float(re.search(r"Gap: ([\d,.]+)", p["tooltip"]).group(1).replace(",", ""))
        for p in gap.polygons
    )
    assert total == pytest.approx(result.total_demand - result.covered_demand, rel=1e-3)


async def test_inline_html_loads_nothing_from_outside(city):
    result, stations, suggestions = city
    html = render_html(build_coverage_map(result, stations=stations, suggestions=suggestions))
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=", html)
    assert (VENDOR_DIR / "leaflet-1.9.3" / "leaflet.js").read_text()[:200] in html
    assert "url(images/" not in html  # CSS images became data URIs
    assert "cdn.jsdelivr" not in html and "code.jquery" not in html


async def test_static_html_points_at_files_the_service_has(city):
    result, stations, _ = city
    html = render_html(build_coverage_map(result, stations=stations), assets="static")
    refs = re.findall(r'(?:src|href)="/static/maps/vendor/([^"]+)"', html)
    assert len(refs) >= 5
    for ref in refs:
        assert (VENDOR_DIR / ref).is_file(), ref


async def test_gcj02_tiles_shift_every_drawn_point_and_no_tiles_shift_nothing(city):
    result, stations, suggestions = city
    plain = build_coverage_map(result, stations=stations, suggestions=suggestions)
    tiles = TileSettings(url="http://tiles.example.local/{z}/{x}/{y}.png", crs="gcj02")
    shifted = build_coverage_map(result, stations=stations, suggestions=suggestions, tiles=tiles)
    s0 = stations[0]
    glat, glng = wgs84_to_gcj02(np.array([s0.lat]), np.array([s0.lng]))
    [c_plain] = _layers(plain, StationCluster)
    [c_shift] = _layers(shifted, StationCluster)
    assert c_plain.rows[0][:2] == [round(s0.lat, 6), round(s0.lng, 6)]
    assert c_shift.rows[0][:2] == [round(float(glat[0]), 6), round(float(glng[0]), 6)]
    [p_plain] = _layers(plain, HtmlMarkers)
    [p_shift] = _layers(shifted, HtmlMarkers)
    slat, slng = wgs84_to_gcj02(np.array([p_plain.rows[0][0]]), np.array([p_plain.rows[0][1]]))
    assert p_shift.rows[0][:2] == pytest.approx([slat[0], slng[0]], abs=2e-6)
    region_plain = next(p for p in _layers(plain, EncodedPolygons) if p.layer_name == "分析范围")
    region_shift = next(p for p in _layers(shifted, EncodedPolygons) if p.layer_name == "分析范围")
    a = decode_ring(region_plain.polygons[0]["rings"][0])[0]
    b = decode_ring(region_shift.polygons[0]["rings"][0])[0]
    ga, gb = wgs84_to_gcj02(np.array([a[0]]), np.array([a[1]]))
    assert b == pytest.approx((ga[0], gb[0]), abs=2e-5)
    html = render_html(shifted)
    assert "http://tiles.example.local/{z}/{x}/{y}.png" in html
    assert "tiles.example.local" not in render_html(plain)


async def test_english_labels_and_template_syntax_in_names_are_harmless(conn, city):
    result, _, _ = city
    await create_station(conn, lat=33.95, lng=116.80, name="{{ 驿站 }} {% x %} </script>")
    stations = await load_map_stations(conn, region=result.request.region, at=datetime.now(UTC))
    html = render_html(build_coverage_map(result, stations=stations, lang="en"))
    assert "Distance to the nearest station" in html and "Suggested" not in html
    assert '</script> "' not in html and "<\\/script>" in html


def test_vendored_assets_match_their_manifest_and_carry_licences():
    import hashlib
    import json

    manifest = json.loads((VENDOR_DIR / "MANIFEST.json").read_text())
    assert set(manifest) == {
        "leaflet-1.9.3",
        "leaflet.markercluster-1.1.0",
        "leaflet-heat-folium-0.20.0",
        "swagger-ui-dist-5.36.0",  # /docs (api/docs.py)
        "leaflet.vectorgrid-1.3.0",  # the maps' vector tiles (web/common/tiles.js)
    }
    for folder, entry in manifest.items():
        for name, digest in entry["files"].items():
            data = (VENDOR_DIR / folder / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == digest, f"{folder}/{name}"
    assert (VENDOR_DIR / "leaflet-1.9.3" / "LICENSE").is_file()
    assert (VENDOR_DIR / "leaflet.markercluster-1.1.0" / "MIT-LICENCE.txt").is_file()
    assert (
        "THE BEER-WARE LICENSE"
        in (VENDOR_DIR / "leaflet.vectorgrid-1.3.0" / "README.md").read_text()
    )
    assert (
        "Vladimir Agafonkin"
        in (VENDOR_DIR / "leaflet-heat-folium-0.20.0" / "leaflet_heat.min.js").read_text()
    )


async def test_without_tiles_the_reference_outlines_are_drawn_and_with_tiles_not(city):
    import json

    import folium

    from stations.tiles.reference import reference_layer

    result, stations, _ = city
    reference = reference_layer()
    bare = build_coverage_map(result, stations=stations, reference=reference)
    [drawn] = _layers(bare, folium.GeoJson)
    assert drawn.data["features"] == reference["features"]
    html = render_html(bare)
    # folium writes the layer as ASCII JSON: the names are there as \u escapes.
    assert json.dumps("相山区") in html and json.dumps("淮北市（中心城区）") in html
    tiles = TileSettings(url="http://tiles.example.local/{z}/{x}/{y}.png")
    tiled = build_coverage_map(result, stations=stations, reference=reference, tiles=tiles)
    assert _layers(tiled, folium.GeoJson) == []
