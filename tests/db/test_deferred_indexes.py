"""Search indexes a bulk import builds after its commit: same answers meanwhile, nothing lost."""

from __future__ import annotations

import asyncpg
import pytest

from stations.db import indexes
from stations.importer import import_frame
from tests.factories import run_cli
from tests.importer.test_import_writes import CONSTRAINTS, INDEXES, frame

TWO_CHARACTERS = (
    "SELECT source_id FROM stations "
    "WHERE station_grams(name, name_en, address) @> station_grams('驿站1') ORDER BY source_id"
)
IN_BOX = (
    "SELECT source_id FROM stations WHERE geom::geometry && "
    "ST_MakeEnvelope(116.7, 33.9, 116.9, 34.0, 4326) ORDER BY source_id"
)


@pytest.fixture
async def bulk(conn, monkeypatch):
    """Imports of 10 or more new stations take the bulk path; indexes are put back after."""
    from stations.importer import run as core

    monkeypatch.setattr(core, "BULK_MIN_NEW", 10)
    before = (await conn.fetch(INDEXES), await conn.fetch(CONSTRAINTS))
    yield before
    await indexes.build_all(conn)  # whatever a failing test left behind


async def test_a_background_import_commits_with_the_indexes_left_to_build(conn, bulk, settings):
    report = await import_frame(
        conn, frame(12), source="union", actor="admin", index_builds="background"
    )
    assert report.created == 12
    names = sorted(report.deferred_indexes)
    assert len(names) == 7 and "stations_search_grams" in names
    assert await indexes.pending(conn) == names
    assert not any(t.startswith("build index") for t in report.timings)
    # the unique constraints came back before the commit: all or nothing holds
    assert await conn.fetch(CONSTRAINTS) == bulk[1]
    # without the indexes, every query answers the same
    without = (await conn.fetch(TWO_CHARACTERS), await conn.fetch(IN_BOX))
    assert [r["source_id"] for r in without[0]] == ["s1", "s10", "s11", "s12"]
    built = await indexes.build_pending(settings.db, database=settings.db.name, sessions=2)
    assert sorted(built) == names
    assert (await conn.fetch(INDEXES), await conn.fetch(CONSTRAINTS)) == bulk
    assert await indexes.pending(conn) == []
    assert (await conn.fetch(TWO_CHARACTERS), await conn.fetch(IN_BOX)) == without


async def test_the_db_indexes_command_builds_what_a_stopped_builder_left(conn, bulk, settings):
    await import_frame(conn, frame(12), source="union", actor="admin", index_builds="background")
    # a builder that died half-way: one index built, its row gone; the others still listed
    assert await indexes.build_next(conn) is not None
    left = await indexes.pending(conn)
    assert len(left) == 6
    code, out, err = await run_cli(settings, "db", "indexes")
    assert code == 0, err
    assert sorted(line.split()[3] for line in out.strip().splitlines()) == left
    assert (await conn.fetch(INDEXES), await conn.fetch(CONSTRAINTS)) == bulk
    code, out, _ = await run_cli(settings, "db", "indexes")
    assert code == 0 and "no deferred index left to build" in out


async def test_a_failing_bulk_import_defers_nothing(conn, bulk):
    # a CHECK the importer's rules do not know of: the insert fails after the drops
    await conn.execute(
        "ALTER TABLE stations ADD CONSTRAINT no_fives CHECK (source_id <> 's5') NOT VALID"
    )
    try:
        with pytest.raises(asyncpg.CheckViolationError, match="no_fives"):
            await import_frame(
                conn, frame(12), source="union", actor="admin", index_builds="background"
            )
    finally:
        await conn.execute("ALTER TABLE stations DROP CONSTRAINT no_fives")
    assert await indexes.pending(conn) == []
    assert (await conn.fetch(INDEXES), await conn.fetch(CONSTRAINTS)) == bulk
    assert await conn.fetchval("SELECT count(*) FROM stations") == 0
    assert await conn.fetchval(TRIGGER_ON) == "O"


HISTORY = (
    "SELECT h.action, h.actor, h.reason, h.old_values, h.new_values, s.source_id "
    "FROM station_history h JOIN stations s ON s.id = h.station_id "
    "WHERE s.source = $1 ORDER BY s.source_id"
)
TRIGGER_ON = "SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'stations_history_insert'"


async def test_a_bulk_import_writes_the_history_the_trigger_writes(conn, bulk, monkeypatch):
    from stations.importer import run as core

    await import_frame(conn, frame(12), source="bulk", actor="admin")
    monkeypatch.setattr(core, "BULK_MIN_NEW", 1_000)  # the same rows through the trigger
    await import_frame(conn, frame(12, lng=117.5), source="trigger", actor="admin")
    bulk_rows = [dict(r) for r in await conn.fetch(HISTORY, "bulk")]
    trigger_rows = [dict(r) for r in await conn.fetch(HISTORY, "trigger")]
    assert len(bulk_rows) == 12
    assert [{**r, "reason": None} for r in bulk_rows] == [
        {**r, "reason": None} for r in trigger_rows
    ]
    assert bulk_rows[0]["reason"] == "import of source bulk"
    assert await conn.fetchval(TRIGGER_ON) == "O"  # back on for every other writer
