"""``stations demand import FILE`` and ``stations demand summary``.

Reads CSV (UTF-8 or GBK/GB18030) or any point file GDAL reads, then imports it with
:func:`stations.coverage.demand.import_demand_frame` (per-row checks, idempotent upsert).
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer

from stations.cli.runner import run_connected

app = typer.Typer(help="Worker activity (demand) for coverage analysis.")


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(help="CSV, GeoJSON, GeoPackage, Shapefile or GeoParquet.")
    ],
    source: str = typer.Option(..., help="Where the data comes from, e.g. meituan-2025-07."),
    crs: str = typer.Option(None, help="wgs84 (default), gcj02, bd09 or EPSG:n."),
    time_zone: str = typer.Option("Asia/Shanghai", help="Zone of times written without one."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and count; write nothing."),
    actor: str = typer.Option(None, help="Who runs the import (default: the login name)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import demand points; re-importing the same file changes nothing."""
    from stations.coverage.demand import import_demand_frame, read_points_file

    frame, parsed = read_points_file(file, crs=crs)
    report = run_connected(
        lambda conn: import_demand_frame(
            conn,
            frame,
            source=source,
            actor=actor or f"cli:{getpass.getuser()}",
            crs=parsed,
            dry_run=dry_run,
            time_zone=time_zone,
        )
    )
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        verb = "would import" if dry_run else "imported"
        print(
            f"[demand] {verb} {file.name} ({report.crs}): {report.rows} rows, "
            f"{report.inserted} new, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.rejected} rejected"
        )
        for p in report.problems[:50]:
            print(f"  row {p.row}: {p.field} {p.reason}")
        if len(report.problems) > 50:
            print(f"  … and {len(report.problems) - 50} more (use --json for all)")
    if report.rejected and not report.inserted and not report.updated and not report.unchanged:
        raise typer.Exit(1)


@app.command()
def summary() -> None:
    """Demand per source: points, total weight, first and last observation."""
    from stations.coverage.demand import demand_summary

    for row in run_connected(demand_summary):
        print(
            f"{row['source']:<32} {row['points']:>10,} points  weight {row['weight']:,.1f}  "
            f"{row['first_observed'] or '—'} … {row['last_observed'] or '—'}"
        )
