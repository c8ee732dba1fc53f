"""What an import writes: idempotent re-imports, history, dry runs, atomicity, datums."""

from __future__ import annotations

import asyncio

import asyncpg
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from stations.geo import crs as crsmod
from stations.geo import h3cells
from stations.importer import import_file, import_frame
from tests.fixtures import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "import"
GEOD = Geod(ellps="WGS84")
# WGS84 truth of the GCJ-02 reference points in gcj02.csv / bd09.csv (see build.py)
REFERENCE = {
    "SH-1": (31.1774276, 121.5272106),
    "SZ-1": (22.543847, 113.912316),
    "BJ-1": (39.911954, 116.377817),
}


def metres(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    return float(GEOD.inv(lng1, lat1, lng2, lat2)[2])


def frame(n: int = 3, **columns) -> pd.DataFrame:
    base = pd.DataFrame(
        {
            "source_id": [f"s{i}" for i in range(1, n + 1)],
            "name": [f"驿站{i}" for i in range(1, n + 1)],
            "kind": "love_station",
            "amenities": "drinking_water;seating",
            "opening_hours": "Mo-Fr 08:30-18:00",
            "operator": "淮北市总工会",
            "lat": [33.95 + i * 0.01 for i in range(n)],
            "lng": 116.79,
        }
    )
    return base.assign(**columns)


async def history_count(conn) -> int:
    return await conn.fetchval("SELECT count(*) FROM station_history")


async def test_first_import_creates_and_history_names_the_actor(conn):
    report = await import_frame(conn, frame(), source="union", actor="admin:li")
    assert (report.read, report.created, report.updated, report.unchanged) == (3, 3, 0, 0)
    history = await conn.fetch("SELECT action, actor, reason FROM station_history")
    assert len(history) == 3
    assert {(h["action"], h["actor"]) for h in history} == {("create", "admin:li")}
    assert history[0]["reason"] == "import of source union"


async def test_reimporting_the_same_rows_changes_nothing_and_writes_no_history(conn):
    await import_frame(conn, frame(), source="union", actor="admin")
    before = await conn.fetch("SELECT id, version, updated_at FROM stations ORDER BY id")
    count = await history_count(conn)
    report = await import_frame(conn, frame(), source="union", actor="admin")
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert await history_count(conn) == count
    assert await conn.fetch("SELECT id, version, updated_at FROM stations ORDER BY id") == before


async def test_changed_rows_are_updated_with_one_history_row_each(conn):
    await import_frame(conn, frame(), source="union", actor="admin")
    changed = frame()
    changed.loc[1, "opening_hours"] = "24/7"
    changed.loc[2, "amenities"] = "drinking_water;seating;wifi"
    report = await import_frame(conn, changed, source="union", actor="operator:wang")
    assert (report.created, report.updated, report.unchanged) == (0, 2, 1)
    updates = await conn.fetch(
        "SELECT s.source_id, h.actor, h.old_values, h.new_values FROM station_history h "
        "JOIN stations s ON s.id = h.station_id WHERE h.action = 'update' ORDER BY s.source_id"
    )
    assert [(u["source_id"], u["actor"]) for u in updates] == [
        ("s2", "operator:wang"),
        ("s3", "operator:wang"),
    ]
    assert updates[0]["old_values"] == {"opening_hours": "Mo-Fr 08:30-18:00"}
    assert updates[0]["new_values"] == {"opening_hours": "24/7"}
    assert updates[1]["new_values"] == {"amenities": ["drinking_water", "seating", "wifi"]}
    versions = await conn.fetch("SELECT source_id, version FROM stations ORDER BY source_id")
    assert [v["version"] for v in versions] == [1, 2, 2]


async def test_a_move_under_a_centimetre_is_no_change_and_keeps_the_original(conn):
    await import_frame(conn, frame(1), source="union", actor="admin")
    nudged = frame(1, lat=33.95 + 0.00000005)  # ~5 mm north
    report = await import_frame(conn, nudged, source="union", actor="admin")
    assert report.unchanged == 1
    row = await conn.fetchrow("SELECT original_position, version FROM stations")
    assert row["original_position"] == {"crs": "wgs84", "lat": 33.95, "lng": 116.79}
    assert row["version"] == 1
    moved = frame(1, lat=33.95 + 0.00001)  # ~1.1 m north: a real move
    report = await import_frame(conn, moved, source="union", actor="admin")
    assert report.updated == 1
    row = await conn.fetchrow(
        "SELECT original_position, ST_Y(geom::geometry) AS lat, h3_r11 FROM stations"
    )
    assert row["original_position"]["lat"] == 33.95 + 0.00001
    assert row["lat"] == 33.95 + 0.00001
    assert row["h3_r11"] == h3cells.cell_from_latlng(33.95 + 0.00001, 116.79, 11)


async def test_fields_the_file_leaves_out_keep_their_stored_values(conn):
    await import_frame(conn, frame(1, access="members_only"), source="union", actor="admin")
    report = await import_frame(
        conn, frame(1).drop(columns=["operator"]), source="union", actor="a"
    )
    assert report.unchanged == 1
    row = await conn.fetchrow("SELECT access, operator FROM stations")
    assert (row["access"], row["operator"]) == ("members_only", "淮北市总工会")


async def test_a_dry_run_reports_what_would_happen_and_writes_nothing(conn):
    await import_frame(conn, frame(2), source="union", actor="admin")
    count = await history_count(conn)
    changed = frame(3)
    changed.loc[0, "name"] = "改名驿站"
    report = await import_frame(conn, changed, source="union", actor="admin", dry_run=True)
    assert report.dry_run
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    assert await conn.fetchval("SELECT count(*) FROM stations") == 2
    assert await conn.fetchval("SELECT name FROM stations WHERE source_id = 's1'") == "驿站1"
    assert await history_count(conn) == count


async def test_a_failing_write_leaves_nothing_behind(conn):
    await import_frame(conn, frame(1), source="union", actor="admin")
    await conn.execute(
        """
        CREATE FUNCTION pg_temp.refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'disk full'; END $$;
        CREATE TRIGGER refuse_update BEFORE UPDATE ON stations
            FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_update();
        """
    )
    try:
        changed = frame(3)  # two new stations, and s1 renamed: its update fails
        changed.loc[0, "name"] = "改名驿站"
        with pytest.raises(asyncpg.RaiseError, match="disk full"):
            await import_frame(conn, changed, source="union", actor="admin")
    finally:
        await conn.execute("DROP TRIGGER refuse_update ON stations")
    rows = await conn.fetch("SELECT source_id, name FROM stations")
    assert [(r["source_id"], r["name"]) for r in rows] == [("s1", "驿站1")]  # new rows gone too
    assert await history_count(conn) == 1
    assert await conn.fetchval("SELECT to_regclass('pg_temp.import_rows')") is None


async def test_a_copy_failing_while_the_next_chunk_is_checked_leaves_nothing_behind(
    conn, monkeypatch
):
    from stations.importer import run as core

    # The staging table refuses rows past 2: the second chunk's COPY fails while the
    # third chunk is being checked.
    monkeypatch.setattr(
        core.SQL,
        "create_rows_table",
        core.SQL.create_rows_table + ";\nALTER TABLE import_rows ADD CHECK (row_no <= 2)",
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await import_frame(conn, frame(6), source="union", actor="admin", chunk_rows=2)
    assert await conn.fetchval("SELECT count(*) FROM stations") == 0
    assert await history_count(conn) == 0
    assert await conn.fetchval("SELECT to_regclass('pg_temp.import_rows')") is None


async def test_a_reader_failing_while_a_copy_runs_leaves_nothing_behind(conn):
    from stations.importer import run as core

    options = core.Options(source="union", actor="admin")
    run = core.ImportRun(conn, options)

    async def feed() -> None:
        await run.add(frame(3))
        await asyncio.sleep(0)  # its COPY has started, and runs when the next chunk fails
        raise OSError("the file ended early")

    with pytest.raises(OSError, match="ended early"):
        await run.run(feed)
    assert await conn.fetchval("SELECT count(*) FROM stations") == 0
    assert await conn.fetchval("SELECT to_regclass('pg_temp.import_rows')") is None


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
async def test_chinese_datums_land_within_a_metre_and_keep_the_original(conn, datum):
    report = await import_file(
        conn, FIXTURES / f"{datum}.csv", crs=datum, kind="love_station", source=datum
    )
    assert report.created == 3
    given = pd.read_csv(FIXTURES / f"{datum}.csv").set_index("source_id")
    rows = await conn.fetch(
        "SELECT source_id, original_position, ST_Y(geom::geometry) AS lat, "
        "ST_X(geom::geometry) AS lng, h3_r9 FROM stations"
    )
    for row in rows:
        truth = REFERENCE[row["source_id"]]
        assert metres(row["lat"], row["lng"], *truth) < 1.0
        assert row["original_position"] == {
            "crs": datum,
            "lat": given.loc[row["source_id"], "lat"],
            "lng": given.loc[row["source_id"], "lng"],
        }
        # cells of the converted position: res 11 directly, res 9 its parent
        fine = h3cells.cell_from_latlng(row["lat"], row["lng"], 11)
        assert row["h3_r9"] == int(h3cells.parent_array(np.array([fine], np.uint64), 9)[0])
    # and the datum shift was real: the raw numbers are hundreds of metres off
    raw = given.loc["SH-1"]
    assert metres(raw["lat"], raw["lng"], *REFERENCE["SH-1"]) > 300


async def test_projected_epsg_input_from_x_and_y(conn):
    x, y = crsmod.from_wgs84(33.9556, 116.7983, crsmod.parse_crs("EPSG:32650"))
    data = pd.DataFrame(
        {"source_id": ["u1"], "name": ["驿站"], "kind": ["water_point"], "x": [x], "y": [y]}
    )
    report = await import_frame(
        conn, data, source="utm", actor="admin", crs=crsmod.parse_crs("EPSG:32650")
    )
    assert report.created == 1
    row = await conn.fetchrow(
        "SELECT original_position, ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng "
        "FROM stations"
    )
    assert row["original_position"] == {"crs": "EPSG:32650", "x": float(x), "y": float(y)}
    assert metres(row["lat"], row["lng"], 33.9556, 116.7983) < 0.01


async def test_time_zone_and_country_come_from_options_or_the_position(conn):
    paris = frame(1, lat=48.8566, lng=2.3522)
    await import_frame(conn, paris, source="paris", actor="admin")
    await import_frame(conn, frame(1), source="cn", actor="admin")
    elsewhere = frame(1, name="乌鲁木齐时间驿站")
    await import_frame(
        conn, elsewhere, source="forced", actor="admin", time_zone="Asia/Urumqi", country="cn"
    )
    rows = await conn.fetch("SELECT source, time_zone, country_code FROM stations ORDER BY source")
    assert [tuple(r) for r in rows] == [
        ("cn", "Asia/Shanghai", "CN"),
        ("forced", "Asia/Urumqi", "CN"),
        ("paris", "Europe/Paris", "FR"),
    ]


async def test_naive_verified_at_is_read_in_the_station_zone(conn):
    data = frame(1, verified_at="2025-06-01 09:00")
    await import_frame(conn, data, source="union", actor="admin")
    verified = await conn.fetchval("SELECT verified_at FROM stations")
    assert verified.isoformat() == "2025-06-01T01:00:00+00:00"  # 09:00 in Shanghai


async def test_files_without_ids_get_stable_ids_from_position_and_name(conn, tmp_path):
    path = tmp_path / "no-ids.csv"
    frame().drop(columns=["source_id"]).to_csv(path, index=False)
    first = await import_file(conn, path, source="noids")
    assert first.created == 3
    assert any("derived from its position" in note for note in first.notes)
    again = await import_file(conn, path, source="noids")
    assert (again.created, again.unchanged) == (0, 3)
    ids = [r["source_id"] for r in await conn.fetch("SELECT source_id FROM stations")]
    assert all(i.startswith("pos-") and len(i) == 24 for i in ids)


async def test_import_frame_takes_geometry_amenity_lists_and_reports_progress(conn):
    data = pd.DataFrame(
        {
            "source_id": ["g1", "g2"],
            "name": ["驿站一", "驿站二"],
            "amenities": [["seating", "drinking_water"], []],
            "geometry": [shapely.Point(116.79, 33.95), shapely.Point(116.80, 33.96)],
        }
    )
    seen: list[tuple[str, int, int | None]] = []
    report = await import_frame(
        conn,
        data,
        source="demo",
        actor="demo-generator",
        default_kind="water_point",
        progress=lambda stage, done, total: seen.append((stage, done, total)),
    )
    assert report.created == 2
    rows = await conn.fetch("SELECT kind, amenities FROM stations ORDER BY source_id")
    assert [tuple(r) for r in rows] == [
        ("water_point", ["drinking_water", "seating"]),
        ("water_point", []),
    ]
    assert ("rows", 2, 2) in seen and seen[-1] == ("write", 2, 2)


async def test_large_frames_go_through_in_chunks(conn):
    n = 2_500
    data = frame(n, lat=np.linspace(30.0, 31.0, n), lng=np.linspace(114.0, 115.0, n))
    report = await import_frame(conn, data, source="bulk", actor="admin", chunk_rows=1_000)
    assert (report.read, report.created) == (n, n)
    again = await import_frame(conn, data, source="bulk", actor="admin", chunk_rows=700)
    assert again.unchanged == n


INDEXES = (
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'stations' ORDER BY indexname"
)
CONSTRAINTS = (
    "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
    "WHERE conrelid = 'stations'::regclass ORDER BY conname"
)


async def test_a_large_import_rebuilds_the_search_indexes_and_leaves_them_as_they_were(
    conn, monkeypatch
):
    from stations.importer import run as core

    before = (await conn.fetch(INDEXES), await conn.fetch(CONSTRAINTS))
    monkeypatch.setattr(core, "BULK_MIN_NEW", 10)
    report = await import_frame(conn, frame(12), source="union", actor="admin")
    assert report.created == 12
    assert "build index public.stations_search_grams" in report.timings
    assert "add constraint stations_source_source_id_key" in report.timings
    assert "add constraint stations_code_key" in report.timings
    assert any(
        "2 unique constraints were built again before the commit and its 7 search indexes "
        "after the commit" in n
        for n in report.notes
    )
    assert report.deferred_indexes == []  # built before import_frame returned
    assert await conn.fetchval("SELECT count(*) FROM deferred_indexes") == 0
    assert (await conn.fetch(INDEXES), await conn.fetch(CONSTRAINTS)) == before
    assert await conn.fetchval("SELECT count(*) FROM station_history") == 12
    # The import draws ids and gives codes itself (the BEFORE INSERT trigger is skipped).
    assert await conn.fetchval("SELECT count(*) FROM stations WHERE code = station_code(id)") == 12
    found = await conn.fetchval(
        "SELECT count(*) FROM stations "
        "WHERE station_grams(name, name_en, address) @> station_grams('驿站1')"
    )
    assert found == 4  # 驿站1, 驿站10, 驿站11, 驿站12


async def test_a_small_import_into_a_larger_catalog_updates_the_indexes_in_place(conn, monkeypatch):
    from stations.importer import run as core

    monkeypatch.setattr(core, "BULK_MIN_NEW", 3)
    await import_frame(conn, frame(12), source="union", actor="admin")
    report = await import_frame(
        conn, frame(3, source_id=["x1", "x2", "x3"], lng=116.8), source="other", actor="admin"
    )
    assert report.created == 3
    assert not any(t.startswith("build index") for t in report.timings)  # 3 beside 12: in place


async def test_a_large_import_beside_stations_of_its_source_adds_only_the_new_ones(
    conn, monkeypatch
):
    from stations.importer import run as core

    monkeypatch.setattr(core, "BULK_MIN_NEW", 10)
    await import_frame(conn, frame(4), source="union", actor="admin")
    # 12 new beside 4: the unique constraints are dropped for the insert, which must
    # still leave out the 4 stations the catalog has.
    report = await import_frame(conn, frame(16), source="union", actor="admin")
    assert (report.created, report.unchanged) == (12, 4)
    assert "add constraint stations_source_source_id_key" in report.timings
    assert await conn.fetchval("SELECT count(DISTINCT source_id) FROM stations") == 16
    assert await conn.fetchval("SELECT count(*) FROM stations") == 16
    with pytest.raises(asyncpg.UniqueViolationError, match="stations_source_source_id_key"):
        await conn.execute(
            "INSERT INTO stations (name, kind, status, amenities, access, time_zone, source, "
            "source_id, original_position, attributes, geom, h3_r7, h3_r9, h3_r11) "
            "SELECT name, kind, status, amenities, access, time_zone, source, source_id, "
            "original_position, attributes, geom, h3_r7, h3_r9, h3_r11 "
            "FROM stations WHERE source_id = 's1'"
        )


async def test_a_constraint_failing_after_a_large_insert_leaves_the_catalog_as_it_was(
    conn, monkeypatch
):
    from stations.importer import run as core

    monkeypatch.setattr(core, "BULK_MIN_NEW", 10)
    await import_frame(conn, frame(4), source="union", actor="admin")
    # A station whose code is the one the import's fifth new station will get: only a
    # hand-written code can do that, and adding the unique constraint back must refuse it.
    await conn.execute(
        "UPDATE stations SET code = station_code((SELECT last_value FROM stations_id_seq) + 5) "
        "WHERE source_id = 's1'"
    )
    before = (
        await conn.fetch(INDEXES),
        await conn.fetch(CONSTRAINTS),
        await conn.fetch("SELECT * FROM stations ORDER BY id"),
        await history_count(conn),
    )
    with pytest.raises(asyncpg.UniqueViolationError, match="stations_code_key"):
        await import_frame(conn, frame(16), source="union", actor="admin")
    after = (
        await conn.fetch(INDEXES),
        await conn.fetch(CONSTRAINTS),
        await conn.fetch("SELECT * FROM stations ORDER BY id"),
        await history_count(conn),
    )
    assert after == before
