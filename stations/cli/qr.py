"""``stations qr posters | url``: the signed QR codes stations print."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import typer

from stations.cli.runner import run_connected
from stations.errors import InvalidInput
from stations.people import accounts
from stations.settings import get_settings
from stations.visits import posters, qr

app = typer.Typer(help="Signed station QR codes and printable posters.")


@app.command("posters")
def posters_(
    station: list[str] = typer.Option([], "--station", "-s", help="Station code (repeatable)."),
    all_stations: bool = typer.Option(False, "--all", help="Every station that is not closed."),
    output: Path = typer.Option(Path("posters.pdf"), "--output", "-o", help="PDF to write."),
    size: str = typer.Option("a5", help="Page size: a5 or a4."),
) -> None:
    """Render one poster per station (name, code, QR, instructions) into a PDF."""
    if bool(station) == all_stations:
        raise InvalidInput("name stations with --station CODE, or print every one with --all")
    settings = get_settings()

    async def load(conn: asyncpg.Connection) -> list[dict]:
        ids = await accounts.station_ids_for_codes(conn, station) if station else None
        return await posters.stations_for_posters(conn, station_ids=ids)

    stations = run_connected(load)
    pdf = posters.render_pdf(
        stations,
        security=settings.security,
        base_url=settings.api.public_base_url,
        page_size=size,
    )
    output.write_bytes(pdf)
    key = settings.security.qr_active_keys[0]
    print(f"wrote {len(stations)} poster(s) to {output} (signed with key {key})")


@app.command()
def url(code: str) -> None:
    """The signed URL a station's QR code holds."""
    settings = get_settings()
    print(
        qr.poster_url(
            code.strip().upper(),
            security=settings.security,
            base_url=settings.api.public_base_url,
        )
    )
