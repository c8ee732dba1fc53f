"""What a field audit of real files from other cities found (issue 15), as small fixtures."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stations.catalog import rules
from stations.errors import InvalidInput
from stations.importer import ROW_NUMBERING, import_file, import_frame
from tests.fixtures import FIXTURES_DIR
from tests.importer.test_import_formats import stations_of
from tests.importer.test_import_rules import run_cli, station

FIXTURES = FIXTURES_DIR / "import"


# --- placeholder positions near (0, 0), and positions at sea -------------------------------


async def test_positions_within_a_kilometre_of_zero_zero_are_placeholders(conn):
    report = await import_file(
        conn,
        FIXTURES / "amsterdam-near-zero.geojson",
        mapping=FIXTURES / "amsterdam-toilets.toml",
    )
    assert (report.read, report.created, report.rejected) == (5, 3, 2)
    assert [(p.row, p.field, p.code) for p in report.problems] == [
        (3, "position", "zero_position"),
        (4, "position", "zero_position"),
    ]
    assert report.problems[0].reason == (
        "is within 1 km of (0, 0), the usual placeholder for an unknown position; give the real one"
    )
    kept = {r["source_id"]: r for r in await stations_of(conn, "amsterdam-toilets")}
    assert sorted(kept) == ["toilet/1", "toilet/2", "toilet/5"]
    assert (kept["toilet/1"]["time_zone"], kept["toilet/1"]["country_code"]) == (
        "Europe/Amsterdam",
        "NL",
    )


async def test_a_position_just_over_a_kilometre_from_zero_zero_is_not_a_placeholder(conn):
    # 0.0091° of latitude is 1,006 m on the ellipsoid at the equator
    report = await import_frame(
        conn,
        pd.DataFrame([station(lat=0.0091, lng=0.0), station(source_id="s2", lat=0.0089, lng=0)]),
        source="test",
        actor="test",
        time_zone="Africa/Accra",
    )
    assert [(p.row, p.code) for p in report.problems] == [(2, "zero_position")]
    assert report.created == 1


def test_a_single_station_write_near_zero_zero_is_refused_too():
    fields = station(lat=0.000005, lng=-0.000007)
    del fields["source_id"]
    with pytest.raises(InvalidInput, match="within 1 km of"):
        rules.validate_station(fields)


async def test_a_position_at_sea_is_a_warning_that_keeps_the_row(conn, tmp_path):
    report_csv = tmp_path / "report.csv"
    report = await import_file(
        conn,
        FIXTURES / "amsterdam-near-zero.geojson",
        mapping=FIXTURES / "amsterdam-toilets.toml",
        report_csv=report_csv,
    )
    [warning] = report.warnings
    assert (warning.row, warning.field, warning.code) == (5, "position", "at_sea")
    assert warning.reason == (
        "lies at sea, in no country's time zone (more than about 22 km off any coast); "
        "the station was imported: check its coordinates, their order and the CRS"
    )
    assert warning.value == "54.600000, 3.200000"
    assert report.totals_by_code() == {"zero_position": 2}
    assert report.warning_totals_by_code() == {"at_sea": 1}
    assert report.rejected == 2  # a warning rejects nothing
    with report_csv.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [(r["row"], r["code"], r["severity"]) for r in rows] == [
        ("3", "zero_position", "rejected"),
        ("4", "zero_position", "rejected"),
        ("5", "at_sea", "warning"),
    ]


async def test_a_declared_country_is_named_in_the_at_sea_warning(conn):
    report = await import_frame(
        conn,
        pd.DataFrame([station(lat=33.0, lng=123.5)]),  # the East China Sea
        source="test",
        actor="test",
        country="CN",
    )
    [warning] = report.warnings
    assert warning.code == "at_sea"
    assert "far from the declared country CN" in warning.reason
    assert report.created == 1


async def test_the_cli_prints_warnings_with_their_code(conn, settings):
    result = run_cli(
        settings,
        "import",
        str(FIXTURES / "amsterdam-near-zero.geojson"),
        "--mapping",
        str(FIXTURES / "amsterdam-toilets.toml"),
    )
    assert result.returncode == 0, result.stderr
    assert "Warnings (first 1 of 1; the rows were imported)" in result.stdout
    assert "at_sea" in result.stdout
    assert "created 3" in result.stdout and "1 warning" in result.stdout


# --- whole numbers stay whole -----------------------------------------------------------------


async def test_integer_ids_and_values_with_a_null_stay_integers(conn, tmp_path):
    mapping = FIXTURES / "berlin-trinkbrunnen.toml"
    report = await import_file(conn, FIXTURES / "berlin-int-null.geojson", mapping=mapping)
    assert (report.created, report.rejected) == (4, 1)
    assert [(p.row, p.field, p.code) for p in report.problems] == [(3, "source_id (id)", "missing")]
    rows = {r["source_id"]: r for r in await stations_of(conn, "berlin-trinkbrunnen")}
    assert sorted(rows) == ["1", "2", "4", "5"]
    assert rows["1"]["attributes"] == {"historisches_baujahr": 1939}
    assert rows["4"]["attributes"] == {}
    # the same file without the row that has no id: the same stations, nothing changes
    data = json.loads((FIXTURES / "berlin-int-null.geojson").read_text(encoding="utf-8"))
    data["features"] = [f for f in data["features"] if f["properties"]["id"] is not None]
    again = tmp_path / "berlin.geojson"
    again.write_text(json.dumps(data), encoding="utf-8")
    report = await import_file(conn, again, mapping=mapping)
    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 4, 0)


async def test_a_parquet_integer_id_column_with_a_null_gives_ids_as_written(conn, tmp_path):
    path = tmp_path / "ids.parquet"
    pq.write_table(
        pa.table(
            {
                "source_id": pa.array([101, None, 103], pa.int64()),
                "name": ["甲驿站", "乙驿站", "丙驿站"],
                "kind": ["love_station"] * 3,
                "lat": [33.95, 33.96, 33.97],
                "lng": [116.79, 116.80, 116.81],
            }
        ),
        path,
    )
    report = await import_file(conn, path, source="ids")
    assert (report.created, report.rejected) == (2, 1)
    assert [r["source_id"] for r in await stations_of(conn, "ids")] == ["101", "103"]


async def test_an_integral_float_column_of_a_frame_is_read_without_a_fraction(conn):
    frame = pd.DataFrame([station(source_id=1.0), station(source_id=None, name="乙")])
    frame.loc[1, "lat"] = 33.96
    report = await import_frame(conn, frame, source="floats", actor="test")
    assert report.created == 1
    assert [r["source_id"] for r in await stations_of(conn, "floats")] == ["1"]


# --- "(lat, lng)" and "[lng, lat]" text positions ---------------------------------------------

MELBOURNE = [(-37.8183, 144.9671), (-37.8076, 144.9568), (-37.8145, 144.9798)]


async def test_lat_lng_text_in_parentheses_is_a_position(conn):
    report = await import_file(
        conn, FIXTURES / "melbourne-latlng.csv", mapping=FIXTURES / "melbourne-fountains.toml"
    )
    assert (report.created, report.rejected) == (3, 0)
    rows = await stations_of(conn, "melbourne-fountains")
    assert [(r["lat"], r["lng"]) for r in rows] == MELBOURNE
    assert rows[0]["time_zone"] == "Australia/Melbourne"


async def test_lng_lat_text_in_brackets_through_the_lnglat_key(conn, tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        (FIXTURES / "melbourne-fountains.toml")
        .read_text(encoding="utf-8")
        .replace('latlng = "coordinates"', 'lnglat = "geo"'),
        encoding="utf-8",
    )
    report = await import_file(conn, FIXTURES / "melbourne-latlng.csv", mapping=mapping)
    assert (report.created, report.rejected) == (3, 0)
    rows = await stations_of(conn, "melbourne-fountains")
    assert [(r["lat"], r["lng"]) for r in rows] == MELBOURNE


@pytest.mark.parametrize(
    "text", ["(-37.8183, 144.9671", "(-37.8183, 144.9671]", "((-37.8183, 144.9671))", "a, b"]
)
async def test_unbalanced_or_doubled_brackets_are_not_a_position(conn, text):
    frame = pd.DataFrame({"source_id": ["m1"], "name": ["x"], "kind": ["water_point"]})
    from stations.catalog.problems import Problems
    from stations.importer.mapping import split_latlng

    problems = Problems()
    lat, _ = split_latlng(pd.Series([text], index=frame.index + 1), "coordinates", problems)
    assert lat.isna().all()
    [problem] = problems.frame().itertuples()
    assert problem.code == "not_a_number"
    assert problem.reason == (
        "is not a 'lat, lng' pair; write e.g. '48.8566, 2.3522' or '(48.8566, 2.3522)'"
    )


# --- the CRS of a mapping and of --crs must agree ------------------------------------------------


async def test_crs_given_and_the_mapping_crs_disagreeing_is_refused(conn):
    mapping = FIXTURES / "gcj02-positions.toml"
    with pytest.raises(InvalidInput) as caught:
        await import_file(conn, FIXTURES / "gcj02.csv", mapping=mapping, crs="wgs84")
    assert caught.value.detail == (
        "crs: --crs wgs84 disagrees with the mapping gcj02-positions.toml, whose [position] "
        "crs is gcj02; drop --crs to use the mapping's, or correct the mapping"
    )
    assert await conn.fetchval("SELECT count(*) FROM stations") == 0
    # the same CRS named twice (or by its EPSG code) is no conflict
    report = await import_file(conn, FIXTURES / "gcj02.csv", mapping=mapping, crs="GCJ02")
    assert report.created == 3


async def test_the_cli_names_both_crs_when_they_disagree(conn, settings):
    result = run_cli(
        settings,
        "import",
        str(FIXTURES / "gcj02.csv"),
        "--mapping",
        str(FIXTURES / "gcj02-positions.toml"),
        "--crs",
        "wgs84",
    )
    assert result.returncode != 0
    assert "--crs wgs84 disagrees with the mapping gcj02-positions.toml" in result.stderr
    assert await conn.fetchval("SELECT count(*) FROM stations") == 0


# --- whitespace in text fields ---------------------------------------------------------------


async def test_line_breaks_and_runs_of_spaces_in_mapped_text_become_one_space(conn):
    report = await import_file(
        conn, FIXTURES / "linebreak-names.csv", mapping=FIXTURES / "linebreak-names.toml"
    )
    assert (report.created, report.rejected) == (2, 0)
    rows = await stations_of(conn, "hainan-companies")
    assert [(r["name"], r["address"]) for r in rows] == [
        ("三沙国海信通科技 发展有限公司", "海南省三沙市 永兴岛北京路"),
        ("海口 美兰区 环卫所", "海口市 美兰区 海甸岛"),
    ]


def test_a_single_station_write_collapses_whitespace_too():
    fields = station(name=" 相山公园\n爱心驿站 ", operator="淮北市\t\t总工会")
    del fields["source_id"]
    cleaned = rules.validate_station(fields)
    assert (cleaned["name"], cleaned["operator"]) == ("相山公园 爱心驿站", "淮北市 总工会")


# --- one row numbering ------------------------------------------------------------------------


async def test_station_reports_state_how_rows_are_numbered(conn):
    report = await import_frame(conn, pd.DataFrame([station()]), source="t", actor="t")
    assert report.row_numbering == ROW_NUMBERING
    assert ROW_NUMBERING == (
        "rows are numbered from 1 at the first record; a CSV header line is not counted"
    )


# --- control characters (issue 16) ------------------------------------------------------------


async def test_control_characters_in_cells_are_reported_per_row_not_a_crash(conn, tmp_path):
    rows = [
        station(source_id="ok", name="相山公园爱心驿站"),
        station(source_id="nul", name="人民路\x00驿站", lat=33.96),
        station(source_id="esc", name="东站驿站", address="\x1b[2J东站", lat=33.97),
        station(source_id="attr", name="北站驿站", attributes='{"note": "a\\u0000b"}', lat=33.98),
    ]
    report = await import_frame(conn, pd.DataFrame(rows), source="t", actor="t")
    assert (report.created, report.rejected) == (1, 3)
    found = sorted((p.row, p.field, p.code) for p in report.problems)
    assert found == [
        (2, "name", "control_character"),
        (3, "address", "control_character"),
        (4, "attributes", "bad_attributes"),
    ]
    assert [r["source_id"] for r in await stations_of(conn, "t")] == ["ok"]
