"""Numbered migrations: applied once each, tracked, edits refused."""

from __future__ import annotations

import shutil

import pytest

from stations.db import admin as dbadmin
from stations.db import migrations
from stations.errors import SetupError


@pytest.fixture
async def scratch(settings):
    """An empty database (no PostGIS, no tables) and a copy of the migrations folder."""
    name = f"{settings.db.name}_scratch"
    await dbadmin.drop_database(settings.db, name)
    await dbadmin.create_database(settings.db, name)
    from stations.db import connection as dbconn

    conn = await dbconn.connect(settings.db, database=name)
    yield conn
    await conn.close()
    await dbadmin.drop_database(settings.db, name)


async def test_fresh_database_gets_every_migration_once(scratch, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, folder)
    applied = await migrations.migrate(scratch, folder)
    assert [m.version for m in applied] == [m.version for m in migrations.discover(folder)]
    assert await scratch.fetchval("SELECT extversion FROM pg_extension WHERE extname='postgis'")
    assert await migrations.migrate(scratch, folder) == []
    rows = await scratch.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
    assert [(r["version"], r["checksum"]) for r in rows] == [
        (m.version, m.checksum) for m in migrations.discover(folder)
    ]


async def test_new_migration_is_applied_alone(scratch, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, folder)
    await migrations.migrate(scratch, folder)
    (folder / "9999_probe.sql").write_text("CREATE TABLE probe (id int);")
    applied = await migrations.migrate(scratch, folder)
    assert [m.name for m in applied] == ["probe"]
    assert await scratch.fetchval("SELECT to_regclass('probe') IS NOT NULL")


async def test_failing_migration_leaves_nothing_behind(scratch, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, folder)
    await migrations.migrate(scratch, folder)
    (folder / "9999_broken.sql").write_text("CREATE TABLE half (id int); SELECT no_such_fn();")
    with pytest.raises(SetupError, match=r"9999_broken\.sql failed"):
        await migrations.migrate(scratch, folder)
    assert not await scratch.fetchval("SELECT to_regclass('half') IS NOT NULL")
    assert 9999 not in await migrations.applied(scratch)


async def test_editing_an_applied_migration_is_refused(scratch, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, folder)
    await migrations.migrate(scratch, folder)
    first = sorted(folder.glob("0001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(SetupError, match="was changed after it was applied"):
        await migrations.migrate(scratch, folder)


def test_badly_named_or_duplicate_files_are_refused(tmp_path):
    (tmp_path / "1_x.sql").write_text("")
    with pytest.raises(SetupError, match=r"NNNN_lowercase_name\.sql"):
        migrations.discover(tmp_path)
    (tmp_path / "1_x.sql").unlink()
    (tmp_path / "0002_a.sql").write_text("")
    (tmp_path / "0002_b.sql").write_text("")
    with pytest.raises(SetupError, match="share number 0002"):
        migrations.discover(tmp_path)


async def test_readiness_says_what_is_missing(scratch):
    ready, info = await migrations.readiness(scratch)
    assert not ready
    assert info["detail"] == "PostGIS is not installed in this database; run `stations db up`"
    await scratch.execute("CREATE EXTENSION postgis")
    ready, info = await migrations.readiness(scratch)
    assert not ready
    assert info["detail"].startswith("migrations pending: 0001_catalog.sql")
    await migrations.migrate(scratch)
    ready, info = await migrations.readiness(scratch)
    assert ready and info["postgis"].startswith("3.")
