"""Exports in every format, filtered by box and source, and importing them back is a no-op."""

from __future__ import annotations

import re
import subprocess

import geopandas
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyproj import Geod

from stations.catalog.export import export_stations
from stations.errors import InvalidInput
from stations.geo import crs as crsmod
from stations.importer import import_frame

GEOD = Geod(ellps="WGS84")

STATIONS = pd.DataFrame(
    {
        "source_id": ["HB-001", "HB-002", "SH-001"],
        "name": ["相山公园爱心驿站", "淮北站户外劳动者服务站", "上海张江爱心驿站"],
        "kind": ["love_station", "love_station", "water_point"],
        "amenities": ["drinking_water;seating", "", "drinking_water"],
        "opening_hours": ["24/7", "Mo-Fr 08:30-18:00; PH off", None],
        "address": ["相山区人民路1号", None, "张江路100号"],
        "verified_at": ["2025-06-01T09:30:00.123456+08:00", None, "2025-05-20"],
        "attributes": ['{"note": "靠近公交站", "floors": 2}', None, None],
        "lat": [33.9556, 33.9347, 31.1774276],
        "lng": [116.7983, 116.8194, 121.5272106],
    }
)


def by_source_id(features: list[dict]) -> dict[str, dict]:
    return {f["properties"]["source_id"]: f for f in features}


async def load(conn) -> None:
    report = await import_frame(conn, STATIONS, source="union", actor="admin")
    assert report.created == 3
    other = STATIONS.iloc[:1].assign(source_id="X-1", name="别的来源驿站", lat=33.99)
    await import_frame(conn, other, source="other", actor="admin")


async def test_geojson_is_rfc7946_lng_lat_without_crs_member(conn, tmp_path):
    await load(conn)
    path = tmp_path / "stations.geojson"
    count = await export_stations(conn, path, format="geojson", source="union")
    data = orjson.loads(path.read_bytes())
    assert count == 3 and data["type"] == "FeatureCollection"
    assert "crs" not in data and "coordinates_crs" not in data
    first = by_source_id(data["features"])["HB-001"]
    assert first["geometry"] == {"type": "Point", "coordinates": [116.7983, 33.9556]}
    properties = first["properties"]
    assert (properties["source"], properties["source_id"]) == ("union", "HB-001")
    assert properties["amenities"] == ["drinking_water", "seating"]
    assert properties["attributes"] == {"note": "靠近公交站", "floors": 2}
    assert properties["verified_at"] == "2025-06-01T01:30:00.123456+00:00"
    assert first["id"] == properties["code"]


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
async def test_geojson_in_a_chinese_datum_is_refused_pointing_to_geopackage_or_csv(
    conn, tmp_path, crs
):
    await load(conn)
    path = tmp_path / "gcj.geojson"
    with pytest.raises(InvalidInput) as caught:
        await export_stations(conn, path, crs=crs, source="union")
    assert caught.value.detail == (
        f"crs: GeoJSON cannot say that its coordinates are {crs}: it has no EPSG code, so "
        "GDAL, QGIS and every other reader would take them for WGS84 and put each station "
        "hundreds of metres off; export GeoPackage or CSV (their crs column says "
        f"{crs}), or GeoJSON in WGS84"
    )
    assert not path.exists()


def ogr(*args: str) -> str:
    """What GDAL's own command-line tools (Debian's gdal-bin) say about a file."""
    result = subprocess.run(args, capture_output=True, text=True, check=True)
    return result.stdout


