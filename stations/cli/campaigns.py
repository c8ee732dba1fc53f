"""``stations campaigns create | list | show | stations | allocate | cancel``."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import asyncpg
import typer

from stations.cli.runner import run_connected
from stations.errors import InvalidInput
from stations.people import accounts, branches
from stations.visits import campaigns, claims

app = typer.Typer(help="Water campaigns: dates, hours, quota, geofence, stations, prizes.")


def _show(campaign: dict[str, Any]) -> None:
    print(json.dumps(campaign, ensure_ascii=False, indent=2, default=str))


def _hours(text: str) -> tuple[str, str]:
    start, sep, end = text.partition("-")
    if not sep:
        raise InvalidInput("--hours: write local hours as HH:MM-HH:MM, e.g. 10:00-18:00")
    return start.strip(), end.strip()


@app.command()
def create(
    name: str,
    starts_on: str = typer.Option(..., "--from", help="First day, YYYY-MM-DD (local)."),
    ends_on: str = typer.Option(..., "--to", help="Last day, YYYY-MM-DD (local)."),
    hours: str = typer.Option("00:00-24:00", help="Daily local hours, HH:MM-HH:MM."),
    quota: int = typer.Option(campaigns.DEFAULT_QUOTA, help="Bottles per member per day."),
    radius: int = typer.Option(campaigns.DEFAULT_GEOFENCE_M, help="Geofence radius in metres."),
    station: list[str] = typer.Option([], "--station", "-s", help="Station code (repeatable)."),
    all_water: bool = typer.Option(
        False, "--all-water-stations", help="Every water point and station with drinking water."
    ),
    prize: list[str] = typer.Option(
        [], "--prize", help="name:total:probability, e.g. 夏日礼包:500:0.05 (repeatable)."
    ),
    daily_allocation: int | None = typer.Option(
        None,
        "--daily-allocation",
        help="Default bottles per station and local day, when nobody sets the day.",
    ),
    branch: str | None = typer.Option(
        None, help="Union branch running it (district code prefix); default national."
    ),
) -> None:
    """Create a campaign with its stations and prize pools."""
    try:
        first, last = date.fromisoformat(starts_on), date.fromisoformat(ends_on)
    except ValueError:
        raise InvalidInput("--from/--to: write dates as YYYY-MM-DD") from None
    start, end = _hours(hours)
    prizes = [campaigns.parse_prize(p) for p in prize]

    async def work(conn: asyncpg.Connection) -> dict[str, Any]:
        ids = await accounts.station_ids_for_codes(conn, station) if station else []
        return await campaigns.create_campaign(
            conn,
            name=name,
            starts_on=first,
            ends_on=last,
            daily_start=start,
            daily_end=end,
            daily_quota=quota,
            geofence_m=radius,
            station_ids=ids,
            all_water_stations=all_water,
            prizes=prizes,
            daily_allocation=daily_allocation,
            branch=(await branches.get_branch(conn, branch))["code"] if branch else None,
        )

    _show(run_connected(work))


@app.command("list")
def list_() -> None:
    """Every campaign, newest first."""
    for c in run_connected(campaigns.list_campaigns):
        print(
            f"{c['id']:4} {c['name']:24} {c['starts_on']}..{c['ends_on']} "
            f"{c['daily_start']}-{c['daily_end']} quota {c['daily_quota']} "
            f"{c['stations']} stations {c['status']}"
        )


@app.command()
def show(campaign_id: int) -> None:
    """One campaign with its prize pools."""
    _show(run_connected(lambda conn: campaigns.get_campaign(conn, campaign_id=campaign_id)))


@app.command()
def stations(
    campaign_id: int,
    add: list[str] = typer.Option([], "--add", help="Station code to add (repeatable)."),
    remove: list[str] = typer.Option([], "--remove", help="Station code to remove (repeatable)."),
) -> None:
    """Add or remove participating stations."""

    async def work(conn: asyncpg.Connection) -> list[int]:
        add_ids = await accounts.station_ids_for_codes(conn, add) if add else []
        remove_ids = await accounts.station_ids_for_codes(conn, remove) if remove else []
        return await campaigns.set_stations(
            conn, campaign_id=campaign_id, add=add_ids, remove=remove_ids
        )

    print(f"{len(run_connected(work))} stations take part in campaign {campaign_id}")


@app.command()
def allocate(
    campaign_id: int,
    bottles: int | None = typer.Argument(
        None, help="Bottles per station and local day; leave out to remove the default."
    ),
) -> None:
    """Set the campaign's default daily allocation (a station's own default overrides it)."""
    run_connected(
        lambda conn: campaigns.update_campaign(
            conn, campaign_id=campaign_id, daily_allocation=bottles
        )
    )
    if bottles is None:
        print(f"campaign {campaign_id} has no default allocation: operators set each day")
    else:
        print(f"each station of campaign {campaign_id} starts each day with {bottles} bottles")


@app.command()
def cancel(campaign_id: int) -> None:
    """Stop a campaign (claims already made stay)."""
    run_connected(
        lambda conn: campaigns.update_campaign(conn, campaign_id=campaign_id, status="cancelled")
    )
    print(f"campaign {campaign_id} cancelled")


@app.command("expire-claim-log")
def expire_claim_log(
    days: int = typer.Option(
        claims.CLAIM_LOG_DAYS, min=1, help="Keep the answers to claim requests this many days."
    ),
) -> None:
    """Forget the stored answers to claim requests older than DAYS days (run it daily,
    e.g. from cron): refusals with their coarse distance from the station, and the
    Idempotency-Keys of granted claims (a phone retries within minutes, not weeks).
    The claims themselves stay: reports count them."""
    forgotten = run_connected(lambda conn: claims.expire_claim_log(conn, days=days))
    print(f"forgot {forgotten} answers to claim requests older than {days} days")
