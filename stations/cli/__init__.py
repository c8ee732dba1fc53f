"""The ``stations`` command line: thin commands over the domain, like the API.

Each command group lives in its own module and registers itself on :data:`app`.
"""

from __future__ import annotations

import sys

import typer

from stations.cli import accounts as accounts_commands
from stations.cli import branches as branches_commands
from stations.cli import campaigns as campaigns_commands
from stations.cli import catalog as catalog_commands
from stations.cli import coverage as coverage_commands
from stations.cli import db as db_commands
from stations.cli import demand as demand_commands
from stations.cli import demo as demo_commands
from stations.cli import listing as listing_commands
from stations.cli import members as members_commands
from stations.cli import qr as qr_commands
from stations.errors import StationsError

app = typer.Typer(
    help="Love Stations: the catalog of rest stations and water points for outdoor workers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db_commands.app, name="db")
app.command("demo")(demo_commands.demo)
app.add_typer(coverage_commands.app, name="coverage")
app.add_typer(demand_commands.app, name="demand")
app.add_typer(members_commands.app, name="members")
app.add_typer(accounts_commands.app, name="accounts")
app.add_typer(branches_commands.app, name="branches")
app.add_typer(campaigns_commands.app, name="campaigns")
app.add_typer(qr_commands.app, name="qr")
app.command("import")(catalog_commands.import_command)
app.command("export")(catalog_commands.export_command)
app.command("list")(listing_commands.list_command)
app.command("show")(listing_commands.show_command)


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to bind (default: STATIONS_API_HOST)."),
    port: int = typer.Option(None, help="Port (default: STATIONS_API_PORT)."),
    workers: int = typer.Option(1, min=1, help="Server worker processes."),
) -> None:
    """Serve the HTTP API (uvicorn, the app factory, uvloop and httptools)."""
    import uvicorn

    from stations.settings import get_settings

    settings = get_settings()
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host or settings.api.host,
        port=port or settings.api.port,
        workers=workers,
        # X-Forwarded-Proto/-For are believed from these only: the staff cookie is Secure
        # over TLS, and sign-in attempts are throttled by the real client's address.
        forwarded_allow_ips=settings.api.trusted_proxies,
        loop="uvloop",
        http="httptools",
        access_log=False,
    )


def main() -> None:
    """Entry point: domain errors become a one-line message and exit code 1."""
    try:
        app()
    except StationsError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        raise SystemExit(1) from None
