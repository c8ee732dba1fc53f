"""What a field audit of the coverage maps and reports found (issue 15, items 16–21)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pyogrio
import pytest
import shapely

from maps.coverage import build_coverage_map
from maps.layers import EncodedPolygons, HtmlMarkers, Overlay, StationCluster
from stations.cli import app
from stations.cli import coverage as coverage_cli
from stations.coverage import bands as bandmod
from stations.coverage import regions
from stations.coverage.analysis import CoverageRequest, analyse_coverage
from stations.coverage.mapdata import load_map_stations
from stations.coverage.suggestions import suggest_sites
from stations.geo import region as geo_region
from tests.factories import create_station
from tests.fixtures.coverage.demo_city import build_demo_city
from tests.maps.test_maps_coverage import _layers, _polygons


async def huaibei(conn, **request):
    region = regions.load_city("huaibei")
    result = await analyse_coverage(
        conn,
        request=CoverageRequest(region=region, res=9, bands=bandmod.band_set(), **request),
    )
    stations = await load_map_stations(
        conn,
        region=region,
        at=datetime.now(UTC),
        margin_m=result.bands.reach_m,
    )
    return result, stations


# --- 16: the gaps layer is where workers are without a station --------------------------------


async def test_gaps_are_the_cells_with_demand_outside_the_circle_and_nothing_else(conn):
    await build_demo_city(conn)
    result, stations = await huaibei(conn)
    m = build_coverage_map(result, stations=stations, lang="en")
    gap = next(p for p in _layers(m, EncodedPolygons) if p.layer_name.startswith("Gaps"))
    shape = shapely.union_all(_polygons(gap))
    cells = result.cells
    gap_cells = (cells.band > result.bands.target_index) & (cells.demand_micro > 0)
    inside = shapely.contains_xy(shape, cells.lng, cells.lat)
    assert inside[gap_cells].all()
    # no uncovered cell without demand, no covered cell is outlined as a gap
    assert not inside[~gap_cells].any()
    outside_area = int((cells.band > result.bands.target_index).sum())
    assert gap_cells.sum() < 0.5 * outside_area  # far fewer than the whole uncovered area
    total = sum(
        float(re.search(r"Gap: ([\d,.]+)", p["tooltip"]).group(1).replace(",", ""))
        for p in gap.polygons
    )
    assert total == pytest.approx(result.total_demand - result.covered_demand, rel=1e-3)


# --- 17 and 18: the stations the analysis used, counted and drawn --------------------------------


async def test_map_draws_the_stations_the_analysis_used_and_greys_the_others(conn):
    await build_demo_city(conn)  # 27 active stations; every third has a restroom
    result, stations = await huaibei(conn, amenities=("restroom",))
    used = result.summary()["stations_used"]
    assert used == len(result.stations) == 9
    m = build_coverage_map(result, stations=stations, lang="zh")
    clusters = {c.layer_name: c for c in _layers(m, StationCluster)}
    assert set(clusters) == {"驿站（9）", "其他驿站（未计入分析：18）"}
    assert len(clusters["驿站（9）"].rows) == 9
    grey = clusters["其他驿站（未计入分析：18）"]
    assert (
        grey.callback.count("ls-unused") == 1 and "ls-unused" not in clusters["驿站（9）"].callback
    )
    html = m.get_root().render()
    assert ".ls-station.ls-unused { background: #9e9e9e" in html


async def test_stations_used_counts_only_stations_that_can_reach_the_region(conn):
    region = geo_region.bbox_region("116.78,33.94,116.82,33.98")
    inside = await create_station(conn, lat=33.96, lng=116.80)
    # 116.82 + 0.03° of longitude at 34° N is 2.8 km east of the box: within e-bike reach
    near = await create_station(conn, lat=33.96, lng=116.85)
    await create_station(conn, lat=33.96, lng=116.88)  # 5.5 km east: beyond every band
    await create_station(conn, lat=48.8566, lng=2.3522)  # Paris
    result = await analyse_coverage(
        conn, request=CoverageRequest(region=region, res=9, bands=bandmod.band_set())
    )
    assert result.summary()["stations_used"] == 2
    assert sorted(result.reaching_ids().tolist()) == sorted([inside["id"], near["id"]])


# --- 19: which bands are inside the service circle ------------------------------------------------


async def test_legend_says_which_bands_are_inside_the_target_circle(conn):
    await build_demo_city(conn)
    result, stations = await huaibei(conn)
    bands = result.bands
    assert bands.bands[-1].label("zh") == "远于电动车 15 分钟（≈3.8 公里）"
    assert bands.bands[-1].label("en") == "beyond 15 min by e-bike (≈3.8 km)"
    [overlay] = _layers(build_coverage_map(result, stations=stations, lang="zh"), Overlay)
    legend = overlay.panels[overlay.panels.index('class="ls-panel ls-legend"') :]
    inside_at = legend.index("服务圈内（目标：步行 15 分钟（≈1.1 公里））")
    outside_at = legend.index("服务圈外")
    labels = [b.label("zh") for b in bands.bands]
    for i, label in enumerate(labels):
        at = legend.index(html_escape(label))
        if i <= bands.target_index:
            assert inside_at < at < outside_at, label
        else:
            assert at > outside_at, label
    # band layers say it too
    names = [p.layer_name for p in _layers(build_coverage_map(result), EncodedPolygons)]
    assert any(n.startswith("电动车 15 分钟（≈3.8 公里） · 圈外") for n in names)
    assert any(n.startswith("≤ 300 米 · 圈内") for n in names)


def html_escape(text: str) -> str:
    import html

    return html.escape(text)


# --- 20: a minimum gain for site suggestions, shown on the map ----------------------------------


async def test_suggestions_stop_below_the_minimum_gain(conn):
    await build_demo_city(conn)
    result, _ = await huaibei(conn)
    unlimited = suggest_sites(result, n=40, min_gain=0)
    default = suggest_sites(result, n=40)
    threshold = 0.01 * result.total_demand
    assert default.min_gain == pytest.approx(threshold)
    assert [r["gain"] for r in default.rows] == [
        r["gain"] for r in unlimited.rows if r["gain"] >= threshold
    ]
    assert len(default.rows) < len(unlimited.rows)
    assert default.as_dict()["min_gain"] == pytest.approx(threshold)
    strict = suggest_sites(result, n=40, min_gain=default.rows[0]["gain"])
    assert len(strict.rows) == 1


async def test_each_suggested_site_shows_its_gain_on_the_map(conn):
    await build_demo_city(conn)
    result, stations = await huaibei(conn)
    suggestions = suggest_sites(result, n=3)
    m = build_coverage_map(result, stations=stations, suggestions=suggestions, lang="zh")
    [sites] = _layers(m, HtmlMarkers)
    for marker, row in zip(sites.rows, suggestions.rows, strict=True):
        gain = f"{row['gain']:,.1f}".rstrip("0").rstrip(".")
        assert marker[2] == (
            f'<div class="ls-site"><b>{row["rank"]}</b><span class="ls-gain">+{gain}</span></div>'
        )


# --- 21: large cell files as FlatGeobuf -----------------------------------------------------------


def test_report_writes_cells_as_flatgeobuf_beyond_the_geojson_limit(
    demo_city, cli_env, tmp_path, monkeypatch
):
    monkeypatch.setattr(coverage_cli, "GEOJSON_MAX_CELLS", 5_000)
    out = tmp_path / "report.html"
    result = cli_env.invoke(app, ["coverage", "report", "--city", "huaibei", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "report-cells.geojson").exists()
    cells = tmp_path / "report-cells.fgb"
    assert "cells as FlatGeobuf" in result.output and "more than 5,000" in result.output
    frame = pyogrio.read_dataframe(cells)
    assert len(frame) > 7000
    assert {"cell", "band", "band_label", "distance_m", "demand"} <= set(frame.columns)
    assert frame.crs.to_epsg() == 4326
    assert frame.geometry.geom_type.unique().tolist() == ["Polygon"]
    printed = float(re.search(r"demand ([\d,.]+)", result.output).group(1).replace(",", ""))
    assert frame["demand"].sum() == pytest.approx(printed, abs=0.1)
    small = tmp_path / "small.html"
    result = cli_env.invoke(
        app, ["coverage", "report", "--bbox", "116.79,33.94,116.81,33.96", "-o", str(small)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "small-cells.geojson").read_text())["features"]
