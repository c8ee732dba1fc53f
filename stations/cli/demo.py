"""``stations demo --city huaibei|xian [--seed N] [--dry-run]``: load a demo city."""

from __future__ import annotations

from typing import Any

import typer

from stations.cli.runner import run_connected
from stations.demo.cities import CITIES
from stations.demo.generator import DemoCity, generate_city
from stations.demo.load import DemoLoadReport, load_demo


def demo(
    city: str = typer.Option(..., "--city", help=f"Which city: {' or '.join(CITIES)}."),
    seed: int = typer.Option(1, "--seed", min=0, help="Same seed, same catalog."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Check and count through the importers, write nothing."
    ),
) -> None:
    """Generate a realistic, deterministic demo catalog and worker activity, and import them.

    Re-running with the same seed changes nothing: the importers match rows on
    (source, source_id), with sources demo-<city> and demo-<city>-demand.
    """
    generated = generate_city(city, seed=seed)
    _print_generated(generated)
    report = run_connected(
        lambda conn: load_demo(conn, generated, actor="stations demo", dry_run=dry_run)
    )
    _print_report(report)


def _print_generated(generated: DemoCity) -> None:
    stations = generated.stations
    kinds = stations["kind"].value_counts().sort_index()
    statuses = stations["status"].value_counts().sort_index()
    print(f"{generated.spec.name} (seed {generated.seed}): {len(stations)} stations")
    print("  " + ", ".join(f"{k}: {n}" for k, n in kinds.items()))
    print("  " + ", ".join(f"{k}: {n}" for k, n in statuses.items()))
    activities = generated.demand["activity"].value_counts().sort_index()
    print(f"  {len(generated.demand)} worker-activity points")
    print("  " + ", ".join(f"{k}: {n}" for k, n in activities.items()))


def _print_report(report: DemoLoadReport) -> None:
    verb = "would load" if report.dry_run else "loaded"
    print(f"{verb} into the catalog (source demo-{report.city}): {_describe(report.stations)}")
    print(f"{verb} demand (source demo-{report.city}-demand): {_describe(report.demand)}")


_COUNTS = ("read", "rows", "created", "inserted", "updated", "unchanged", "rejected")


def _describe(report: Any) -> str:
    """The importer report's counts (whichever of them it has), else its own text."""
    counts = [f"{key} {getattr(report, key)}" for key in _COUNTS if hasattr(report, key)]
    totals = getattr(report, "totals_by_code", None)
    rejected: Any = getattr(report, "rejected", None)
    if callable(totals) and rejected:
        counts.append("problems: " + ", ".join(f"{c} {n}" for c, n in totals().most_common()))
    return ", ".join(counts) if counts else str(report)
