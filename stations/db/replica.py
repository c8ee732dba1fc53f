"""A streaming replica of the project-local cluster: ``stations db replica up``.

The replica is a hot standby cloned with ``pg_basebackup -R`` into ``<data dir>-replica``
(``./.data/pg-replica``), with its own socket and free loopback port. It streams the
primary's WAL through a replication slot of its own, as the role
:data:`embedded.REPLICATION_ROLE`, over the primary's Unix socket. Point
``DATABASE_READ_URL`` at the URL ``up`` prints and the service's lagging reads go there,
so the read path is exercised against a real standby, not a second name for the primary.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from stations.db import connection as dbconn
from stations.db import embedded
from stations.db.embedded import REPLICATION_ROLE, Layout, say
from stations.db.replication import server_state
from stations.errors import SetupError
from stations.settings import DatabaseSettings
from stations.sql import load

SQL = load("replication")


def replica_dir(db: DatabaseSettings) -> Path:
    """Where the replica of ``db``'s cluster lives: beside it, ``<name>-replica``."""
    return db.data_dir.with_name(db.data_dir.name + "-replica")


def replica_settings(db: DatabaseSettings, data_dir: Path | None = None) -> DatabaseSettings:
    """``db`` with the replica's data directory (same database name and pool sizes)."""
    return db.model_copy(update={"data_dir": (data_dir or replica_dir(db)).absolute()})


def standby_name(data_dir: Path) -> str:
    """The replica's ``application_name`` on the primary, and its slot's name."""
    return "stations_" + re.sub(r"[^a-z0-9_]", "_", data_dir.name.lower())[:40]


def url(db: DatabaseSettings, data_dir: Path | None = None) -> str:
    """``DATABASE_READ_URL`` of the running replica (its Unix socket, ``db``'s database)."""
    return embedded.local_dsn(replica_settings(db, data_dir), database=db.name)


def _require_embedded_primary(db: DatabaseSettings) -> dict:
    if not db.embedded:
        raise SetupError(
            "DATABASE_URL is set: start a replica of that database with its own tools "
            "(or your provider's read replicas) and set DATABASE_READ_URL to it"
        )
    lay = embedded.layout(db)
    meta = embedded.read_meta(lay)
    if embedded.running_pid(lay) is None or "port" not in meta:
        raise SetupError("the project's database is not running; start it with `stations db up`")
    return meta


async def prepare_primary(db: DatabaseSettings, data_dir: Path | None = None) -> None:
    """The role, the pg_hba line, and no stale slot of this replica's name (idempotent)."""
    _require_embedded_primary(db)
    name = standby_name(data_dir or replica_dir(db))
    conn = await dbconn.connect(db, database="postgres")
    try:
        if not await conn.fetchval(SQL.replication_role_exists, REPLICATION_ROLE):
            await conn.execute(SQL.create_replication_role)
        if embedded.allow_replication(embedded.layout(db)):
            await conn.execute("SELECT pg_reload_conf()")
        active = await conn.fetchval(SQL.slot_exists, name)
        rlay = Layout(replica_settings(db, data_dir).data_dir)
        if active is False and not (rlay.pgdata / "PG_VERSION").exists():
            # Left by a replica whose data directory is gone: it would keep WAL for ever.
            await conn.execute(SQL.drop_slot, name)
    finally:
        await conn.close()


def start(db: DatabaseSettings, data_dir: Path | None = None) -> dict:
    """Clone the primary if there is no replica yet, then start it; a no-op when it runs.

    Call :func:`prepare_primary` first (``up`` does both).
    """
    meta = _require_embedded_primary(db)
    rdb = replica_settings(db, data_dir)
    lay = embedded.layout(rdb)
    if not (lay.pgdata / "PG_VERSION").exists():
        _clone(meta, lay)
    else:
        _follow_primary_port(lay, int(meta["port"]))
    started = embedded.start(rdb)
    return {**started, "url": url(db, data_dir), "name": standby_name(lay.root)}


def _clone(primary: dict, lay: Layout) -> None:
    bin_dir = Path(primary["bin_dir"])
    lay.root.mkdir(parents=True, exist_ok=True)
    embedded._grant_traverse(lay.root)
    lay.root.chmod(0o755)
    if lay.pgdata.exists():  # an earlier clone that did not finish
        shutil.rmtree(lay.pgdata)
    lay.pgdata.mkdir(mode=0o700)
    embedded._chown_to_server_user(lay.pgdata)
    name = standby_name(lay.root)
    say(f"cloning the primary into {lay.pgdata} (pg_basebackup, slot {name})")
    conninfo = (
        f"host={primary['socket_dir']} port={primary['port']} "
        f"user={REPLICATION_ROLE} application_name={name}"
    )
    try:
        embedded._run(
            embedded._as_server_user(
                [
                    str(bin_dir / "pg_basebackup"),
                    "--dbname",
                    conninfo,
                    "--pgdata",
                    str(lay.pgdata),
                    "--write-recovery-conf",
                    "--wal-method=stream",
                    "--create-slot",
                    "--slot",
                    name,
                    "--checkpoint=fast",
                    "--no-password",
                ]
            ),
            "pg_basebackup",
        )
    except SetupError:
        shutil.rmtree(lay.pgdata, ignore_errors=True)
        raise


def _follow_primary_port(lay: Layout, port: int) -> None:
    """The primary may have moved to another free port since the clone: follow it."""
    auto = lay.pgdata / "postgresql.auto.conf"
    text = auto.read_text()
    moved = re.sub(r"(primary_conninfo = '.*?\bport=)\d+", rf"\g<1>{port}", text)
    if moved != text:
        auto.write_text(moved)


def stop(db: DatabaseSettings, data_dir: Path | None = None) -> bool:
    """Stop the replica (fast shutdown); False when it was not running."""
    return embedded.stop(replica_settings(db, data_dir))


def replicas_beside(db: DatabaseSettings) -> list[Path]:
    """The standbys cloned from ``db``'s cluster beside it (``<name>-…``: the project's
    replica, the tests' one), each a data directory with PostgreSQL's standby signal."""
    root = db.data_dir.absolute()
    return sorted(
        found
        for found in root.parent.glob(root.name + "-*")
        if (embedded.Layout(found).pgdata / "standby.signal").exists()
    )


async def remove(db: DatabaseSettings, data_dir: Path | None = None) -> None:
    """Stop the replica, delete its data directory and drop its slot on the primary."""
    rdb = replica_settings(db, data_dir)
    embedded.stop(rdb)
    shutil.rmtree(rdb.data_dir, ignore_errors=True)
    say(f"removed {rdb.data_dir}")
    await prepare_primary(db, data_dir)  # drops the slot now that nothing uses it


async def status(db: DatabaseSettings, data_dir: Path | None = None) -> dict:
    """The replica's process, its URL, and how far behind the primary it is."""
    rdb = replica_settings(db, data_dir)
    info: dict = embedded.status(rdb)
    info["name"] = standby_name(rdb.data_dir)
    if not info["running"]:
        return info
    info["url"] = url(db, data_dir)
    conn = await dbconn.connect(rdb, database="postgres")
    try:
        info.update((await server_state(conn)).as_dict())
    finally:
        await conn.close()
    if db.embedded and embedded.running_pid(embedded.layout(db)) is not None:
        primary = await dbconn.connect(db, database="postgres")
        try:
            for row in await primary.fetch(SQL.standbys):
                if row["application_name"] == info["name"]:
                    info["streaming"] = row["state"]
                    info["replay_lag_bytes"] = row["replay_lag_bytes"]
        finally:
            await primary.close()
    return info
