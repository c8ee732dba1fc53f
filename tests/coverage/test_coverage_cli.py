"""``stations coverage report`` and ``stations demand import`` as a planner runs them."""

from __future__ import annotations

import csv
import json

import pytest

from stations.cli import app


def test_report_writes_map_gap_table_and_cells(demo_city, cli_env, tmp_path):
    out = tmp_path / "huaibei" / "report.html"
    result = cli_env.invoke(
        app, ["coverage", "report", "--city", "huaibei", "--suggest", "3", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "步行 15 分钟（≈1.1 公里）:" in result.output and "site #3" in result.output
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<script src=" not in html
    with (tmp_path / "huaibei" / "report-gaps.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert rows and rows[0]["rank"] == "1"
    demand = [float(r["uncovered_demand"]) for r in rows]
    assert demand == sorted(demand, reverse=True)
    cells = json.loads((tmp_path / "huaibei" / "report-cells.geojson").read_text())
    assert len(cells["features"]) > 7000
    assert sum(f["properties"]["demand"] for f in cells["features"]) == pytest.approx(
        sum(float(r["uncovered_demand"]) for r in rows)
        + sum(
            f["properties"]["demand"]
            for f in cells["features"]
            if f["properties"]["band"] in {"m300", "m500", "m1000", "walk_15min"}
        )
    )


def test_report_refuses_two_regions_with_a_clear_message(cli_env):
    result = cli_env.invoke(
        app, ["coverage", "report", "--city", "huaibei", "--bbox", "116.7,33.8,116.9,34.0"]
    )
    assert result.exit_code != 0
    assert "give exactly one of bbox, polygon, district or city" in str(result.exception)


def test_demand_import_reads_a_csv_and_reports_bad_rows(demo_city, cli_env, tmp_path):
    path = tmp_path / "pickups.csv"
    path.write_text(
        "source_id,lat,lng,weight\nx1,33.95,116.80,2\nx2,33.96,116.81,\nx3,95,116.8,1\n",
        encoding="utf-8",
    )
    result = cli_env.invoke(app, ["demand", "import", str(path), "--source", "pickups"])
    assert result.exit_code == 0, result.output
    assert "3 rows, 2 new, 0 updated, 0 unchanged, 1 rejected" in result.output
    assert "row 3: lat is outside -90..90" in result.output
    again = cli_env.invoke(app, ["demand", "import", str(path), "--source", "pickups"])
    assert "0 new, 0 updated, 2 unchanged" in again.output
