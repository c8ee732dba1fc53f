"""Tiles for the API: from the cache when it still holds, else built by PostGIS."""

from __future__ import annotations

import time

import asyncpg

from stations.db.connection import pooled
from stations.search.service import IndexService
from stations.settings import VectorTileSettings
from stations.tiles.build import Live, station_tile
from stations.tiles.cache import Built, TileCache
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

    def live(self) -> tuple[Live, int]:
        """Open-now expressions and water left, and the opening states' generation."""
        states = self._search.states
        specs = states.open_specs_now(time.time())
        return Live.of(specs, dict(self._search.live.water_left)), states.generation

    async def tile(self, tile: Tile) -> Built:
        live, states = self.live()
        kept = self.cache.get(tile, states)
        if kept is not None:
            return kept
        generation = self.cache.generation
        async with pooled(self._pool, self._acquire_timeout_s) as conn:
            data = await station_tile(
                conn,
                tile,
                live,
                layout=self.layout,
                max_bytes=self.settings.max_tile_bytes,
            )
        return self.cache.put(tile, data, states, generation)
