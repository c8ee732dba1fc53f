"""Loading a generated demo city through the catalog and demand importers."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from stations.coverage.demand import DemandImportReport, import_demand_frame
from stations.demo.generator import DemoCity
from stations.importer import ImportReport, import_frame


@dataclass(frozen=True)
class DemoLoadReport:
    """What loading a demo city did: the importers' own reports."""

    city: str
    seed: int
    dry_run: bool
    stations: ImportReport
    demand: DemandImportReport


async def load_demo(
    conn: asyncpg.Connection,
    demo: DemoCity,
    *,
    actor: str = "demo",
    dry_run: bool = False,
) -> DemoLoadReport:
    """Import a generated city's stations and demand points through the importers.

    Both importers are idempotent per (source, source_id), so loading the same seed
    again creates nothing new.
    """
    stations_report = await import_frame(
        conn, demo.stations, source=demo.source, actor=actor, dry_run=dry_run
    )
    demand_report = await import_demand_frame(
        conn, demo.demand, source=demo.demand_source, actor=actor, dry_run=dry_run
    )
    return DemoLoadReport(
        city=demo.spec.key,
        seed=demo.seed,
        dry_run=dry_run,
        stations=stations_report,
        demand=demand_report,
    )
