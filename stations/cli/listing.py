"""``stations list`` and ``stations show CODE``: the catalog as an administrator reads it.

Both go through the functions behind ``GET /v1/stations`` and ``GET /v1/stations/{id}``
(:mod:`stations.search.lookup`, :func:`stations.catalog.writes.get_station`), so the
filters accept and refuse the same values with the same words; water and ratings are
read from the database at the moment of the command (the API serves them from its
in-process copy, a few seconds old at most), shaped as the API shows them.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import typer
from rich.console import Console
from rich.table import Table

from stations.catalog import writes as catalog
from stations.catalog.hours_words import week_in_words
from stations.cli.runner import run_connected
from stations.geo.crs import NAMED, parse_named_crs
from stations.people import accounts
from stations.search import lookup
from stations.search.live import rating_shown, water_shown
from stations.search.openness import OpeningStates, StatesAt
from stations.visits import ratings, stock

_AS_JSON = typer.Option(False, "--json", help="Print JSON (as the API answers) instead.")
_CRS = typer.Option("wgs84", "--crs", help=f"CRS of --bbox and of positions: {', '.join(NAMED)}.")


def _console() -> Console:
    # Piped or redirected output gets wide rows instead of wrapped names.
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


async def _water(conn: asyncpg.Connection, ids: list[int], at: datetime) -> dict[int, Any]:
    today = await stock.water_today(conn, ids, at=at)
    return {station_id: water_shown(water) for station_id, water in today.items()}


def _water_text(water: dict[str, Any] | None) -> str:
    if water is None:
        return "-"
    return f"{water['remaining']}/{water['allocated']}"


def list_command(
    q: str = typer.Option(None, "-q", "--q", help="Words of a name or address (any case)."),
    kind: list[str] = typer.Option([], "--kind", help="love_station or water_point (repeatable)."),
    amenity: list[str] = typer.Option([], "--amenity", help="Amenity every station has."),
    status: list[str] = typer.Option(
        [], "--status", help="active, temporarily_closed, closed (default: the first two)."
    ),
    district: str = typer.Option(None, "--district", help="District name or code."),
    bbox: str = typer.Option(None, "--bbox", help="west,south,east,north in degrees."),
    crs: str = _CRS,
    limit: int = typer.Option(lookup.DEFAULT_LIMIT, min=1, max=lookup.MAX_LIMIT),
    after: int = typer.Option(0, "--after", min=0, help="Start after this station id."),
    as_json: bool = _AS_JSON,
) -> None:
    """Stations matching the API's search filters, in id order, a page at a time."""
    out_crs = parse_named_crs(crs)
    query = lookup.build_query(
        q=q,
        bbox=bbox,
        crs=out_crs,
        kind=kind or None,
        amenity=amenity or None,
        status=status or None,
        district=district,
    )

    async def work(conn: asyncpg.Connection) -> tuple[list[dict[str, Any]], bool]:
        rows = await lookup.search_stations(conn, query, after=after, limit=limit + 1)
        items = [lookup.station_dict(r, out_crs) for r in rows[:limit]]
        water = await _water(conn, [i["id"] for i in items], datetime.now(UTC))
        for item in items:
            item["water_today"] = water.get(item["id"])
        return items, len(rows) > limit

    items, more = run_connected(work)
    if as_json:
        _print_json(items)
        return
    table = Table("id", "code", "name", "kind", "status", "district", "water today", "address")
    for i in items:
        table.add_row(
            str(i["id"]),
            i["code"],
            i["name"] + (f" ({i['name_en']})" if i["name_en"] else ""),
            i["kind"],
            i["status"],
            i["district"] or "",
            _water_text(i["water_today"]),
            i["address"] or "",
        )
    console = _console()
    console.print(table)
    tail = f"; more after id {items[-1]['id']}: add --after {items[-1]['id']}" if more else ""
    console.print(f"{len(items)} station(s){tail}")


async def _details(conn: asyncpg.Connection, code: str, crs: str) -> dict[str, Any]:
    [station_id] = await accounts.station_ids_for_codes(conn, [code])
    row = await catalog.get_station(conn, station_id)
    now = datetime.now(UTC)
    item = lookup.station_dict(row, parse_named_crs(crs))
    registry = OpeningStates()
    key = registry.key_for(row["opening_hours"], row["time_zone"], row["country_code"])
    item["open"] = orjson.loads(StatesAt(registry, now).fragment(key))
    item["hours_next_7_days"] = week_in_words(
        row["opening_hours"], time_zone=row["time_zone"], country=row["country_code"], start=now
    )
    summary = (await ratings.rating_summaries(conn, [station_id], at=now)).get(station_id)
    item["rating"] = rating_shown(summary) if summary is not None else None
    item["water_today"] = (await _water(conn, [station_id], now)).get(station_id)
    return item


def _rating_text(rating: dict[str, Any] | None) -> str:
    if rating is None:
        return "none yet"
    text = (
        f"{rating['mean_stars']} stars from {rating['ratings']} "
        f"(score {rating['score']}, freshness {rating['freshness']})"
    )
    return text + (f"; {', '.join(rating['top_tags'])}" if rating["top_tags"] else "")


def show_command(
    code: str = typer.Argument(..., help="The station's code, as printed on its poster."),
    crs: str = _CRS,
    as_json: bool = _AS_JSON,
) -> None:
    """One station: its facts, whether it is open, its hours in words, water, ratings."""
    item = run_connected(lambda conn: _details(conn, code, crs))
    if as_json:
        _print_json(item)
        return
    open_now = item["open"]
    if open_now["is_open"] is None:
        state = "hours not known"
    else:
        state = "open" if open_now["is_open"] else "closed"
        if open_now["next_change"]:
            state += f" until {open_now['next_change']}"
    water = item["water_today"]
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    for name, value in (
        ("station", f"{item['name']} ({item['code']}, id {item['id']})"),
        ("name_en", item["name_en"] or "-"),
        ("kind / status", f"{item['kind']} / {item['status']}"),
        ("access", item["access"]),
        ("amenities", ", ".join(item["amenities"]) or "-"),
        ("address", " ".join(filter(None, [item["district"], item["address"]])) or "-"),
        ("position", f"{item['position']['lat']}, {item['position']['lng']} ({crs})"),
        ("operator", item["operator"] or "-"),
        ("contact", item["contact"] or "-"),
        ("opening hours", f"{item['opening_hours'] or 'not known'} ({item['time_zone']})"),
        ("now", state),
        (
            "water today",
            f"{water['remaining']} of {water['allocated']} bottles left ({water['local_day']})"
            if water
            else "no stock set today",
        ),
        ("ratings", _rating_text(item["rating"])),
        ("verified", item["verified_at"] or "never"),
    ):
        facts.add_row(name, value)
    for n, day in enumerate(item["hours_next_7_days"]):
        facts.add_row("next 7 days" if n == 0 else "", f"{day['text_zh']}  |  {day['text_en']}")
    _console().print(facts)
