"""Per-station live data shown with every search result: rating summary and today's water.

This is the one place where those fields are filled in. The visit work (members,
ratings, water claims; migration ``0003``) brings the tables
``station_rating_summary(station_id, ratings, mean_stars, score, tag_counts, …)`` and
``water_stock(station_id, local_day, allocated, remaining)``. Until they exist every
result carries ``"rating": null`` and ``"water_today": null``.

To connect them: fill :meth:`LiveData.load` (all stations, at index load) and
:meth:`LiveData.refresh` (the stations whose ratings or stock changed, e.g. on a
NOTIFY from the rating and claim transactions), storing per station

* ``mean_stars[station_id]`` – the number ``min_rating`` compares with;
* ``rating_json[station_id]`` – e.g. ``{"ratings": 12, "mean_stars": 4.3, "score": 4.1,
  "tags": {"clean": 7}}`` (bytes, built once per change);
* ``water_json[station_id]`` – for water points, today's stock in the station's local
  day, e.g. ``{"local_day": "2026-07-15", "allocated": 200, "remaining": 37}``.

``min_rating`` semantics (documented in the API): a station without ratings has no
rating at or above any threshold, so ``min_rating`` excludes it. With no ratings at
all, ``min_rating`` therefore answers an empty list.
"""

from __future__ import annotations

import asyncpg
import numpy as np

_NULL = b"null"


class LiveData:
    """Ratings and water stock by station id, rendered once per change."""

    def __init__(self) -> None:
        self.mean_stars: dict[int, float] = {}
        self.rating_json: dict[int, bytes] = {}
        self.water_json: dict[int, bytes] = {}

    async def load(self, conn: asyncpg.Connection) -> None:
        """Read every station's rating summary and today's stock (nothing to read yet)."""

    async def refresh(self, conn: asyncpg.Connection, station_ids: list[int]) -> None:
        """Re-read the live data of some stations (nothing to read yet)."""

    def rating_fragment(self, station_id: int) -> bytes:
        return self.rating_json.get(station_id, _NULL)

    def water_fragment(self, station_id: int) -> bytes:
        return self.water_json.get(station_id, _NULL)

    def stars_of(self, station_ids: np.ndarray) -> np.ndarray:
        """Mean stars per id (NaN when the station has no ratings)."""
        if not self.mean_stars:
            return np.full(len(station_ids), np.nan)
        get = self.mean_stars.get
        return np.fromiter(
            (get(i, np.nan) for i in station_ids.tolist()), dtype=float, count=len(station_ids)
        )

    def count_at_least(self, min_rating: float) -> int:
        """How many stations have a mean rating ≥ ``min_rating`` (for planning the search)."""
        return sum(1 for stars in self.mean_stars.values() if stars >= min_rating)
