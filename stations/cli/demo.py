"""``stations demo --city huaibei|xian | --national [--seed N] [--dry-run]``: load a demo."""

from __future__ import annotations

import time
from typing import Any

import typer

from stations.cli.runner import run_connected
from stations.demo.cities import CITIES
from stations.demo.generator import DemoCity, generate_city
from stations.demo.load import DemoLoadReport, load_demo
from stations.demo.national import DemoNational, generate_national


def demo(
    city: str | None = typer.Option(None, "--city", help=f"Which city: {' or '.join(CITIES)}."),
    national: bool = typer.Option(
        False,
        "--national",
        help="The national catalog: 393,700 stations and water points over China's cities.",
    ),
    scale: float = typer.Option(
        1.0, "--scale", min=0.0, max=1.0, help="With --national: a share of every count."
    ),
    seed: int = typer.Option(1, "--seed", min=0, help="Same seed, same catalog."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Check and count through the importers, write nothing."
    ),
) -> None:
    """Generate a realistic, deterministic demo catalog and worker activity, and import them.

    Re-running with the same seed changes nothing: the importers match rows on
    (source, source_id), with sources demo-<city> and demo-<city>-demand
    (demo-national and demo-national-demand).
    """
    if (city is None) == (not national):
        raise typer.BadParameter("name a city with --city, or give --national", param_hint="--city")
    started = time.perf_counter()
    generated: DemoCity | DemoNational
    if national:
        generated = generate_national(seed=seed, scale=scale)
    else:
        assert city is not None
        generated = generate_city(city, seed=seed)
    _print_generated(generated, time.perf_counter() - started)
    report = run_connected(
        lambda conn: load_demo(conn, generated, actor="stations demo", dry_run=dry_run)
    )
    _print_report(report)
    print(f"done in {time.perf_counter() - started:.1f} s")


def _print_generated(generated: DemoCity | DemoNational, seconds: float) -> None:
    stations = generated.stations
    kinds = stations["kind"].value_counts().sort_index()
    statuses = stations["status"].value_counts().sort_index()
    if isinstance(generated, DemoNational):
        where = (
            f"全国 (seed {generated.seed}, scale {generated.scale:g}): {generated.cities} "
            f"city-level units, {generated.divisions} county-level divisions"
        )
    else:
        where = f"{generated.spec.name} (seed {generated.seed})"
    print(f"{where}: {len(stations)} stations, generated in {seconds:.1f} s")
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
