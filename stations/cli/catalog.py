"""``stations import`` and ``stations export``: the catalog in and out of files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from stations.catalog.export import export_stations
from stations.cli.runner import run_connected
from stations.importer import ImportReport, import_file

SHOWN_PROBLEMS = 20
_PROGRESS_FROM_ROWS = 20_000


def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV, Excel .xlsx, JSON array, GeoJSON, GeoPackage, Shapefile or GeoParquet."
        ),
    ],
    format: Annotated[
        str | None,
        typer.Option(
            "--format", help="csv|xlsx|json|geojson|gpkg|shp|parquet (default: extension)."
        ),
    ] = None,
    sheet: Annotated[
        str | None,
        typer.Option("--sheet", help="The sheet of an Excel workbook (default: the first)."),
    ] = None,
    crs: Annotated[
        str | None, typer.Option("--crs", help="wgs84|gcj02|bd09|EPSG:n of the coordinates.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="love_station|water_point for rows without one.")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Source name (default: mapping's or file name).")
    ] = None,
    mapping: Annotated[
        str | None,
        typer.Option(
            "--mapping",
            help="Mapping TOML (file columns to catalog fields): a path, or the name of "
            "a bundled one, e.g. paris-fontaines.",
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="minlng,minlat,maxlng,maxlat or a GeoJSON polygon file; rows outside are refused.",
        ),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="Force the text encoding (e.g. gb18030).")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="Force the CSV delimiter (sniffed otherwise).")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="IANA zone for rows without one (default: from position)."),
    ] = None,
    country: Annotated[
        str | None,
        typer.Option("--country", help="Country code for rows without one (default: from zone)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and report; write nothing.")
    ] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write every problem to this CSV.")
    ] = None,
    actor: Annotated[
        str, typer.Option("--actor", help="Who the station history names as the writer.")
    ] = "cli",
    show: Annotated[
        int, typer.Option("--show", min=0, help="How many problems to print.")
    ] = SHOWN_PROBLEMS,
    timings: Annotated[
        bool, typer.Option("--timings", help="Print the seconds spent in each stage.")
    ] = False,
    wait_for_indexes: Annotated[
        bool,
        typer.Option(
            "--wait-for-indexes",
            help="After a bulk import, build the search indexes before returning "
            "(default: in the background, after the commit).",
        ),
    ] = False,
) -> None:
    """Import stations from a file: check every row, report problems, write the good rows."""
    console = Console()
    err = Console(stderr=True)
    result = run_connected(
        lambda conn: _import(
            conn,
            file,
            err,
            format=format,
            crs=crs,
            kind=kind,
            source=source,
            mapping=mapping,
            region=region,
            encoding=encoding,
            delimiter=delimiter,
            time_zone=timezone,
            country=country,
            dry_run=dry_run,
            report_csv=report,
            actor=actor,
            index_builds="wait" if wait_for_indexes else "background",
            sheet=sheet,
        )
    )
    if result.deferred_indexes:
        pid = start_index_builder()
        result.notes.append(
            f"{len(result.deferred_indexes)} search indexes are being built in the background "
            f"(process {pid}); `stations db status` lists those not built yet"
        )
    print_report(console, result, show=show)
    if timings:
        other = result.seconds - sum(result.timings.values())
        for stage, seconds in [*result.timings.items(), ("read, map, other", other)]:
            console.print(f"  {seconds:7.1f} s  {stage}")
    if report is not None:
        console.print(
            f"all {len(result.problem_frame)} problems and {len(result.warning_frame)} "
            f"warnings written to {report}"
        )
    if result.imported == 0:
        raise typer.Exit(1)


def start_index_builder() -> int:
    """``stations db indexes`` as a process of its own that outlives this command (same
    settings: it inherits the environment and the working directory); returns its pid."""
    child = subprocess.Popen(
        [sys.executable, "-m", "stations.cli", "db", "indexes"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # not stopped with this command's terminal
    )
    return child.pid


async def _import(
    conn: asyncpg.Connection, file: Path, err: Console, **options: Any
) -> ImportReport:
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    tasks: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int | None) -> None:
        if total is not None and total < _PROGRESS_FROM_ROWS and stage == "rows":
            return
        if stage not in tasks:
            label = "reading and checking rows" if stage == "rows" else "writing stations"
            tasks[stage] = bar.add_task(label, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    with bar:
        return await import_file(conn, file, progress=progress, **options)


def print_report(console: Console, report: ImportReport, *, show: int = SHOWN_PROBLEMS) -> None:
    """The report as a person reads it: problems first, then warnings, then totals."""
    problems, warnings = report.problem_frame, report.warning_frame
    for title, items, frame in (
        ("Problems (first {n} of {total})", report.problems, problems),
        ("Warnings (first {n} of {total}; the rows were imported)", report.warnings, warnings),
    ):
        if len(frame) and show:
            table = Table(title=title.format(n=min(show, len(frame)), total=len(frame)))
            for column in ("row", "field", "code", "reason", "value"):
                table.add_column(column, overflow="fold")
            for p in items[:show]:
                table.add_row(str(p.row), p.field, p.code, p.reason, p.value or "")
            console.print(table)
    if (len(problems) or len(warnings)) and show:
        console.print(f"[dim]{report.row_numbering}[/dim]")
    for title, totals in (
        ("Problems by reason", report.totals_by_code()),
        ("Warnings by reason", report.warning_totals_by_code()),
    ):
        if totals:
            table = Table(title=title)
            table.add_column("reason")
            table.add_column("count", justify="right")
            for code, count in totals.most_common():
                table.add_row(code, str(count))
            console.print(table)
    for note in report.notes:
        console.print(f"note: {note}")
    verb = "would be " if report.dry_run else ""
    warned = len(warnings)
    console.print(
        f"source {report.source}: {report.read} rows read; {verb}created {report.created}, "
        f"{verb}updated {report.updated}, unchanged {report.unchanged}, "
        f"rejected {report.rejected}"
        + (f", {warned} warning{'s' if warned != 1 else ''}" if warned else "")
        + f" ({report.seconds:.1f} s)"
        + (" — dry run, nothing written" if report.dry_run else "")
    )
    if report.imported == 0:
        print("error: nothing could be imported; see the problems above", file=sys.stderr)


def export_command(
    format: Annotated[
        str, typer.Option("--format", help="geojson|csv|gpkg|parquet (GeoParquet).")
    ] = "geojson",
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="File to write (default: stations.<format>)."),
    ] = None,
    bbox: Annotated[
        str | None, typer.Option("--bbox", help="minlng,minlat,maxlng,maxlat (WGS84).")
    ] = None,
    crs: Annotated[
        str | None,
        typer.Option("--crs", help="wgs84|gcj02|bd09|EPSG:n of the exported coordinates."),
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
) -> None:
    """Export stations; importing the file back as the same source changes nothing."""
    path = output or Path(f"stations.{format.lower()}")

    count = run_connected(
        lambda conn: export_stations(conn, path, format=format, bbox=bbox, crs=crs, source=source)
    )
    Console().print(f"exported {count} stations to {path}")
