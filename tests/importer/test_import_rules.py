"""Every reason a row is refused, with its exact message, and the per-row report."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import shapely

from stations.catalog import rules
from stations.geo.region import region_from_text
from stations.importer import import_file, import_frame
from tests.factories import create_station

HUAIBEI = (33.9556, 116.7983)
AMENITY_LIST = ", ".join(rules.AMENITY_NAMES)


def station(**overrides) -> dict:
    row = {
        "source_id": "s1",
        "name": "相山公园爱心驿站",
        "kind": "love_station",
        "lat": HUAIBEI[0],
        "lng": HUAIBEI[1],
    }
    row.update(overrides)
    return row


async def one_problem(conn, **overrides):
    report = await import_frame(
        conn, pd.DataFrame([station(**overrides)]), source="test", actor="test"
    )
    assert report.created == 0 and report.rejected == 1
    [problem] = report.problems
    return problem


@pytest.mark.parametrize(
    ("overrides", "field", "code", "reason"),
    [
        ({"lat": None}, "lat", "missing_coordinate", "is missing"),
        ({"lng": "116,7983x"}, "lng", "not_a_number", "is not a number"),
        (
            {"lat": 116.7983, "lng": 33.9556},  # swapped
            "lat",
            "out_of_range",
            "is outside -90..90; check that lat and lng are not swapped",
        ),
        (
            {"lat": 0, "lng": 0},
            "position",
            "zero_position",
            "is within 1 km of (0, 0), the usual placeholder for an unknown position; "
            "give the real one",
        ),
        ({"name": "  "}, "name", "missing", "is missing; every station needs a name"),
        ({"name": "驿" * 201}, "name", "too_long", "is longer than 200 characters; shorten it"),
        (
            {"kind": "kiosk"},
            "kind",
            "not_allowed",
            "'kiosk' is not a station kind; use one of love_station, water_point",
        ),
        (
            {"status": "open"},
            "status",
            "not_allowed",
            "'open' is not a station status; use one of active, temporarily_closed, closed",
        ),
        (
            {"access": "public"},
            "access",
            "not_allowed",
            "'public' is not an access rule; use one of open_to_all, members_only, "
            "customers_only, key_or_app",
        ),
        (
            {"amenities": "drinking_water;sauna;karaoke"},
            "amenities",
            "unknown_amenity",
            f"'karaoke', 'sauna' are not known amenities; use names from: {AMENITY_LIST}",
        ),
        (
            {"time_zone": "Beijing"},
            "time_zone",
            "bad_time_zone",
            "'Beijing' is not an IANA time zone; use a name like 'Asia/Shanghai'",
        ),
        (
            {"country_code": "China"},
            "country_code",
            "bad_country_code",
            "'China' is not a two-letter ISO 3166 country code; write e.g. CN or FR",
        ),
        (
            {"verified_at": "31/12/2024"},
            "verified_at",
            "bad_timestamp",
            "'31/12/2024' is not a date and time; write ISO 8601, e.g. 2025-06-01T09:00:00+08:00",
        ),
        (
            {"source_id": "x" * 201},
            "source_id",
            "too_long",
            "is longer than 200 characters; shorten it",
        ),
    ],
)
async def test_each_bad_value_is_refused_with_its_reason(conn, overrides, field, code, reason):
    problem = await one_problem(conn, **overrides)
    assert (problem.row, problem.field, problem.code, problem.reason) == (1, field, code, reason)
    assert await conn.fetchval("SELECT count(*) FROM stations") == 0


async def test_malformed_opening_hours_are_refused_with_where_the_parser_stopped(conn):
    problem = await one_problem(conn, opening_hours="Mo-Fr 9:00-18:00 foo")
    assert (problem.field, problem.code) == ("opening_hours", "bad_opening_hours")
    assert problem.reason == (
        "'Mo-Fr 9:00-18:00 foo' is not valid OpenStreetMap opening_hours at character 18 "
        "(the parser expected EOI, any_rule_separator, or rules_modifier); write it like "
        "'Mo-Fr 08:30-18:00; Sa 09:00-12:00' or '24/7'"
    )


async def test_a_line_geometry_is_not_a_station(conn):
    frame = pd.DataFrame(
        {
            "source_id": ["l1"],
            "name": ["驿站"],
            "kind": ["water_point"],
            "geometry": [shapely.LineString([(116.79, 33.95), (116.80, 33.95)])],
        }
    )
    report = await import_frame(conn, frame, source="test", actor="test")
    [problem] = report.problems
    assert (problem.field, problem.code) == ("geometry", "not_a_point")


async def test_rows_outside_the_declared_region_are_refused(conn):
    region = region_from_text("116.6,33.8,117.0,34.1")
    frame = pd.DataFrame(
        [station(), station(source_id="s2", name="上海驿站", lat=31.23, lng=121.47)]
    )
    report = await import_frame(conn, frame, source="test", actor="test", region=region)
    assert (report.created, report.rejected) == (1, 1)
    [problem] = report.problems
    assert (problem.row, problem.field, problem.code) == (2, "position", "outside_region")
    assert problem.reason == "is outside the declared region 116.6,33.8,117,34.1"
    assert problem.value == "31.230000, 121.470000"


async def test_repeated_source_ids_keep_the_first_row(conn):
    frame = pd.DataFrame(
        [
            station(),
            station(source_id="s2", name="淮北站驿站", lat=33.93),
            station(name="另一个驿站", lat=33.99),
        ]
    )
    report = await import_frame(conn, frame, source="test", actor="test")
    assert (report.created, report.rejected) == (2, 1)
    [problem] = report.problems
    assert (problem.row, problem.field, problem.code, problem.value) == (
        3,
        "source_id",
        "duplicate_source_id",
        "s1",
    )
    assert problem.reason == "repeats the source id of row 1; the first row wins"
    assert await conn.fetchval("SELECT name FROM stations WHERE source_id = 's1'") == (
        "相山公园爱心驿站"
    )


async def test_same_name_a_few_metres_away_in_the_file_is_a_near_duplicate(conn):
    frame = pd.DataFrame(
        [
            station(),
            station(source_id="s2", name="相山公园 爱心驿站", lat=HUAIBEI[0] + 0.00002),  # ~2.2 m
            station(source_id="s3", name="另一个驿站", lat=HUAIBEI[0] + 0.00002),  # other name
            station(source_id="s4", name="相山公园爱心驿站", lat=HUAIBEI[0] + 0.0001),  # ~11 m
        ]
    )
    report = await import_frame(conn, frame, source="test", actor="test")
    assert (report.created, report.rejected) == (3, 1)
    [problem] = report.problems
    assert (problem.row, problem.field, problem.code) == (2, "position", "near_duplicate")
    assert problem.reason == (
        "is 2.2 m from row 1, which has the same name (near-duplicates are within 5 m); "
        "fix the position or drop one of them"
    )


async def test_same_name_next_to_a_station_of_another_source_is_a_near_duplicate(conn):
    existing = await create_station(
        conn, name="相山公园爱心驿站", lat=HUAIBEI[0], lng=HUAIBEI[1], source="union"
    )
    frame = pd.DataFrame([station(lng=HUAIBEI[1] + 0.00003)])  # ~2.8 m east
    report = await import_frame(conn, frame, source="test", actor="test")
    [problem] = report.problems
    assert problem.code == "near_duplicate"
    assert problem.reason.startswith(
        f"is 2.8 m from station {existing['code']} (union/{existing['source_id']}), "
        "which has the same name"
    )


async def test_reimporting_a_station_is_not_a_near_duplicate_of_itself(conn):
    frame = pd.DataFrame([station()])
    await import_frame(conn, frame, source="test", actor="test")
    report = await import_frame(conn, frame, source="test", actor="test")
    assert (report.unchanged, report.rejected) == (1, 0)


async def test_rows_of_another_source_in_an_export_are_refused(conn, tmp_path):
    path = tmp_path / "export.csv"
    pd.DataFrame(
        [{**station(), "source": "union"}, {**station(source_id="s2"), "source": "osm"}]
    ).to_csv(path, index=False)
    report = await import_file(conn, path, source="union")
    assert (report.created, report.rejected) == (1, 1)
    [problem] = report.problems
    assert (problem.row, problem.field, problem.code, problem.value) == (
        2,
        "source",
        "other_source",
        "osm",
    )


async def test_report_csv_lists_every_problem_with_row_field_reason_and_value(conn, tmp_path):
    frame = pd.DataFrame(
        [
            station(),
            station(source_id="s2", kind="kiosk", amenities="sauna"),
            station(source_id="s3", lat="x"),
        ]
    )
    report = await import_frame(conn, frame, source="test", actor="test")
    path = tmp_path / "problems.csv"
    report.write_problems_csv(path)
    with path.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [(r["row"], r["field"], r["code"], r["value"]) for r in rows] == [
        ("2", "kind", "not_allowed", "kiosk"),
        ("2", "amenities", "unknown_amenity", "sauna"),
        ("3", "lat", "not_a_number", "x"),
    ]
    assert (
        rows[0]["reason"] == "'kiosk' is not a station kind; use one of love_station, water_point"
    )
    assert report.totals_by_code() == {"not_allowed": 1, "unknown_amenity": 1, "not_a_number": 1}


def run_cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, STATIONS_DB_NAME=settings.db.name, COLUMNS="200")
    return subprocess.run(
        [str(Path(sys.executable).parent / "stations"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


async def test_cli_prints_the_report_writes_the_csv_and_fails_only_when_nothing_imports(
    conn, settings, tmp_path
):
    good = tmp_path / "stations.csv"
    pd.DataFrame([station(), station(source_id="s2", kind="kiosk")]).to_csv(good, index=False)
    problems = tmp_path / "problems.csv"
    result = run_cli(settings, "import", str(good), "--source", "cli", "--report", str(problems))
    assert result.returncode == 0, result.stderr
    assert "'kiosk' is not a station kind" in result.stdout
    assert "source cli: 2 rows read; created 1, updated 0, unchanged 0, rejected 1" in result.stdout
    assert problems.read_text(encoding="utf-8-sig").count("\n") == 2
    bad = tmp_path / "bad.csv"
    pd.DataFrame([station(kind="kiosk")]).to_csv(bad, index=False)
    result = run_cli(settings, "import", str(bad), "--source", "cli")
    assert result.returncode == 1
    assert "nothing could be imported" in result.stderr
    missing = run_cli(settings, "import", str(tmp_path / "nope.csv"))
    assert missing.returncode == 1 and "no such file" in missing.stderr
