"""Loading a generated demo (a city or the national catalog) through the importers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import asyncpg
import pandas as pd

from stations.coverage.demand import DemandImportReport, import_demand_frame
from stations.geo import crs as crsmod
from stations.importer import ImportReport, import_frame


class Demo(Protocol):
    """What the loader needs of a generated demo (``DemoCity`` or ``DemoNational``)."""

    @property
    def key(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def crs(self) -> str | None: ...
    @property
    def source(self) -> str: ...
    @property
    def demand_source(self) -> str: ...
    @property
    def stations(self) -> pd.DataFrame: ...
    @property
    def demand(self) -> pd.DataFrame: ...


@dataclass(frozen=True)
class DemoLoadReport:
    """What loading a demo did: the importers' own reports."""

    city: str
    seed: int
    dry_run: bool
    stations: ImportReport
    demand: DemandImportReport


async def load_demo(
    conn: asyncpg.Connection,
    demo: Demo,
    *,
    actor: str = "demo",
    dry_run: bool = False,
) -> DemoLoadReport:
    """Import a generated demo's stations and demand points through the importers.

    Both importers are idempotent per (source, source_id), so loading the same seed
    again creates nothing new. A national catalog takes the station importer's bulk
    path (COPY, indexes built after the commit) like any large first import.
    """
    crs = crsmod.parse_crs(demo.crs)
    stations_report = await import_frame(
        conn, demo.stations, source=demo.source, actor=actor, crs=crs, dry_run=dry_run
    )
    demand_report = await import_demand_frame(
        conn, demo.demand, source=demo.demand_source, actor=actor, crs=crs, dry_run=dry_run
    )
    return DemoLoadReport(
        city=demo.key,
        seed=demo.seed,
        dry_run=dry_run,
        stations=stations_report,
        demand=demand_report,
    )
