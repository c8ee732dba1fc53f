"""Coverage and demand cells as OGC API collections: the planners' layers, for GIS.

``coverage-cells`` are the H3 hexagons of a region with the band each falls in (how far
its workers are from the nearest matching station), the distance and the demand;
``demand-cells`` only the hexagons where outdoor workers are, with their demand. Both
are the coverage analysis that ``/v1/coverage/cells`` serves (one engine, one result),
read page by page the way GIS clients read a collection: ``limit`` and the ``next``
link (its ``cursor`` is a cell's id: pages are in H3 id order, so a page follows from
where the last ended),
``bbox`` (cells whose centre is in it) and ``crs``.

The region is named by ``city`` (an outline the service ships) or ``district`` (a
district the catalog names), as on the planner's map; GDAL repeats the query of an
``OAPIF:`` URL on every request, so ``OAPIF:https://…/ogc?city=huaibei`` opens a city's
layers. Like the rest of coverage, they are a planner's view (a planner's or
administrator's bearer token, or the console's session): where workers wait for
water is not for anyone to download. The pages a client reads one after another come
from one analysis (:class:`RecentResults`, a minute), so a whole city counts as one
heavy request.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from stations.coverage.analysis import CoverageResult
from stations.coverage.export import cell_columns
from stations.coverage.regions import available_cities, load_city
from stations.errors import BadQuery, NotFound
from stations.ogc import crs as ogc_crs
from stations.ogc.params import check_known, parse_format, parse_limit, single


@dataclass(frozen=True)
class CellCollection:
    """A collection of one region's cells; ``demand_only``: only cells with workers."""

    id: str
    title_zh: str
    title_en: str
    description_zh: str
    description_en: str
    demand_only: bool
    properties: tuple[str, ...]


COVERAGE_CELLS = CellCollection(
    id="coverage-cells",
    title_zh="服务覆盖单元（H3 六边形）",
    title_en="Coverage cells (H3 hexagons)",
    description_zh="区域内每个 H3 六边形：到最近站点的距离、所在服务圈层、需求（户外劳动者）。"
    "用 city 或 district 参数指定区域；需要规划员令牌。",
    description_en="Every H3 hexagon of a region: distance to the nearest station, its band "
    "of the service circle, its demand (outdoor workers). Name the region with city or "
    "district; needs a planner's token.",
    demand_only=False,
    properties=("cell", "band", "band_label", "distance_m", "demand", "nearest_station_id"),
)
DEMAND_CELLS = CellCollection(
    id="demand-cells",
    title_zh="需求单元（有户外劳动者的 H3 六边形）",
    title_en="Demand cells (H3 hexagons with outdoor workers)",
    description_zh="区域内有户外劳动者的 H3 六边形及其需求。用 city 或 district 参数指定区域；"
    "需要规划员令牌。",
    description_en="The H3 hexagons of a region where outdoor workers are, with their demand. "
    "Name the region with city or district; needs a planner's token.",
    demand_only=True,
    properties=("cell", "demand", "band", "band_label"),
)
CELL_COLLECTIONS: dict[str, CellCollection] = {c.id: c for c in (COVERAGE_CELLS, DEMAND_CELLS)}

REGION_PARAMETERS = ("city", "district", "res", "target")
PARAMETERS = (
    "f",
    "city",
    "district",
    "res",
    "target",
    "limit",
    "cursor",
    "bbox",
    "bbox-crs",
    "crs",
)
_CELL_ID = re.compile(r"[0-9a-f]{15}")


def cell_collection(collection_id: str) -> CellCollection | None:
    return CELL_COLLECTIONS.get(collection_id)


@dataclass(frozen=True)
class City:
    key: str
    label_zh: str
    label_en: str


@functools.cache
def cities() -> tuple[City, ...]:
    """The city outlines the service ships (each a ``city`` a cells request may name)."""
    out = []
    for key in available_cities():
        region = load_city(key)
        out.append(City(key, region.label_zh or key, region.label_en or key))
    return tuple(out)


@dataclass(frozen=True)
class CellQuery:
    city: str | None
    district: str | None
    res: int | None
    target: str | None
    limit: int
    after: int | None
    """The page starts after this cell (the ``cursor`` of the page before's ``next``)."""
    bbox: list[float] | None  # WGS84 west, south, east, north
    crs: ogc_crs.OgcCrs


def parse_cell_id(text: str, field: str = "cursor") -> int:
    value = text.strip().lower()
    if not _CELL_ID.fullmatch(value):
        raise BadQuery(field, f"{field}: not an H3 cell id (15 hexadecimal digits): {text!r}")
    return int(value, 16)


