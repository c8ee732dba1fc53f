"""``stations accounts add | token | grant | revoke-stations | disable | list``.

Operators, planners and administrators get their bearer tokens here; a token is
printed once and stored only hashed.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import typer

from stations.cli.runner import run_connected
from stations.people import accounts
from stations.settings import get_settings

app = typer.Typer(help="Staff accounts (operators, planners, administrators) and their tokens.")


def _print_token(token: str, expires_at: Any) -> None:
    print(f"token (shown once; store it safely): {token}")
    print(f"expires: {expires_at.isoformat(timespec='minutes')}")


@app.command()
def add(
    name: str = typer.Argument(..., help="Unique account name, e.g. the host business."),
    role: str = typer.Option("operator", help="operator, planner or admin."),
    station: list[str] = typer.Option([], "--station", "-s", help="Station code (operators)."),
    contact: str | None = typer.Option(None, help="Phone or e-mail of the person in charge."),
    days: int | None = typer.Option(
        None, help="Token lifetime (default STATIONS_STAFF_TOKEN_DAYS)."
    ),
) -> None:
    """Create an account and print its first token."""
    security = get_settings().security

    async def work(conn: asyncpg.Connection) -> Any:
        ids = await accounts.station_ids_for_codes(conn, station) if station else None
        return await accounts.add_account(
            conn,
            role=role,  # type: ignore[arg-type]
            name=name,
            contact=contact,
            station_ids=ids,
            token_days=days or security.staff_token_days,
        )

    account, issued = run_connected(work)
    print(f"{account['role']} account {account['name']!r} created (id {account['id']})")
    _print_token(issued.token, issued.expires_at)


@app.command()
def token(
    name: str,
    days: int | None = typer.Option(
        None, help="Token lifetime (default STATIONS_STAFF_TOKEN_DAYS)."
    ),
    label: str | None = typer.Option(None, help="What the token is for, e.g. the device."),
) -> None:
    """Issue another token for an account (e.g. a second device)."""
    security = get_settings().security
    issued = run_connected(
        lambda conn: accounts.issue_token(
            conn, name=name, token_days=days or security.staff_token_days, label=label
        )
    )
    _print_token(issued.token, issued.expires_at)


@app.command()
def grant(name: str, station: list[str] = typer.Option(..., "--station", "-s")) -> None:
    """Let an operator run more stations."""

    async def work(conn: asyncpg.Connection) -> None:
        ids = await accounts.station_ids_for_codes(conn, station)
        await accounts.grant_stations(conn, name=name, station_ids=ids)

    run_connected(work)
    print(f"{name} now also runs {', '.join(station)} (effective within a few seconds)")


@app.command("revoke-stations")
def revoke_stations(name: str, station: list[str] = typer.Option(..., "--station", "-s")) -> None:
    """Take stations away from an operator."""

    async def work(conn: asyncpg.Connection) -> None:
        ids = await accounts.station_ids_for_codes(conn, station)
        await accounts.grant_stations(conn, name=name, station_ids=ids, revoke=True)

    run_connected(work)
    print(f"{name} no longer runs {', '.join(station)}")


@app.command()
def disable(name: str) -> None:
    """Disable an account and revoke all its tokens."""
    run_connected(lambda conn: accounts.disable_account(conn, name=name))
    print(f"account {name!r} disabled; its tokens no longer work")


@app.command("list")
def list_() -> None:
    """Every account with its role and stations."""
    for row in run_connected(accounts.list_accounts):
        state = "disabled" if row["disabled_at"] else "active"
        stations = ", ".join(row["station_codes"]) or "-"
        print(f"{row['role']:9} {row['name']:30} {state:9} {stations}")
