"""The feature collections ``/ogc`` serves, each a view of the catalog.

A collection names the station kinds it holds and which queryables it offers; its
features all share one shape, built from the station field table. Another kind of
collection (coverage cells, tiles of a collection) adds an entry here and, for its
own links, a name in :attr:`Collection.extra_links`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stations.catalog.fields import KINDS
from stations.errors import NotFound


@dataclass(frozen=True)
class Collection:
    """One collection: id, titles in both languages, the kinds it holds, its queryables."""

    id: str
    title_zh: str
    title_en: str
    description_zh: str
    description_en: str
    kinds: tuple[str, ...]
    queryables: tuple[str, ...]
    extra_links: tuple[dict[str, str], ...] = field(default=())
    """Links other parts of the service add (e.g. tilesets), relative to the collection."""

    @property
    def kind_filter(self) -> list[str] | None:
        """The kinds to select (None: every kind, so no condition)."""
        return None if set(self.kinds) == set(KINDS) else list(self.kinds)


STATIONS = Collection(
    id="stations",
    title_zh="爱心驿站与派水点",
    title_en="Love stations and water points",
    description_zh="工会爱心驿站（户外劳动者服务站点）和派水点，全部类型。",
    description_en="Trade-union rest stations (爱心驿站) and free-water points, every kind.",
    kinds=KINDS,
    queryables=("kind", "amenity", "status", "district"),
    # its vector tiles (stations/tiles, api/routes/tiles.py)
    extra_links=(
        {
            "href": "tiles",
            "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
            "type": "application/json",
            "title": "矢量瓦片 / vector tiles (MVT)",
        },
    ),
)
WATER_POINTS = Collection(
    id="water_points",
    title_zh="派水点",
    title_en="Water points",
    description_zh="送清凉活动的派水点（扫码取水）。",
    description_en="Free-water points of the summer cooling campaigns (scan to claim).",
    kinds=("water_point",),
    queryables=("amenity", "status", "district"),
)

COLLECTIONS: dict[str, Collection] = {c.id: c for c in (STATIONS, WATER_POINTS)}


def collection(collection_id: str) -> Collection:
    """The collection with this id; 404 otherwise."""
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise NotFound(
            f"there is no collection {collection_id!r}; the collections are "
            f"{', '.join(COLLECTIONS)} (see /ogc/collections)",
            code="collection_not_found",
            collection=collection_id,
        )
    return found