def parse_cell_query(pairs: list[tuple[str, str]], base: str) -> CellQuery:
    """Every parameter of a cells request checked, or the first mistake as a 400."""
    check_known(pairs, PARAMETERS)
    parse_format(single(pairs, "f"))
    city, district = single(pairs, "city"), single(pairs, "district")
    if (city is None) == (district is None):
        raise BadQuery(
            "city",
            "city: name the region with city (an outline the service ships, see "
            "/v1/coverage/regions) or district, one of the two",
        )
    res_text = single(pairs, "res")
    if res_text is not None and not re.fullmatch(r"\s*\d{1,2}\s*", res_text):
        raise BadQuery("res", f"res: send an H3 resolution, a whole number, got {res_text!r}")
    bbox_text = single(pairs, "bbox")
    bbox_crs = ogc_crs.parse_ogc_crs(single(pairs, "bbox-crs"), base, field="bbox-crs")
    after = single(pairs, "cursor")
    return CellQuery(
        city=city,
        district=district,
        res=int(res_text) if res_text is not None else None,
        target=single(pairs, "target"),
        limit=parse_limit(single(pairs, "limit")),
        after=parse_cell_id(after) if after is not None else None,
        bbox=ogc_crs.bbox_to_wgs84(bbox_text, bbox_crs) if bbox_text is not None else None,
        crs=ogc_crs.parse_ogc_crs(single(pairs, "crs"), base),
    )


@dataclass(frozen=True)
class CellPage:
    features: list[dict]
    matched: int
    cursor: str | None
    """Where the following page starts (the last cell's id); None on the last page."""


def _selected(result: CoverageResult, collection: CellCollection, bbox: list[float] | None):
    """Indexes of the collection's cells in id order, inside ``bbox`` when given."""
    cells = result.cells
    if cells is None:
        return np.empty(0, dtype=np.int64)
    order = np.argsort(cells.cells, kind="stable")
    keep = np.ones(len(cells), dtype=bool)
    if collection.demand_only:
        keep &= cells.demand_micro > 0
    if bbox is not None:
        west, south, east, north = bbox
        inside_lng = (
            (cells.lng >= west) & (cells.lng <= east)
            if west <= east
            else (cells.lng >= west) | (cells.lng <= east)
        )
        keep &= inside_lng & (cells.lat >= south) & (cells.lat <= north)
    return order[keep[order]]


def _features(
    result: CoverageResult, collection: CellCollection, index: np.ndarray, crs: ogc_crs.OgcCrs
) -> list[dict]:
    columns = cell_columns(result, crs=crs.crs, lang="zh", index=index)
    rings = columns.pop("ring")
    if crs.lat_first:
        rings = [[[lat, lng] for lng, lat in ring] for ring in rings]
    chosen = [columns[name] for name in collection.properties]
    return [
        {
            "type": "Feature",
            "id": values[0],
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": dict(zip(collection.properties, values, strict=True)),
        }
        for ring, values in zip(rings, zip(*chosen, strict=True), strict=True)
    ]


def cell_page(result: CoverageResult, collection: CellCollection, query: CellQuery) -> CellPage:
    """One page of the collection's cells (id order, after ``query.after``)."""
    index = _selected(result, collection, query.bbox)
    ids = result.cells.cells[index] if result.cells is not None else np.empty(0, np.uint64)
    start = 0 if query.after is None else int(np.searchsorted(ids, np.uint64(query.after), "right"))
    page = index[start : start + query.limit]
    more = start + query.limit < len(index)
    features = _features(result, collection, page, query.crs)
    return CellPage(
        features=features,
        matched=len(index),
        cursor=features[-1]["id"] if more and features else None,
    )


def one_cell(result: CoverageResult, collection: CellCollection, cell_id: str, crs) -> dict:
    """One cell of the collection, or 404 (``cell_id`` as the features name it)."""
    wanted = int(cell_id, 16) if _CELL_ID.fullmatch(cell_id) else None
    index = _selected(result, collection, None)
    if wanted is not None and result.cells is not None:
        ids = result.cells.cells[index]
        at = int(np.searchsorted(ids, np.uint64(wanted)))
        if at < len(ids) and int(ids[at]) == wanted:
            return _features(result, collection, index[at : at + 1], crs)[0]
    raise NotFound(
        f"there is no cell {cell_id!r} in {collection.id} of this region",
        code="feature_not_found",
        collection=collection.id,
        feature_id=cell_id,
    )


class RecentResults:
    """The analyses behind the pages a GIS client is reading, kept for a minute.

    A client reads a collection page by page (GDAL: one request per 1,000 cells);
    analysing the region again for each page would repeat the same work, and count
    every page against the planner's share of heavy requests. The first page analyses
    and the pages that follow within ``keep_s`` read the same result. The key holds
    the caller's union branch, so a result is only ever read by callers the region
    was checked for.
    """

    def __init__(self, keep_s: float = 60.0, max_results: int = 8) -> None:
        self.keep_s = keep_s
        self.max_results = max_results
        self._items: OrderedDict[tuple[Any, ...], tuple[float, CoverageResult]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(query: CellQuery, branch: str | None) -> tuple[Any, ...]:
        return (query.city, query.district, query.res, query.target, branch)

    def get(self, key: tuple[Any, ...]) -> CoverageResult | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if found[0] < time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key: tuple[Any, ...], result: CoverageResult) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.keep_s, result)
            self._items.move_to_end(key)
            while len(self._items) > self.max_results:
                self._items.popitem(last=False)
