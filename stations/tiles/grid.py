"""The WebMercatorQuad tile grid (OGC Two Dimensional Tile Matrix Set) and what a tile shows.

Zoom ``z`` has ``2**z × 2**z`` tiles; tile ``(z, y, x)`` counts rows from the north
(``y``) and columns from the antimeridian (``x``), as OGC API – Tiles and every XYZ
client do. A national catalog of 184,000 stations cannot be drawn point by point at
zoom 4, so below :attr:`Layout.stations_from` a tile carries one feature per H3 cell
(the stations' stored ``h3_r7`` at national zooms, ``h3_r9`` at city zooms) with the
cell's counts; from that zoom on it carries the stations themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stations.errors import NotFound

MAX_ZOOM = 22


@dataclass(frozen=True)
class Tile:
    z: int
    y: int
    x: int

    @classmethod
    def parse(cls, z: int, y: int, x: int) -> Tile:
        """A tile of the grid, or NotFound saying which number is outside it."""
        if not 0 <= z <= MAX_ZOOM:
            raise NotFound(
                f"tileMatrix {z} is not a zoom of WebMercatorQuad here (0-{MAX_ZOOM})",
                code="tile_not_found",
                tile=f"{z}/{y}/{x}",
            )
        side = 1 << z
        for name, value in (("tileRow", y), ("tileCol", x)):
            if not 0 <= value < side:
                raise NotFound(
                    f"{name} {value} does not exist at zoom {z} (0-{side - 1})",
                    code="tile_not_found",
                    tile=f"{z}/{y}/{x}",
                )
        return cls(z, y, x)

    def bounds(self) -> tuple[float, float, float, float]:
        """West, south, east, north in degrees (WGS84)."""
        side = 1 << self.z

        def lat(row: int) -> float:
            return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / side))))

        west = self.x / side * 360.0 - 180.0
        east = (self.x + 1) / side * 360.0 - 180.0
        return west, lat(self.y + 1), east, lat(self.y)


@dataclass(frozen=True)
class Layout:
    """What a stations tile carries at each zoom."""

    stations_from: int = 12
    """From this zoom on, the stations themselves; below it, H3 cell aggregates."""
    city_cells_from: int = 9
    """From this zoom on (and below ``stations_from``) cells of res 9, before it res 7."""
    max_stations: int = 5000
    """The most stations one tile draws; a denser tile draws res-11 cells instead."""

    def resolution(self, z: int) -> int | None:
        """The H3 resolution a tile at zoom ``z`` aggregates to, or None for stations."""
        if z >= self.stations_from:
            return None
        return 9 if z >= self.city_cells_from else 7
