"""The catalog by H3 cell, for tiles at national and city zooms.

A tile at zoom 4 covers most of a province's stations; counting them per tile in SQL
took seconds. Instead the catalog is summed once per change by its stored cell column
(``h3_r7`` or ``h3_r9``; the coarser cells of the national zooms are parents of
``h3_r7``) and opening-hours triple (:class:`CellSummary`, one query),
and a tile picks the cells whose centre (the mean position of their stations) lies in
it, adding what is live: stations open now (from the triples open now) and the bottles
left today. Every station of a cell is counted, and each cell is drawn in exactly one
tile, its centre's.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import numpy as np

from stations.geo.h3cells import parent_array
from stations.search.openness import Spec
from stations.sql import load
from stations.tiles.grid import Tile

SQL = load("tiles", expand=lambda body: body)
SUMMARY = {res: SQL.cell_summary.replace("{{res}}", str(res)) for res in (7, 9)}


def stored_resolution(res: int) -> int:
    """The stored cell column that cells of ``res`` are read from (themselves or parents)."""
    return 9 if res >= 9 else 7


def cells_at(stored: np.ndarray, res: int) -> np.ndarray:
    """Cells of the stored column (``h3_r7`` or ``h3_r9``) as cells of ``res``."""
    if res == stored_resolution(res):
        return stored.astype(np.int64, copy=False)
    return parent_array(stored, res).astype(np.int64)


@dataclass(frozen=True)
class Cells:
    """The cells one tile draws, with their counts (parallel arrays)."""

    cell: np.ndarray
    lat: np.ndarray
    lng: np.ndarray
    stations: np.ndarray
    water_points: np.ndarray
    open_now: np.ndarray
    water_left: np.ndarray

    def arguments(self) -> tuple[list[int] | list[float], ...]:
        """The columns in the order of the query ``cells_mvt``."""
        columns = (self.cell, self.lat, self.lng, self.stations, self.water_points)
        return tuple(c.tolist() for c in (*columns, self.open_now, self.water_left))


@dataclass(frozen=True)
class CellSummary:
    """The catalog per cell of one resolution, as read at one catalog generation."""

    res: int
    cell: np.ndarray  # int64, sorted
    lat: np.ndarray
    lng: np.ndarray
    stations: np.ndarray
    water_points: np.ndarray
    # one row per (cell, opening-hours triple): the cell's position, the triple's
    # position in ``specs``, and the cell's active stations with those hours
    row_cell: np.ndarray
    row_spec: np.ndarray
    row_active: np.ndarray
    specs: list[Spec]

    @classmethod
    async def read(cls, conn: asyncpg.Connection, res: int) -> CellSummary:
        rows = await conn.fetch(SUMMARY[res])
        raw = np.array([r["cell"] for r in rows], dtype=np.int64)
        cell, row_cell = np.unique(raw, return_inverse=True)
        size = len(cell)

        def per_cell(values: list[float]) -> np.ndarray:
            return np.bincount(row_cell, weights=np.array(values, dtype=float), minlength=size)

        stations = per_cell([r["stations"] for r in rows])
        keys: dict[Spec, int] = {}
        row_spec = np.array(
            [keys.setdefault((r["hours"], r["zone"], r["country"]), len(keys)) for r in rows],
            dtype=np.int64,
        )
        return cls(
            res=res,
            cell=cell,
            lat=per_cell([r["lat_sum"] for r in rows]) / np.maximum(stations, 1),
            lng=per_cell([r["lng_sum"] for r in rows]) / np.maximum(stations, 1),
            stations=stations.astype(np.int64),
            water_points=per_cell([r["water_points"] for r in rows]).astype(np.int64),
            row_cell=row_cell,
            row_spec=row_spec,
            row_active=np.array([r["active"] for r in rows], dtype=np.int64),
            specs=list(keys),
        )

    def coarsened(self, res: int) -> CellSummary:
        """The same catalog per parent cell of ``res`` (coarser than this summary's)."""
        parents = cells_at(self.cell, res)
        cell, old_to_new = np.unique(parents, return_inverse=True)
        size = len(cell)
        stations = np.bincount(old_to_new, weights=self.stations, minlength=size)
        weight = np.maximum(stations, 1)

        def summed(values: np.ndarray) -> np.ndarray:
            return np.bincount(old_to_new, weights=values, minlength=size)

        return CellSummary(
            res=res,
            cell=cell,
            lat=summed(self.lat * self.stations) / weight,
            lng=summed(self.lng * self.stations) / weight,
            stations=stations.astype(np.int64),
            water_points=summed(self.water_points).astype(np.int64),
            row_cell=old_to_new[self.row_cell],
            row_spec=self.row_spec,
            row_active=self.row_active,
            specs=self.specs,
        )

    def in_tile(
        self, tile: Tile, open_specs: frozenset[Spec], water_cells: dict[int, int]
    ) -> Cells:
        """The cells whose centre lies in ``tile`` (west and north edges included)."""
        west, south, east, north = tile.bounds()
        inside = (self.lng >= west) & (self.lng < east) & (self.lat > south) & (self.lat <= north)
        chosen = np.flatnonzero(inside)
        spec_open = np.fromiter(
            (spec in open_specs for spec in self.specs), dtype=bool, count=len(self.specs)
        )
        open_now = np.bincount(
            self.row_cell,
            weights=self.row_active * spec_open[self.row_spec],
            minlength=len(self.cell),
        )
        cells = self.cell[chosen]
        water = np.array([water_cells.get(int(c), 0) for c in cells], dtype=np.int64)
        return Cells(
            cell=cells,
            lat=self.lat[chosen],
            lng=self.lng[chosen],
            stations=self.stations[chosen],
            water_points=self.water_points[chosen],
            open_now=open_now[chosen].astype(np.int64),
            water_left=water,
        )


async def water_by_cell(
    conn: asyncpg.Connection, water: dict[int, int], res: int
) -> dict[int, int]:
    """Bottles left today, summed per cell of ``res``."""
    if not water:
        return {}
    rows = await conn.fetch(SQL.cells_of_stations, list(water))
    stored = np.array([r[f"h3_r{stored_resolution(res)}"] for r in rows], dtype=np.int64)
    out: dict[int, int] = {}
    for row, cell in zip(rows, cells_at(stored, res).tolist(), strict=True):
        out[cell] = out.get(cell, 0) + water[row["id"]]
    return out


async def cells_tile(conn: asyncpg.Connection, tile: Tile, cells: Cells, res: int) -> bytes:
    data = await conn.fetchval(SQL.cells_mvt, tile.z, tile.x, tile.y, res, *cells.arguments())
    return bytes(data or b"")
