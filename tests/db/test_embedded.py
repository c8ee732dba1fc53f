"""The project-local cluster's lifecycle, on a second cluster in a temporary folder."""

from __future__ import annotations

import socket

import pytest

from stations.db import admin as dbadmin
from stations.db import embedded
from stations.settings import DatabaseSettings


@pytest.fixture
def lifecycle_db(tmp_path) -> DatabaseSettings:
    db = DatabaseSettings(url=None, data_dir=tmp_path / "pg", name="lifecycle")
    yield db
    embedded.stop(db)


async def test_up_twice_status_and_down(lifecycle_db, capsys):
    await dbadmin.up(lifecycle_db)
    first = embedded.status(lifecycle_db)
    assert first["running"] and first["port"]
    await dbadmin.up(lifecycle_db)  # a no-op
    out = capsys.readouterr().out
    assert "already running" in out and "schema is up to date" in out
    assert embedded.status(lifecycle_db)["pid"] == first["pid"]
    state = await dbadmin.schema_state(lifecycle_db)
    assert state["reachable"] and state["pending"] == [] and state["postgis"]
    assert embedded.stop(lifecycle_db) is True
    assert embedded.status(lifecycle_db)["running"] is False
    assert embedded.stop(lifecycle_db) is False


async def test_stale_pid_file_is_removed_with_a_message(lifecycle_db, capsys):
    await dbadmin.up(lifecycle_db)
    embedded.stop(lifecycle_db)
    lay = embedded.layout(lifecycle_db)
    lay.pid_file.write_text("999999\n/somewhere\n")
    await dbadmin.up(lifecycle_db)
    out = capsys.readouterr().out
    assert "removing stale pid file" in out
    assert embedded.status(lifecycle_db)["running"]


async def test_port_taken_by_another_program_moves_the_cluster(lifecycle_db, capsys):
    await dbadmin.up(lifecycle_db)
    old_port = embedded.status(lifecycle_db)["port"]
    embedded.stop(lifecycle_db)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", old_port))
        squatter.listen()
        await dbadmin.up(lifecycle_db)
    out = capsys.readouterr().out
    assert f"port {old_port} is in use by another program" in out
    new_port = embedded.status(lifecycle_db)["port"]
    assert new_port != old_port
    assert (await dbadmin.schema_state(lifecycle_db))["reachable"]


def test_missing_server_gives_the_command_to_run(lifecycle_db):
    from stations.db import connection as dbconn
    from stations.errors import DatabaseUnavailable

    with pytest.raises(DatabaseUnavailable, match="stations db up"):
        dbconn.dsn(lifecycle_db)
