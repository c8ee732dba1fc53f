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
within seconds. The catalog itself is read at the moment the tile is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from stations.errors import StationsError
from stations.sql import load
from stations.tiles.grid import EXTENT, Layout, Tile

SQL = load("tiles", expand=lambda body: body)
CELL_TILE = {res: SQL.cell_tile.replace("{{res}}", str(res)) for res in (7, 9, 11)}

EQUATOR_M = 40_075_016.686
CELL_SPAN_M = {7: 3_000.0, 9: 450.0, 11: 70.0}
"""A little more than the widest H3 cell of each resolution, corner to corner."""


class TileTooLarge(StationsError):
    """A tile would exceed the size limit even with its densest stations as cells."""

    code = "tile_too_large"


@dataclass(frozen=True)
class Live:
    """What changes by the minute: hours open now, water left today."""

    open_hours: tuple[list[str | None], list[str], list[str | None]]
    water_ids: list[int]
    water_left: list[int]

    @classmethod
    def of(
        cls, open_specs: list[tuple[str | None, str, str | None]], water: dict[int, int]
    ) -> Live:
        open_specs = [spec for spec in open_specs if spec[0] is not None]
        return cls(
            (
                [spec[0] for spec in open_specs],
                [spec[1] for spec in open_specs],
                [spec[2] for spec in open_specs],
            ),
            list(water),
            list(water.values()),
        )

    def arguments(self) -> tuple[object, ...]:
        return (*self.open_hours, self.water_ids, self.water_left)


def cell_margin(tile: Tile, res: int) -> float:
    """The share of a tile's width within which every station of a drawn cell lies.

    A cell is drawn in the tile holding the centre of its stations, and each of them is
    within the cell's span of that centre; mercator stretches ground distances by
    1/cos(latitude), up to 2× at 60°, which the factor covers.
    """
    tile_width_m = EQUATOR_M / (1 << tile.z)
    return min(1.0, 2.0 * CELL_SPAN_M[res] / tile_width_m)


async def station_tile(
    conn: asyncpg.Connection, tile: Tile, live: Live, *, layout: Layout, max_bytes: int
) -> bytes:
    """The tile's bytes (an empty tile is zero bytes, as MVT allows)."""
    res = layout.resolution(tile.z)
    if res is None:
        data, drawn = await conn.fetchrow(
            SQL.station_tile, tile.z, tile.x, tile.y, *live.arguments(), layout.max_stations + 1
        )
        data = bytes(data or b"")
        if drawn <= layout.max_stations and len(data) <= max_bytes:
            return data
        res = 11
    data, _ = await conn.fetchrow(
        CELL_TILE[res], tile.z, tile.x, tile.y, *live.arguments(), cell_margin(tile, res)
    )
    data = bytes(data or b"")
    if len(data) > max_bytes:
        raise TileTooLarge(
            f"tile {tile.z}/{tile.y}/{tile.x} would be {len(data):,} bytes, over the "
            f"limit of {max_bytes:,}",
            bytes=len(data),
            limit=max_bytes,
        )
    return data


__all__ = ["EXTENT", "Live", "TileTooLarge", "cell_margin", "station_tile"]
