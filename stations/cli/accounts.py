"""``stations accounts add | token | passwd | invite | grant | revoke-stations | disable | list``.

Operators, planners and administrators get their bearer tokens here (printed once and
stored only hashed), and their console password: set at the terminal (``passwd``) or by
the person themselves through a one-time link (``invite``).
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

import asyncpg
import typer

from stations.cli.runner import run_connected
from stations.errors import InvalidInput
from stations.people import accounts, passwords
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
    branch: str | None = typer.Option(
        None,
        help="Union branch of an administrator or planner: its district code prefix "
        "(34, 3406, 340603; see `stations branches list`). Default: the national root.",
    ),
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
            branch=branch,
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
def passwd(
    name: str,
    stdin: bool = typer.Option(
        False, "--stdin", help="Read the password from the first line of standard input."
    ),
) -> None:
    """Set an account's console password (asked twice); its sessions end."""
    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"new password for {name}: ")
        if getpass.getpass("the same again: ") != password:
            raise InvalidInput("the two passwords differ; nothing was changed")
    run_connected(lambda conn: passwords.set_password(conn, name=name, password=password))
    print(f"password of {name!r} set; it signs in at /staff/")


@app.command()
def invite(
    name: str,
    hours: float | None = typer.Option(
        None, help="How long the link works (default STATIONS_STAFF_LINK_HOURS)."
    ),
) -> None:
    """Print a one-time link with which the account's owner sets their password."""
    settings = get_settings()
    lifetime = hours or settings.staff.link_hours
    token, expires_at = run_connected(
        lambda conn: passwords.create_link(conn, name=name, hours=lifetime)
    )
    print(f"one-time link for {name!r} (works once; send it to them only):")
    print(passwords.link_url(settings.api.public_base_url, token))
    print(f"expires: {expires_at.isoformat(timespec='minutes')}")


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
    """Every account with its role, branch, password and stations."""
    for row in run_connected(accounts.list_accounts):
        state = "disabled" if row["disabled_at"] else "active"
        stations = ", ".join(row["station_codes"]) or "-"
        branch = row["branch"] or ("-" if row["role"] == "operator" else "national")
        password = "password" if row["has_password"] else "no password"
        print(f"{row['role']:9} {row['name']:30} {state:9} {branch:9} {password:12} {stations}")
