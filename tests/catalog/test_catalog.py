"""One station at a time: create, update (with version checks), status, get."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from stations.catalog import writes as catalog
from stations.errors import Conflict, InvalidInput, NotFound
from stations.geo import crs as crsmod
from stations.geo import h3cells
from stations.importer import import_frame

GEOD = Geod(ellps="WGS84")
FIELDS = {
    "name": "相山公园爱心驿站",
    "kind": "love_station",
    "amenities": ["seating", "drinking_water"],
    "opening_hours": "Mo-Fr 08:30-18:00",
    "lat": 33.9556,
    "lng": 116.7983,
}


async def test_create_stores_what_the_importer_would_store(conn):
    created = await catalog.create_station(conn, FIELDS, actor="admin:li", reason="new site")
    await import_frame(
        conn,
        pd.DataFrame([{**FIELDS, "name": "对照驿站", "source_id": "twin"}]),
        source="twin",
        actor="admin",
    )
    twin = await conn.fetchrow("SELECT * FROM stations WHERE source = 'twin'")
    for column in ("geom", "h3_r7", "h3_r9", "h3_r11", "time_zone", "country_code", "amenities"):
        assert created[column] == twin[column], column
    assert created["original_position"] == twin["original_position"]
    assert (created["lat"], created["lng"]) == (33.9556, 116.7983)
    assert (created["source"], created["version"]) == ("api", 1)
    history = await conn.fetchrow("SELECT action, actor, reason FROM station_history")
    assert tuple(history) == ("create", "admin:li", "new site")


async def test_create_converts_gcj02_and_keeps_the_original(conn):
    glat, glng = crsmod.point_from_wgs84(33.9556, 116.7983, crsmod.parse_crs("gcj02"))
    created = await catalog.create_station(
        conn, {**FIELDS, "lat": glat, "lng": glng, "crs": "gcj02"}, actor="admin"
    )
    assert GEOD.inv(116.7983, 33.9556, created["lng"], created["lat"])[2] < 0.01
    assert created["original_position"] == {"crs": "gcj02", "lat": glat, "lng": glng}
    fine = h3cells.cell_from_latlng(created["lat"], created["lng"], 11)
    assert created["h3_r11"] == fine
    assert created["h3_r7"] == int(h3cells.parent_array(np.array([fine], np.uint64), 7)[0])


async def test_create_refuses_bad_fields_listing_each(conn):
    with pytest.raises(InvalidInput) as info:
        await catalog.create_station(
            conn, {**FIELDS, "kind": "kiosk", "amenities": ["sauna"]}, actor="admin"
        )
    assert info.value.detail.startswith(
        "kind: 'kiosk' is not a station kind; use one of love_station, water_point"
    )
    assert "amenities: 'sauna' is not a known amenity" in info.value.detail
    assert await conn.fetchval("SELECT count(*) FROM stations") == 0


async def test_create_refuses_a_near_duplicate(conn):
    first = await catalog.create_station(conn, FIELDS, actor="admin")
    with pytest.raises(Conflict) as info:
        await catalog.create_station(
            conn, {**FIELDS, "name": "相山公园 爱心驿站", "lat": 33.95561}, actor="admin"
        )
    assert info.value.detail.startswith(
        f"station {first['code']} ('相山公园爱心驿站') is 1.1 m away with the same name"
    )


async def test_update_changes_only_the_given_fields_and_records_them(conn):
    created = await catalog.create_station(conn, FIELDS, actor="admin")
    updated = await catalog.update_station(
        conn,
        created["id"],
        {"opening_hours": "24/7", "amenities": "drinking_water;wifi"},
        actor="operator:wang",
        expected_version=1,
    )
    assert updated["version"] == 2
    assert updated["opening_hours"] == "24/7"
    assert updated["amenities"] == ["drinking_water", "wifi"]
    assert updated["name"] == created["name"] and updated["geom"] == created["geom"]
    change = await conn.fetchrow(
        "SELECT actor, old_values, new_values FROM station_history WHERE action = 'update'"
    )
    assert change["actor"] == "operator:wang"
    assert change["old_values"] == {
        "opening_hours": "Mo-Fr 08:30-18:00",
        "amenities": ["drinking_water", "seating"],
    }
    assert change["new_values"] == {
        "opening_hours": "24/7",
        "amenities": ["drinking_water", "wifi"],
    }


async def test_update_of_a_stale_version_is_a_conflict(conn):
    created = await catalog.create_station(conn, FIELDS, actor="admin")
    await catalog.update_station(conn, created["id"], {"operator": "总工会"}, actor="a")
    with pytest.raises(Conflict) as info:
        await catalog.update_station(
            conn, created["id"], {"operator": "别人"}, actor="b", expected_version=1
        )
    assert info.value.detail == (
        f"station {created['id']} is at version 2, not 1: someone changed it meanwhile; "
        "reload it and apply your change again"
    )
    assert (await catalog.get_station(conn, created["id"]))["operator"] == "总工会"


async def test_update_of_an_unknown_station_is_not_found(conn):
    with pytest.raises(NotFound) as info:
        await catalog.update_station(conn, 999_999, {"operator": "x"}, actor="a")
    assert (
        info.value.detail
        == "there is no station 999999; check the id (search or list stations to find it)"
    )


async def test_update_with_bad_fields_lists_them_and_changes_nothing(conn):
    created = await catalog.create_station(conn, FIELDS, actor="admin")
    with pytest.raises(InvalidInput) as info:
        await catalog.update_station(
            conn, created["id"], {"status": "gone", "opening_hours": "always"}, actor="a"
        )
    assert "status: 'gone' is not a station status" in info.value.detail
    assert "opening_hours: 'always' is not valid OpenStreetMap opening_hours" in info.value.detail
    assert (await catalog.get_station(conn, created["id"]))["version"] == 1


async def test_moving_a_station_recomputes_cells_and_time_zone(conn):
    created = await catalog.create_station(conn, FIELDS, actor="admin")
    moved = await catalog.update_station(
        conn, created["id"], {"lat": 43.8256, "lng": 87.6168}, actor="admin"
    )
    assert (moved["lat"], moved["lng"]) == (43.8256, 87.6168)
    assert moved["h3_r11"] == h3cells.cell_from_latlng(43.8256, 87.6168, 11)
    assert (moved["time_zone"], moved["country_code"]) == ("Asia/Urumqi", "CN")
    assert moved["original_position"] == {"crs": "wgs84", "lat": 43.8256, "lng": 87.6168}


async def test_status_change_records_the_reason(conn):
    created = await catalog.create_station(conn, FIELDS, actor="admin")
    closed = await catalog.set_station_status(
        conn, created["id"], "temporarily_closed", actor="operator:wang", reason="水管维修"
    )
    assert closed["status"] == "temporarily_closed"
    change = await conn.fetchrow(
        "SELECT reason, new_values FROM station_history WHERE action = 'update'"
    )
    assert tuple(change) == ("水管维修", {"status": "temporarily_closed"})


async def test_status_must_be_known_and_the_station_must_exist(conn):
    created = await catalog.create_station(conn, FIELDS, actor="admin")
    with pytest.raises(InvalidInput) as info:
        await catalog.set_station_status(conn, created["id"], "gone", actor="a", reason="r")
    assert info.value.detail == (
        "status: 'gone' is not a station status; use one of active, temporarily_closed, "
        "closed (got 'gone')"
    )
    with pytest.raises(NotFound):
        await catalog.set_station_status(conn, 999_999, "closed", actor="a", reason="r")


async def test_get_unknown_station_is_not_found(conn):
    with pytest.raises(NotFound):
        await catalog.get_station(conn, 424242)
