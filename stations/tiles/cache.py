"""Built tiles, kept with their ETag while the catalog and the live facts stand still.

An entry is good while three things hold: the catalog has not changed since it was
built (the search index's change channel calls :meth:`TileCache.forget`), the opening
states it used are the same (their generation), and it is younger than ``max_age_s``
(water left moves with every claim; a few seconds old is fine to look at, as for the
search answers). The cache holds at most ``size`` tiles, least recently used first out.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

from stations.tiles.grid import Tile


@dataclass(frozen=True)
class Built:
    data: bytes
    etag: str
    states: int  # the opening states' generation it was built with
    at: float  # time.monotonic() when built


def etag_of(data: bytes) -> str:
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'


class TileCache:
    def __init__(self, *, size: int, max_age_s: float) -> None:
        self.size = size
        self.max_age_s = max_age_s
        self._tiles: OrderedDict[Tile, Built] = OrderedDict()
        self.generation = 0  # moves whenever the catalog changes

    def get(self, tile: Tile, states: int) -> Built | None:
        built = self._tiles.get(tile)
        if built is None or built.states != states or time.monotonic() - built.at > self.max_age_s:
            return None
        self._tiles.move_to_end(tile)
        return built

    def put(self, tile: Tile, data: bytes, states: int, generation: int) -> Built:
        """Keep a tile built while the catalog was at ``generation`` (unless it moved since)."""
        built = Built(data, etag_of(data), states, time.monotonic())
        if generation != self.generation or self.size == 0:
            return built
        self._tiles[tile] = built
        self._tiles.move_to_end(tile)
        while len(self._tiles) > self.size:
            self._tiles.popitem(last=False)
        return built

    def forget(self) -> None:
        """The catalog changed: build every tile again."""
        self.generation += 1
        self._tiles.clear()
