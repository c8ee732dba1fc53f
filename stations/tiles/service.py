"""Tiles for the API: from the cache when it still holds, else built by PostGIS."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from stations.db.connection import pooled
from stations.search.service import IndexService
from stations.settings import VectorTileSettings
from stations.tiles.build import Live, street_tile, summary_tile
from stations.tiles.cache import Built, TileCache
from stations.tiles.cells import CellSummary, stored_resolution
from stations.tiles.grid import Layout, Tile


class TileService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        search: IndexService,
        settings: VectorTileSettings,
        *,
        acquire_timeout_s: float,
    ) -> None:
        self._pool = pool
        self._acquire_timeout_s = acquire_timeout_s
        self._search = search
        self.settings = settings
        self.layout = Layout(
            stations_from=settings.stations_from_zoom,
            city_cells_from=settings.city_cells_from_zoom,
            max_stations=settings.max_stations,
        )
        self.cache = TileCache(size=settings.cache_tiles, max_age_s=settings.cache_max_age_s)
        search.on_change.append(self.cache.forget)
        self._summaries: dict[int, tuple[int, CellSummary]] = {}
        self._summary_lock = asyncio.Lock()

    def states_generation(self) -> int:
        """The opening states' generation, after they are brought up to now (cheap)."""
        states = self._search.states
        states.refresh(time.time())
        return states.generation

    def live(self) -> Live:
        """Open-now expressions and water left: read only to build a tile."""
        specs = frozenset(self._search.states.open_specs_now(time.time()))
        return Live(specs, dict(self._search.live.water_left))

    async def summary(self, conn: asyncpg.Connection, res: int) -> CellSummary:
        """The per-cell summary of ``res``, read again once the catalog changed.

        The coarse national resolutions are summed from the res-7 summary (their cells
        are its cells' parents), so a change costs one read of the catalog for all of them.
        """
        async with self._summary_lock:
            return await self._summary(conn, res)

    async def _summary(self, conn: asyncpg.Connection, res: int) -> CellSummary:
        generation = self.cache.generation
        kept = self._summaries.get(res)
        if kept is not None and kept[0] == generation:
            return kept[1]
        stored = stored_resolution(res)
        if res == stored:
            summary = await CellSummary.read(conn, res)
        else:
            summary = (await self._summary(conn, stored)).coarsened(res)
        self._summaries[res] = (generation, summary)
        return summary

    async def tile(self, tile: Tile) -> Built:
        states = self.states_generation()
        kept = self.cache.get(tile, states)
        if kept is not None:
            return kept
        live = self.live()
        generation = self.cache.generation
        limit = self.settings.max_tile_bytes
        res = self.layout.resolution(tile.z)
        async with pooled(self._pool, self._acquire_timeout_s) as conn:
            if res is None:
                data = await street_tile(conn, tile, live, layout=self.layout, max_bytes=limit)
            else:
                summary = await self.summary(conn, res)
                data = await summary_tile(conn, tile, live, summary, max_bytes=limit)
        return self.cache.put(tile, data, states, generation)
