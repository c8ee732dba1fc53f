"""The WebMercatorQuad tile grid (OGC Two Dimensional Tile Matrix Set) and what a tile shows.

Zoom ``z`` has ``2**z × 2**z`` tiles; tile ``(z, y, x)`` counts rows from the north
(``y``) and columns from the antimeridian (``x``), as OGC API – Tiles and every XYZ
client do. A national catalog of 184,000 stations cannot be drawn point by point at
zoom 4, so below :attr:`Layout.stations_from` a tile carries one feature per H3 cell
with the cell's counts (at national zooms cells about as wide as a circle drawn for
them, :data:`NATIONAL_RESOLUTION`; the stations' stored ``h3_r7`` just before city
zooms and ``h3_r9`` at them); from that zoom on it carries the stations themselves.

"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stations.errors import NotFound

MAX_ZOOM = 22

NATIONAL_RESOLUTION = {4: 1, 5: 2, 6: 3, 7: 4, 8: 5}
"""H3 resolution by zoom below :attr:`Layout.city_cells_from` (lower zooms: that of 4).

A cell's edge is then 17–52 pixels long, about the circle a map draws for it: with
the stored res-7 cells a zoom-4 tile over eastern China held 16,700 cells of the
national demo (756 kB, over the limit, and a blot on the map); with res-1 cells China
is about thirty circles. The coarse cells are the stored ``h3_r7``'s parents."""


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
    """From this zoom on (and below ``stations_from``) cells of res 9, before it the
    coarser cells of :data:`NATIONAL_RESOLUTION`."""
    max_stations: int = 5000
    """The most stations one tile draws; a denser tile draws res-11 cells instead."""

    def resolution(self, z: int) -> int | None:
        """The H3 resolution a tile at zoom ``z`` aggregates to, or None for stations."""
        if z >= self.stations_from:
            return None
        if z >= self.city_cells_from:
            return 9
        return NATIONAL_RESOLUTION.get(max(z, 4), 7)
