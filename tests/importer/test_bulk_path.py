"""The bulk path (new stations COPYed straight into the catalog) writes what the ordinary
path writes: the same report, the same stations, the same history."""

from __future__ import annotations

from typing import Any

import asyncpg
import numpy as np
import pandas as pd
import pytest

from stations.db import indexes
from stations.importer import import_frame
from tests.factories import create_station
from tests.fixtures.search.app import eventually, running_app
from tests.importer.test_import_writes import frame

STATIONS = """
SELECT source_id, name, name_en, kind, status, amenities, access, opening_hours, time_zone,
       country_code, address, district, district_code, operator, contact, source,
       original_position, attributes, verified_at, ST_AsEWKT(geom) AS geom,
       h3_r7, h3_r9, h3_r11, version, code = station_code(id) AS code_from_id
FROM stations WHERE source = $1 ORDER BY source_id
"""
HISTORY = """
SELECT s.source_id, h.action, h.actor, h.reason, h.old_values, h.new_values,
       h.changed_at = s.created_at AS at_creation
FROM station_history h JOIN stations s ON s.id = h.station_id
WHERE s.source = $1 ORDER BY s.source_id, h.id
"""


def awkward(n: int = 40) -> pd.DataFrame:
    """Rows that exercise every whole-file rule: repeated ids, near-duplicates in the file
    and beside the catalog, bad rows, optional fields present and missing."""
    data = frame(
        n,
        lat=33.90 + np.arange(n) * 0.002,
        lng=116.70 + np.arange(n) * 0.003,
        name_en=[f"Station {i}" if i % 3 else None for i in range(n)],
        verified_at=["2026-06-01T08:00:00+08:00" if i % 4 else None for i in range(n)],
        amenities=["drinking_water;seating" if i % 2 else "" for i in range(n)],
    )
    data.loc[5, "source_id"] = data.loc[2, "source_id"]  # repeats row 3's id: row 3 wins
    data.loc[7, "name"] = None  # a bad row whose id row 9 repeats: the first row still wins
    data.loc[9, "source_id"] = data.loc[7, "source_id"]
    # the same name 2 m from row 12: a near-duplicate in the file
    data.loc[12, ["name", "lat", "lng"]] = [
        data.loc[11, "name"],
        data.loc[11, "lat"] + 2e-5,
        data.loc[11, "lng"],
    ]
    # the same name next to a station of another source: a near-duplicate of the catalog
    data.loc[20, ["name", "lat", "lng"]] = ["相山公园驿站", 33.9556, 116.7983]
    data.loc[25, "lat"] = None  # no position
    data.loc[30, "kind"] = "kiosk"  # not a kind
    return data


