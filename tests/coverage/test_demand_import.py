"""Demand import: per-row checks, CRS conversion at the boundary, idempotent upserts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stations.coverage.demand import import_demand_frame, read_points_file
from stations.errors import InvalidInput
from stations.geo import crs as crsmod
from stations.geo import h3cells


def _frame(**cols):
    return pd.DataFrame(cols)


async def test_import_is_idempotent_and_updates_only_changed_rows(conn):
    frame = _frame(
        source_id=["a", "b", "c"],
        lat=[33.95, 33.96, 33.97],
        lng=[116.80, 116.81, 116.82],
        weight=[1, 2.5, None],
        activity=["order_pickup", "gps_ping", None],
    )
    first = await import_demand_frame(conn, frame, source="orders", actor="tester")
    assert (first.inserted, first.updated, first.unchanged, first.rejected) == (3, 0, 0, 0)
    again = await import_demand_frame(conn, frame, source="orders", actor="tester")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    frame.loc[1, "weight"] = 4.0
    changed = await import_demand_frame(conn, frame, source="orders", actor="tester")
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 2)
    rows = await conn.fetch("SELECT source_id, weight, activity FROM demand_points ORDER BY 1")
    assert [(r["source_id"], r["weight"], r["activity"]) for r in rows] == [
        ("a", 1.0, "order_pickup"),
        ("b", 4.0, "gps_ping"),
        ("c", 1.0, "unspecified"),
    ]
    # The same ids under another source are other points.
    other = await import_demand_frame(conn, frame, source="pings", actor="tester")
    assert other.inserted == 3
    assert await conn.fetchval("SELECT count(*) FROM demand_imports") == 4


async def test_bad_rows_are_reported_with_row_field_and_reason_and_skipped(conn):
    frame = _frame(
        source_id=["ok", "", "ok", "w", "far", "t"],
        lat=["33.9", "33.9", "33.9", "33.9", "95", "33.9"],
        lng=["116.8", "116.8", "116.8", "116.8", "116.8", "abc"],
        weight=["1", "1", "1", "-2", "1", "1"],
        observed_at=["2025-07-01 12:00", "", "", "", "", "yesterday"],
    )
    report = await import_demand_frame(conn, frame, source="orders", actor="tester")
    assert report.inserted == 1 and report.rejected == 5
    assert [(p.row, p.field) for p in report.problems] == [
        (2, "source_id"),
        (3, "source_id"),
        (4, "weight"),
        (5, "lat"),
        (6, "lng"),
        (6, "observed_at"),
    ]
    assert report.problems[1].reason == "repeats row 1"
    observed = await conn.fetchval("SELECT observed_at FROM demand_points")
    assert observed.utcoffset() is not None
    assert observed.isoformat().startswith("2025-07-01T04:00:00")  # read in Asia/Shanghai


async def test_gcj02_input_is_stored_as_wgs84_with_its_res11_cell(conn):
    wlat, wlng = 33.9556, 116.7983
    glat, glng = crsmod.wgs84_to_gcj02(np.array([wlat]), np.array([wlng]))
    frame = _frame(source_id=["g"], lat=glat, lng=glng)
    await import_demand_frame(conn, frame, source="amap", actor="tester", crs="gcj02")
    row = await conn.fetchrow(
        "SELECT ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng, h3_r11 FROM demand_points"
    )
    assert row["lat"] == pytest.approx(wlat, abs=1e-7)
    assert row["lng"] == pytest.approx(wlng, abs=1e-7)
    assert row["h3_r11"] == h3cells.cell_from_latlng(wlat, wlng, 11)


async def test_projected_input_uses_x_and_y_columns(conn):
    frame = _frame(source_id=["u"], x=[674_000.0], y=[3_758_000.0])
    await import_demand_frame(conn, frame, source="survey", actor="tester", crs="EPSG:32650")
    lat = await conn.fetchval("SELECT ST_Y(geom::geometry) FROM demand_points")
    assert 33.9 < lat < 34.0
    with pytest.raises(InvalidInput, match="columns: missing x, y"):
        await import_demand_frame(
            conn,
            _frame(source_id=["u"], lat=[1], lng=[1]),
            source="s",
            actor="t",
            crs="EPSG:32650",
        )


async def test_dry_run_reports_without_writing(conn):
    frame = _frame(source_id=["a", "b"], lat=[33.9, 33.91], lng=[116.8, 116.81])
    report = await import_demand_frame(conn, frame, source="orders", actor="t", dry_run=True)
    assert report.inserted == 2 and report.dry_run
    assert await conn.fetchval("SELECT count(*) FROM demand_points") == 0
    assert await conn.fetchval("SELECT count(*) FROM demand_imports") == 0


async def test_source_name_is_checked(conn):
    with pytest.raises(InvalidInput, match="source: 'Bad Source' must be"):
        await import_demand_frame(
            conn, _frame(source_id=["a"], lat=[1.0], lng=[1.0]), source="Bad Source", actor="t"
        )


def test_csv_reader_accepts_chinese_headers_and_gbk(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes("编号,纬度,经度,数量\nx1,33.95,116.80,2\n".encode("gb18030"))
    frame, parsed = read_points_file(path)
    assert parsed.is_wgs84
    assert list(frame.columns) == ["source_id", "lat", "lng", "weight"]
    assert frame.iloc[0].to_dict() == {
        "source_id": "x1",
        "lat": "33.95",
        "lng": "116.80",
        "weight": "2",
    }


def test_geojson_reader_takes_points_and_refuses_other_shapes(tmp_path):
    path = tmp_path / "pings.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"id":"p1","weight":3},"geometry":{"type":"Point","coordinates":[116.8,33.95]}}]}'
    )
    frame, parsed = read_points_file(path, crs="gcj02")
    assert parsed.name == "gcj02"
    assert frame.loc[0, "source_id"] == "p1"
    assert (frame.loc[0, "lat"], frame.loc[0, "lng"]) == (33.95, 116.8)
    bad = tmp_path / "line.geojson"
    bad.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        '"geometry":{"type":"LineString","coordinates":[[116.8,33.95],[116.9,33.9]]}}]}'
    )
    with pytest.raises(InvalidInput, match="must hold points only"):
        read_points_file(bad)
