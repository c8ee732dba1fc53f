"""Every file format and text encoding the importer reads lands the right stations."""

from __future__ import annotations

from importlib.resources import files

import pytest
from pyproj import Geod

from stations.errors import InvalidInput
from stations.importer import import_file
from stations.importer.mapping import bundled_mappings, load_mapping
from tests.fixtures import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "import"
MAPPINGS = files("stations.importer") / "mappings"
GEOD = Geod(ellps="WGS84")
HUAIBEI_NAMES = [
    "相山公园爱心驿站",
    "淮北站户外劳动者服务站",
    "濉溪县环卫工人驿站",
    "杜集区邮政爱心驿站",
]


def metres(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    return float(GEOD.inv(lng1, lat1, lng2, lat2)[2])


async def stations_of(conn, source: str) -> list:
    return await conn.fetch(
        "SELECT *, ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng FROM stations "
        "WHERE source = $1 ORDER BY source_id",
        source,
    )


async def test_paris_csv_with_bom_and_semicolons_imports_through_its_mapping(conn):
    report = await import_file(conn, FIXTURES / "paris-fontaines.csv", mapping="paris-fontaines")
    assert (report.read, report.created, report.rejected) == (7, 5, 2)
    assert [(p.row, p.code) for p in report.problems] == [
        (6, "near_duplicate"),
        (7, "not_a_number"),
    ]
    rows = {r["source_id"]: r for r in await stations_of(conn, "paris-fontaines")}
    first = rows["450024929"]
    assert first["name"] == "Fontaine 59 RUE SAINT CHARLES"
    assert first["address"] == "59 RUE SAINT CHARLES, PARIS 15EME ARRONDISSEMENT"
    assert first["kind"] == "water_point" and first["amenities"] == ["drinking_water"]
    assert (first["time_zone"], first["country_code"]) == ("Europe/Paris", "FR")
    assert first["original_position"] == {
        "crs": "wgs84",
        "lat": 48.84889970875004,
        "lng": 2.287589053637282,
    }
    assert (first["lat"], first["lng"]) == (48.84889970875004, 2.287589053637282)
    closed = rows["450085138"]
    assert closed["status"] == "temporarily_closed"
    assert closed["attributes"]["Motif Indisponibilité"] == "FERMETURE HIVERNALE"


async def test_gbk_csv_is_detected_and_read_as_chinese(conn):
    report = await import_file(conn, FIXTURES / "huaibei-gbk.csv", source="huaibei")
    assert (report.read, report.created, report.rejected) == (4, 4, 0)
    assert "read as gb18030 text" in report.notes
    rows = await stations_of(conn, "huaibei")
    assert [r["name"] for r in rows] == HUAIBEI_NAMES
    assert rows[0]["operator"] == "淮北市总工会"
    assert rows[1]["opening_hours"] == "Mo-Fr 08:30-18:00; PH off"
    assert rows[3]["opening_hours"] is None  # empty cell: hours not known


async def test_forced_encoding_wins_over_detection(conn):
    report = await import_file(
        conn, FIXTURES / "huaibei-gbk.csv", source="huaibei", encoding="gbk", dry_run=True
    )
    assert report.created == 4 and report.rejected == 0


async def test_utf8_tab_separated_file_without_bom(conn):
    report = await import_file(conn, FIXTURES / "huaibei-utf8.tsv", format="csv", source="hb")
    assert (report.created, report.rejected) == (4, 0)
    assert [r["name"] for r in await stations_of(conn, "hb")] == HUAIBEI_NAMES


async def test_wkt_column_gives_the_position(conn):
    report = await import_file(conn, FIXTURES / "huaibei-wkt.csv", source="hb")
    assert report.created == 3
    [problem] = report.problems
    assert (problem.row, problem.field, problem.code) == (4, "geometry (WKT)", "bad_geometry")
    assert problem.reason == "is not WKT; write e.g. 'POINT (2.3522 48.8566)' (lng lat)"
    first = (await stations_of(conn, "hb"))[0]
    assert (first["lat"], first["lng"]) == (33.9556, 116.7983)


async def test_lat_lng_text_column_through_a_mapping(conn, tmp_path):
    mapping = tmp_path / "latlng.toml"
    mapping.write_text(
        'source = "hb"\n[constants]\nkind = "love_station"\n[position]\nlatlng = "位置"\n',
        encoding="utf-8",
    )
    report = await import_file(conn, FIXTURES / "huaibei-latlng.csv", mapping=mapping)
    assert (report.created, report.rejected) == (4, 0)
    rows = await stations_of(conn, "hb")
    assert [(r["lat"], r["lng"]) for r in rows][2] == (33.9163, 116.7667)
    # columns already named like catalog fields come along without being mapped
    assert rows[0]["amenities"] == ["drinking_water", "seating", "phone_charging"]


async def test_osm_geojson_reports_bad_hours_private_access_and_bad_geometry(conn):
    report = await import_file(conn, FIXTURES / "osm-toilets.geojson", mapping="osm-toilets")
    assert (report.read, report.created, report.rejected) == (6, 2, 4)
    assert "no record has name, toilets:handwashing: read as empty" in report.notes
    assert [(p.row, p.field, p.code) for p in report.problems] == [
        (2, "opening_hours", "bad_opening_hours"),
        (3, "access", "not_allowed"),
        (5, "geometry", "missing_coordinate"),
        (6, "geometry", "not_a_point"),
    ]
    assert report.problems[3].reason == "is a LineString, not a point; a station is one position"
    rows = {r["source_id"]: r for r in await stations_of(conn, "osm-toilets")}
    jcdecaux = rows["node/266632074"]
    assert jcdecaux["kind"] == "love_station"
    assert jcdecaux["amenities"] == ["drinking_water", "restroom", "accessible"]
    assert jcdecaux["name"] == "Toilettes publiques" and jcdecaux["operator"] == "JCDecaux"
    assert rows["node/1470719143"]["access"] == "customers_only"


async def test_montreal_json_array_in_mtm8_keeps_the_projected_original(conn):
    report = await import_file(
        conn,
        FIXTURES / "montreal-fontaines.json",
        format="json",
        mapping=MAPPINGS / "montreal-fontaines.toml",
    )
    assert (report.read, report.created, report.rejected) == (4, 3, 1)
    assert [(p.row, p.code) for p in report.problems] == [(4, "near_duplicate")]
    assert report.problems[0].reason.startswith("is 0.0 m from row 3, which has the same name")
    first = (await stations_of(conn, "montreal-fontaines"))[0]
    assert first["name"] == "Fontaine Delorme – Bocce"
    assert first["original_position"] == {"crs": "EPSG:32188", "x": 297819.89, "y": 5050237.94}
    # the city publishes lat/lng next to X/Y: the conversion lands on them
    assert metres(first["lat"], first["lng"], 45.59201175, -73.58946238) < 0.5
    assert (first["time_zone"], first["country_code"]) == ("America/Toronto", "CA")


@pytest.mark.parametrize("name", ["huaibei.gpkg", "huaibei.parquet"])
async def test_geopackage_and_geoparquet(conn, name):
    report = await import_file(conn, FIXTURES / name, source="hb")
    assert (report.created, report.rejected) == (4, 0)
    rows = await stations_of(conn, "hb")
    assert [r["name"] for r in rows] == HUAIBEI_NAMES
    assert rows[0]["amenities"] == ["drinking_water", "seating", "phone_charging"]
    assert (rows[0]["lat"], rows[0]["lng"]) == (33.9556, 116.7983)


async def test_projected_shapefile_with_gbk_attributes_and_cut_field_names(conn, tmp_path):
    mapping = tmp_path / "shp.toml"
    mapping.write_text(
        'source = "hb"\n[columns]\nsource_id = "source_id"\nname = "name"\nkind = "kind"\n'
        'amenities = "amenities"\nopening_ho = "opening_hours"\n',
        encoding="utf-8",
    )
    report = await import_file(conn, FIXTURES / "huaibei-utm50.shp", mapping=mapping)
    assert (report.created, report.rejected) == (4, 0)
    rows = await stations_of(conn, "hb")
    assert [r["name"] for r in rows] == HUAIBEI_NAMES
    assert rows[1]["opening_hours"] == "Mo-Fr 08:30-18:00; PH off"
    assert rows[0]["original_position"]["crs"] == "EPSG:32650"  # the file's own CRS
    assert metres(rows[0]["lat"], rows[0]["lng"], 33.9556, 116.7983) < 0.01


async def test_rows_with_a_wrong_number_of_fields_keep_their_row_numbers(conn):
    report = await import_file(conn, FIXTURES / "huaibei-ragged.csv", source="hb")
    assert (report.read, report.created, report.rejected) == (4, 3, 1)
    [problem] = report.problems
    assert (problem.row, problem.field, problem.code) == (2, "row", "wrong_field_count")
    assert problem.reason == (
        "has 8 fields; the header has 9 (a missing or extra delimiter, or an unclosed quote)"
    )


def test_a_mapping_is_a_path_or_the_name_of_a_bundled_one(tmp_path, monkeypatch):
    assert bundled_mappings() == [
        "montreal-fontaines",
        "osm-drinking-water",
        "osm-toilets",
        "paris-fontaines",
    ]
    by_name = load_mapping("paris-fontaines")
    assert (by_name.source, by_name.name) == ("paris-fontaines", "paris-fontaines.toml")
    assert load_mapping("paris-fontaines.toml") == by_name
    assert load_mapping(MAPPINGS / "paris-fontaines.toml") == by_name
    # A file that exists at the given path wins over a bundled mapping of that name.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "paris-fontaines.toml").write_text('source = "my-fountains"\n', encoding="utf-8")
    assert load_mapping("paris-fontaines.toml").source == "my-fountains"
    with pytest.raises(InvalidInput) as unknown:
        load_mapping("lyon-fontaines")
    assert unknown.value.detail == (
        "mapping lyon-fontaines: no such file, and no bundled mapping of that name; "
        "bundled: montreal-fontaines, osm-drinking-water, osm-toilets, paris-fontaines"
    )
    with pytest.raises(InvalidInput, match=r"mapping x\.toml: cannot read it"):
        load_mapping(tmp_path / "nowhere" / "x.toml")