async def imported(
    conn: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    data: pd.DataFrame,
    *,
    bulk: bool,
    before: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Import ``data`` as source "src" (after ``before``, through the ordinary path) and
    say what it wrote; everything is rolled back afterwards. The catalog holds one
    station of another source (``beside``)."""
    from stations.importer import run as core

    savepoint = conn.transaction()
    await savepoint.start()
    try:
        if before is not None:
            monkeypatch.setattr(core, "BULK_MIN_NEW", 1_000_000)
            await import_frame(conn, before, source="src", actor="admin:li")
        monkeypatch.setattr(core, "BULK_MIN_NEW", 5 if bulk else 1_000_000)
        report = await import_frame(
            conn, data, source="src", actor="admin:wang", index_builds="background"
        )
        took_bulk = bool(report.deferred_indexes)
        return {
            "bulk": took_bulk,
            "counts": (report.read, report.created, report.updated, report.unchanged),
            "rejected": report.rejected,
            "problems": report.problem_frame.to_dict("records"),
            "warnings": report.warning_frame.to_dict("records"),
            "stations": [dict(r) for r in await conn.fetch(STATIONS, "src")],
            "history": [dict(r) for r in await conn.fetch(HISTORY, "src")],
            "all_codes_unique": await conn.fetchval(
                "SELECT count(DISTINCT code) = count(*) FROM stations"
            ),
        }
    finally:
        await savepoint.rollback()


@pytest.fixture
async def beside(conn):
    return await create_station(
        conn, name="相山公园驿站", lat=33.9556, lng=116.7983, source="other"
    )


async def test_a_first_load_writes_what_the_ordinary_path_writes(conn, beside, monkeypatch):
    data = awkward()
    ordinary = await imported(conn, monkeypatch, data, bulk=False)
    direct = await imported(conn, monkeypatch, data, bulk=True)
    assert (ordinary["bulk"], direct["bulk"]) == (False, True)
    codes = {p["code"] for p in direct["problems"]}
    assert {"duplicate_source_id", "near_duplicate", "missing", "not_allowed"} <= codes
    assert direct["counts"] == ordinary["counts"] == (40, 33, 0, 0)
    assert direct["rejected"] == ordinary["rejected"] == 7
    for part in ("problems", "warnings", "stations", "history"):
        assert direct[part] == ordinary[part], part
    assert all(s["code_from_id"] for s in direct["stations"])
    assert direct["all_codes_unique"]
    assert {h["actor"] for h in direct["history"]} == {"admin:wang"}
    assert all(h["at_creation"] for h in direct["history"])


async def test_a_large_load_beside_a_sources_stations_updates_them_as_the_ordinary_path(
    conn, beside, monkeypatch
):
    before = frame(10, lat=33.90 + np.arange(10) * 0.002, lng=116.70 + np.arange(10) * 0.003)
    data = awkward()
    data.loc[0, "operator"] = "相山区总工会"  # s1 changes; s2..s10 come again as they were
    data.loc[1:9, "name"] = before.loc[1:9, "name"].to_numpy()
    data.loc[1:9, ["name_en", "verified_at"]] = None
    data.loc[1:9, "amenities"] = before.loc[1:9, "amenities"].to_numpy()
    ordinary = await imported(conn, monkeypatch, data, bulk=False, before=before)
    direct = await imported(conn, monkeypatch, data, bulk=True, before=before)
    assert (ordinary["bulk"], direct["bulk"]) == (False, True)
    assert direct["counts"] == ordinary["counts"]
    assert direct["counts"][2] >= 1 and direct["counts"][3] >= 1  # updated and unchanged
    for part in ("problems", "warnings", "stations", "history"):
        assert direct[part] == ordinary[part], part


async def test_the_id_sequence_goes_on_after_a_bulk_load(conn, monkeypatch):
    from stations.importer import run as core

    monkeypatch.setattr(core, "BULK_MIN_NEW", 5)
    await import_frame(conn, frame(12), source="union", actor="admin")
    largest = await conn.fetchval("SELECT max(id) FROM stations")
    station = await create_station(conn, name="新驿站", source="other")
    assert station["id"] > largest


async def test_a_running_server_finds_the_stations_of_a_bulk_load(settings, conn, monkeypatch):
    """The bulk path writes no row through the history trigger: it sends the trigger's
    notice itself, and every worker's nearest index reloads."""
    from stations.importer import run as core

    monkeypatch.setattr(core, "BULK_MIN_NEW", 5)
    await create_station(conn, name="相山公园驿站", lat=33.9556, lng=116.7983, source="other")
    try:
        async with running_app(settings) as (app, client):
            reloads = app.state.search.reloads
            data = frame(600, lat=33.0 + np.arange(600) * 0.001, lng=117.5)
            report = await import_frame(
                conn, data, source="union", actor="admin", index_builds="background"
            )
            assert report.created == 600 and report.deferred_indexes
            await eventually(lambda: app.state.search.reloads > reloads, what="a reload")
            body = (await client.get("/v1/stations/nearest?lat=33.3&lng=117.5&k=1")).json()
            nearest = body["results"][0]
            assert (nearest["name"], nearest["distance_m"]) == ("驿站301", 0.0)
    finally:
        await indexes.build_all(conn)  # the search indexes the load left to build
