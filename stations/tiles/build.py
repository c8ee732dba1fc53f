"""One vector tile of the stations, built by PostGIS (``ST_AsMVT``).

Below the layout's street zoom a tile holds the layer ``cells``: one point per H3 cell
(at the centre of its stations) with ``stations``, ``water_points``, ``open_now`` and
``water_left`` (bottles left today); from it on, the layer ``stations`` with what a
map popup shows (id, code, name, name_en, kind, status, amenities, open_now,
water_left). A tile denser than the layout allows draws res-11 cells instead, so no
tile grows past its size limit; one still over it is refused (:class:`TileTooLarge`),
never cut silently.

What is live comes from the search index (:class:`Live`): which opening-hours
expressions are open now, and the water left today, which the claims keep current
within seconds. A street tile reads the catalog when it is built; national and city
tiles read the per-cell summary of :mod:`stations.tiles.cells`, read again after each
catalog change.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from stations.errors import StationsError
from stations.search.openness import Spec
from stations.sql import load
from stations.tiles.cells import CellSummary, cells_tile, water_by_cell
from stations.tiles.grid import Layout, Tile

SQL = load("tiles", expand=lambda body: body)


EQUATOR_M = 40_075_016.686
RES11_SPAN_M = 70.0
"""A little more than the widest res-11 cell, corner to corner."""


class TileTooLarge(StationsError):
    """A tile would exceed the size limit even with its densest stations as cells."""

    code = "tile_too_large"


@dataclass(frozen=True)
class Live:
    """What changes by the minute: the hours triples open now, the water left today."""

    open_specs: frozenset[Spec]
    water: dict[int, int]  # station id -> bottles left today

    def arguments(self) -> tuple[object, ...]:
        """As the street and dense-tile queries take them: three arrays, then two."""
        specs = [spec for spec in self.open_specs if spec[0] is not None]
        return (
            [spec[0] for spec in specs],
            [spec[1] for spec in specs],
            [spec[2] for spec in specs],
            list(self.water),
            list(self.water.values()),
        )


def dense_margin(tile: Tile) -> float:
    """The share of a tile's width within which every station of a drawn cell lies.

    A cell is drawn in the tile holding the centre of its stations, and each of them is
    within the cell's span of that centre; mercator stretches ground distances by
    1/cos(latitude), up to 2× at 60°, which the factor covers.
    """
    tile_width_m = EQUATOR_M / (1 << tile.z)
    return min(1.0, 2.0 * RES11_SPAN_M / tile_width_m)


async def street_tile(
    conn: asyncpg.Connection, tile: Tile, live: Live, *, layout: Layout, max_bytes: int
) -> bytes:
    """A tile at street zoom: its stations, or res-11 cells where they are too dense.

    An empty tile is zero bytes, as MVT allows.
    """
    limit = layout.max_stations
    if await conn.fetchval(SQL.stations_in_tile, tile.z, tile.x, tile.y, limit + 1) <= limit:
        data, _ = await conn.fetchrow(
            SQL.station_tile, tile.z, tile.x, tile.y, *live.arguments(), limit
        )
        data = bytes(data or b"")
        if len(data) <= max_bytes:
            return data
    data, _ = await conn.fetchrow(
        SQL.dense_tile, tile.z, tile.x, tile.y, *live.arguments(), dense_margin(tile)
    )
    return within(tile, bytes(data or b""), max_bytes)


async def summary_tile(
    conn: asyncpg.Connection, tile: Tile, live: Live, summary: CellSummary, *, max_bytes: int
) -> bytes:
    """A tile at national or city zoom: the summary's cells whose centre is in it."""
    water = await water_by_cell(conn, live.water, summary.res)
    cells = summary.in_tile(tile, live.open_specs, water)
    return within(tile, await cells_tile(conn, tile, cells, summary.res), max_bytes)


def within(tile: Tile, data: bytes, max_bytes: int) -> bytes:
    if len(data) > max_bytes:
        raise TileTooLarge(
            f"tile {tile.z}/{tile.y}/{tile.x} would be {len(data):,} bytes, over the "
            f"limit of {max_bytes:,}",
            bytes=len(data),
            limit=max_bytes,
        )
    return data


__all__ = ["Live", "TileTooLarge", "dense_margin", "street_tile", "summary_tile"]