async def test_geojson_in_an_epsg_crs_carries_a_crs_member_gdal_honours(conn, tmp_path):
    await load(conn)
    path = tmp_path / "utm.geojson"
    await export_stations(conn, path, crs="EPSG:32650", source="union")
    data = orjson.loads(path.read_bytes())
    assert data["crs"] == {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32650"}}
    assert 'ID["EPSG",32650]' in ogr("ogrinfo", "-so", "-al", str(path))
    # GDAL takes the coordinates back to WGS84 where the stations are
    back = tmp_path / "back.geojson"
    ogr("ogr2ogr", "-f", "GeoJSON", "-t_srs", "EPSG:4326", str(back), str(path))
    features = by_source_id(orjson.loads(back.read_bytes())["features"])
    lng, lat = features["HB-001"]["geometry"]["coordinates"]
    assert GEOD.inv(lng, lat, 116.7983, 33.9556)[2] < 0.01


def field_types(ogrinfo_text: str) -> dict[str, str]:
    """``name: Type (width)`` lines of ``ogrinfo -so`` as {name: Type}."""
    found = re.findall(r"^(\w+): (\w+) \(", ogrinfo_text, flags=re.MULTILINE)
    return dict(found)


async def test_gdal_reads_times_as_datetimes_and_lists_as_lists(conn, tmp_path):
    await load(conn)
    gpkg, geojson = tmp_path / "s.gpkg", tmp_path / "s.geojson"
    await export_stations(conn, gpkg, source="union")
    await export_stations(conn, geojson, source="union")
    types = field_types(ogr("ogrinfo", "-so", "-al", str(gpkg)))
    assert (types["verified_at"], types["amenities"], types["name_en"]) == (
        "DateTime",
        "String",  # GeoPackage has no lists: ';'-joined
        "String",
    )
    assert "verified_at (DateTime) = 2025/06/01 01:30:00.123+00" in ogr(
        "ogrinfo", "-al", "-where", "source_id = 'HB-001'", str(gpkg)
    )
    types = field_types(ogr("ogrinfo", "-so", "-al", str(geojson)))
    assert (types["verified_at"], types["amenities"], types["name_en"]) == (
        "DateTime",
        "StringList",
        "String",
    )


async def test_geoparquet_has_timestamps_lists_and_strings_even_when_empty(conn, tmp_path):
    await load(conn)
    path = tmp_path / "s.parquet"
    await export_stations(conn, path, source="union")
    schema = pq.read_schema(path)
    assert schema.field("verified_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("amenities").type in (pa.list_(pa.string()), pa.list_(pa.large_string()))
    assert schema.field("name_en").type in (pa.string(), pa.large_string())  # every value empty
    frame = geopandas.read_parquet(path).set_index("source_id")
    assert frame.loc["HB-001", "verified_at"] == pd.Timestamp("2025-06-01T01:30:00.123456Z")
    assert list(frame.loc["HB-001", "amenities"]) == ["drinking_water", "seating"]


async def test_csv_has_a_crs_column_and_projected_positions_as_x_y(conn, tmp_path):
    await load(conn)
    path = tmp_path / "stations.csv"
    await export_stations(conn, path, format="csv", crs="EPSG:32650", source="union")
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str).sort_values("source_id")
    frame = frame.reset_index(drop=True)
    assert list(frame.columns[-3:]) == ["x", "y", "crs"]
    assert set(frame["crs"]) == {"EPSG:32650"}
    assert frame.loc[0, "amenities"] == "drinking_water;seating"
    x, y = crsmod.from_wgs84(33.9556, 116.7983, crsmod.parse_crs("EPSG:32650"))
    assert float(frame.loc[0, "x"]) == pytest.approx(float(x))
    assert float(frame.loc[0, "y"]) == pytest.approx(float(y))


@pytest.mark.parametrize(("fmt", "epsg"), [("gpkg", 4326), ("parquet", 4326)])
async def test_geopackage_and_geoparquet_carry_their_crs(conn, tmp_path, fmt, epsg):
    await load(conn)
    path = tmp_path / f"stations.{fmt}"
    count = await export_stations(conn, path, format=fmt)
    frame = geopandas.read_parquet(path) if fmt == "parquet" else geopandas.read_file(path)
    assert count == len(frame) == 4
    assert frame.crs.to_epsg() == epsg
    first = frame.set_index("source_id").loc["HB-001"]
    assert (first.geometry.x, first.geometry.y) == (116.7983, 33.9556)
    assert first["source"] == "union" and first["crs"] == "wgs84"


async def test_bbox_and_source_filter_what_is_exported(conn, tmp_path):
    await load(conn)
    path = tmp_path / "box.csv"
    count = await export_stations(conn, path, format="csv", bbox="116.7,33.9,116.9,34.0")
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    assert count == 3
    assert sorted(frame["source_id"]) == ["HB-001", "HB-002", "X-1"]
    count = await export_stations(
        conn, path, format="csv", bbox="116.7,33.9,116.9,34.0", source="union"
    )
    assert count == 2


@pytest.mark.parametrize(
    ("fmt", "crs"),
    [
        ("geojson", "wgs84"),
        ("geojson", "EPSG:32650"),
        ("csv", "wgs84"),
        ("csv", "gcj02"),
        ("csv", "bd09"),
        ("csv", "EPSG:32650"),
        ("gpkg", "wgs84"),
        ("gpkg", "gcj02"),
        ("parquet", "wgs84"),
        ("parquet", "bd09"),
    ],
)
async def test_export_then_import_changes_nothing(conn, tmp_path, fmt, crs):
    from stations.importer import import_file

    await load(conn)
    before = await conn.fetch("SELECT * FROM stations ORDER BY id")
    history = await conn.fetchval("SELECT count(*) FROM station_history")
    path = tmp_path / f"stations.{fmt}"
    await export_stations(conn, path, format=fmt, crs=crs, source="union")
    report = await import_file(conn, path)
    assert (report.source, report.read, report.rejected) == ("union", 3, 0)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert await conn.fetch("SELECT * FROM stations ORDER BY id") == before
    assert await conn.fetchval("SELECT count(*) FROM station_history") == history


async def test_an_edited_export_updates_only_the_edited_station(conn, tmp_path):
    from stations.importer import import_file

    await load(conn)
    path = tmp_path / "stations.csv"
    await export_stations(conn, path, format="csv", crs="gcj02", source="union")
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    frame.loc[frame["source_id"] == "HB-002", "opening_hours"] = "24/7"
    frame.to_csv(path, index=False)
    report = await import_file(conn, path)
    assert (report.updated, report.unchanged) == (1, 2)
    changed = await conn.fetchrow("SELECT new_values FROM station_history WHERE action = 'update'")
    assert changed["new_values"] == {"opening_hours": "24/7"}


def test_gcj02_export_round_trip_is_far_below_the_unchanged_tolerance():
    lat, lng = 33.9556, 116.7983
    gcj = crsmod.parse_crs("gcj02")
    back = crsmod.point_to_wgs84(*crsmod.point_from_wgs84(lat, lng, gcj), gcj)
    assert GEOD.inv(lng, lat, back[1], back[0])[2] < 0.001


FORMULA_NAMES = pd.DataFrame(
    {
        "source_id": ["-17", "F-2", "F-3"],
        "name": ['=HYPERLINK("http://example.invalid","领水")', "+86 驿站", "普通驿站"],
        "kind": ["love_station"] * 3,
        "address": ["@SUM(A1)", None, "人民路-1号"],
        "lat": [33.95, 33.96, 33.97],
        "lng": [116.79, 116.80, 116.81],
    }
)


async def test_csv_cells_that_a_spreadsheet_would_run_start_with_an_apostrophe(conn, tmp_path):
    await import_frame(conn, FORMULA_NAMES, source="union", actor="admin")
    path = tmp_path / "stations.csv"
    await export_stations(conn, path, format="csv")
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    rows = frame.set_index("code").sort_values("source_id")
    assert sorted(rows["source_id"]) == ["'-17", "F-2", "F-3"]
    by_id = {r["source_id"]: r for _, r in rows.iterrows()}
    assert by_id["'-17"]["name"] == '\'=HYPERLINK("http://example.invalid","领水")'
    assert by_id["'-17"]["address"] == "'@SUM(A1)"
    assert by_id["F-2"]["name"] == "'+86 驿站"
    assert by_id["F-3"]["name"] == "普通驿站"  # a dash inside the text is no formula
    assert by_id["F-3"]["address"] == "人民路-1号"
    # GIS formats keep the text exactly.
    gpkg = tmp_path / "stations.gpkg"
    await export_stations(conn, gpkg, format="gpkg")
    layer = geopandas.read_file(gpkg)
    assert set(layer["name"]) == set(FORMULA_NAMES["name"])


async def test_a_formula_safe_csv_imports_back_unchanged(conn, tmp_path):
    from stations.importer import import_file

    await import_frame(conn, FORMULA_NAMES, source="union", actor="admin")
    before = await conn.fetch("SELECT * FROM stations ORDER BY id")
    path = tmp_path / "stations.csv"
    await export_stations(conn, path, format="csv", source="union")
    report = await import_file(conn, path)
    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 3, 0)
    assert await conn.fetch("SELECT * FROM stations ORDER BY id") == before
