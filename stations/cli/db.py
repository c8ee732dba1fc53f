"""``stations db up | down | status | migrate | reset | indexes | replica up|down|status``."""

from __future__ import annotations

import json

import typer

from stations.cli.runner import run
from stations.db import admin as dbadmin
from stations.db import embedded
from stations.db import indexes as dbindexes
from stations.db import replica as dbreplica
from stations.settings import get_settings

app = typer.Typer(help="The catalog database (project-local PostGIS unless DATABASE_URL is set).")


@app.command()
def up() -> None:
    """Create/start the database, enable PostGIS and apply migrations. Safe to repeat."""
    db = get_settings().db
    if not db.embedded:
        embedded.say("DATABASE_URL is set: using that database, not the project-local cluster")
    run(dbadmin.up(db))


@app.command()
def down() -> None:
    """Stop the project-local cluster cleanly, and the replicas streaming from it."""
    db = get_settings().db
    if not db.embedded:
        embedded.say("DATABASE_URL is set: there is no project-local cluster to stop")
        return
    # A standby of a stopped primary serves nothing; leave no server behind (CI stops
    # the cluster this way, and the tests' replica would otherwise outlive the run).
    for standby in dbreplica.replicas_beside(db):
        dbreplica.stop(db, standby)
    embedded.stop(db)


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Say whether the database runs, where, and which migrations are applied or pending."""
    db = get_settings().db
    info: dict = {"mode": "embedded" if db.embedded else "DATABASE_URL"}
    if db.embedded:
        info.update(embedded.status(db))
    if not db.embedded or info.get("running"):
        info["schema"] = run(dbadmin.schema_state(db))
    if as_json:
        print(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        print(f"{key:12} {value}")
    if db.embedded and not info.get("running"):
        raise typer.Exit(3)


@app.command()
def migrate() -> None:
    """Apply pending migrations (each in its own transaction)."""
    applied = run(dbadmin.migrate(get_settings().db))
    for name in applied:
        embedded.say(f"applied {name}")
    if not applied:
        embedded.say("schema is up to date")


@app.command()
def reset(yes: bool = typer.Option(False, "--yes", help="Confirm: this deletes all data.")) -> None:
    """Drop every table and rebuild the schema from the migrations."""
    if not yes:
        embedded.say("this deletes every station, member and claim; repeat with --yes to do it")
        raise typer.Exit(2)
    applied = run(dbadmin.reset(get_settings().db))
    embedded.say(f"reset done; applied {len(applied)} migrations")


@app.command()
def indexes(
    sessions: int = typer.Option(2, min=1, max=8, help="Indexes built side by side."),
) -> None:
    """Build the search indexes a bulk import left to build after its commit (if any)."""
    built = run(
        dbindexes.build_pending(
            get_settings().db,
            sessions=sessions,
            progress=lambda name, seconds: embedded.say(f"built index {name} ({seconds:.1f} s)"),
        )
    )
    if not built:
        embedded.say("no deferred index left to build")


replica_app = typer.Typer(
    help="A streaming read replica of the project-local cluster (for DATABASE_READ_URL)."
)
app.add_typer(replica_app, name="replica")


@replica_app.command("up")
def replica_up() -> None:
    """Clone the project-local cluster into a hot standby and start it; print its URL."""
    db = get_settings().db
    run(dbreplica.prepare_primary(db))
    info = dbreplica.start(db)
    embedded.say(f"replica {info['name']} streams from the primary")
    embedded.say("reads go to it with:")
    print(f"DATABASE_READ_URL={info['url']}")


@replica_app.command("down")
def replica_down(
    remove: bool = typer.Option(
        False, "--remove", help="Also delete its data and the primary's slot for it."
    ),
) -> None:
    """Stop the replica (its slot keeps the primary's WAL for it, up to 4 GB)."""
    db = get_settings().db
    if remove:
        run(dbreplica.remove(db))
    else:
        dbreplica.stop(db)


@replica_app.command("status")
def replica_status(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Say whether the replica runs, its URL, and how far it has replayed."""
    db = get_settings().db
    if not db.embedded:
        embedded.say("DATABASE_URL is set: there is no project-local replica")
        raise typer.Exit(3)
    info = run(dbreplica.status(db))
    if as_json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:16} {value}")
    if not info.get("running"):
        raise typer.Exit(3)
