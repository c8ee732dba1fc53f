"""Where the next stations would help most: maximal covering location, greedy.

Demand nodes are the cells whose demand is *not* within the target band of any
existing station (existing stations stay fixed: what they already cover counts for
nothing). A candidate site covers a node when the geodesic distance between them is
at most the target band's radius. We pick N sites one at a time, each time the one
that covers the most still-uncovered demand (lazy evaluation: a candidate's gain can
only shrink, so a stale gain is an upper bound and most candidates are never
re-counted).

How far from optimal: coverage is a monotone submodular function, so the greedy
choice covers at least (1 − 1/e) ≈ 63.2 % of what the best N sites could cover
(Nemhauser, Wolsey & Fisher, 1978); on real city data it is usually within a few
percent. ``tests/coverage/test_coverage_suggestions.py`` checks the bound against brute force.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

import h3
import numpy as np
import pandas as pd
from h3.api import basic_int
from scipy.spatial import cKDTree

from stations.coverage.analysis import CoverageResult
from stations.coverage.engine import DEMAND_UNIT
from stations.errors import InvalidInput
from stations.geo import h3cells
from stations.geo.crs import Crs, parse_crs, to_wgs84
from stations.geo.distance import geodesic_m
from stations.geo.sphere import LO, metres_to_chord, unit_xyz

GREEDY_BOUND = 1.0 - 1.0 / math.e
BOUND_NOTE = {
    "zh": "逐个贪心选址：覆盖量至少达到同数量最优选址的 (1 − 1/e) ≈ 63.2%，实际通常更接近最优。",
    "en": "Sites are picked greedily: they cover at least (1 − 1/e) ≈ 63.2% of what the best "
    "choice of the same number of sites could cover, and usually much closer.",
}
MAX_SITES = 200
MIN_GAIN_SHARE = 0.01
"""Default minimum gain of a suggested site: 1 % of the region's demand. Below it a pick
mostly fills a corner a few hundred metres from an earlier one (seen in Xi'an: picks
670–910 m from the first adding 80–520 of some 60,000)."""
MAX_CANDIDATES = 50_000


@dataclass(frozen=True)
class Candidates:
    """Candidate sites: WGS84 positions with an id and an optional name."""

    ids: list[str]
    names: list[str | None]
    lat: np.ndarray
    lng: np.ndarray
    kind: str  # "cells" or "uploaded"

    def __len__(self) -> int:
        return len(self.ids)


def greedy_max_cover(
    covers: list[np.ndarray], weights: np.ndarray, n: int, *, min_gain: int = 1
) -> list[tuple[int, int]]:
    """Pick up to ``n`` candidates maximising covered weight; [(candidate, gain), …].

    ``covers[j]`` lists the demand nodes candidate ``j`` covers; ``weights`` are
    integers so gains compare exactly. Ties go to the lower candidate index. Stops
    early when the best candidate would add less than ``min_gain`` (at least 1: a site
    that adds nothing is never picked).
    """
    min_gain = max(1, int(min_gain))
    weights = np.asarray(weights, dtype=np.int64)
    covered = np.zeros(len(weights), dtype=bool)
    heap = [(-int(weights[c].sum()), j) for j, c in enumerate(covers)]
    heapq.heapify(heap)
    picks: list[tuple[int, int]] = []
    while heap and len(picks) < n:
        _, j = heapq.heappop(heap)
        nodes = covers[j]
        gain = int(weights[nodes[~covered[nodes]]].sum())
        if gain <= 0:
            continue
        if heap and (-gain, j) > heap[0]:
            heapq.heappush(heap, (-gain, j))  # no longer the best: re-queue with its true gain
            continue
        if gain < min_gain:
            break  # the best remaining site adds too little; every other one adds less
        picks.append((j, gain))
        covered[nodes] = True
    return picks


def coverage_lists(
    cand_lat: np.ndarray,
    cand_lng: np.ndarray,
    node_lat: np.ndarray,
    node_lng: np.ndarray,
    radius_m: float,
) -> list[np.ndarray]:
    """For each candidate, the nodes within ``radius_m`` (geodesic, WGS84)."""
    empty = [np.empty(0, dtype=np.int64) for _ in range(len(cand_lat))]
    if len(cand_lat) == 0 or len(node_lat) == 0:
        return empty
    cand_tree = cKDTree(unit_xyz(cand_lat, cand_lng))
    node_tree = cKDTree(unit_xyz(node_lat, node_lng))
    # g ≤ r implies the sphere distance s ≤ r / LO.
    pairs = cand_tree.sparse_distance_matrix(
        node_tree, metres_to_chord(radius_m / LO), output_type="ndarray"
    )
    i = pairs["i"].astype(np.int64)
    j = pairs["j"].astype(np.int64)
    dist = geodesic_m(cand_lat[i], cand_lng[i], node_lat[j], node_lng[j])
    keep = dist <= radius_m
    i, j = i[keep], j[keep]
    order = np.lexsort((j, i))
    i, j = i[order], j[order]
    bounds = np.searchsorted(i, np.arange(len(cand_lat) + 1))
    return [j[bounds[k] : bounds[k + 1]] for k in range(len(cand_lat))]


def uncovered_nodes(result: CoverageResult) -> tuple[np.ndarray, np.ndarray]:
    """Indices into ``result.cells`` of cells with demand outside the target band."""
    cells = result.cells
    if cells is None:
        raise InvalidInput("suggestions need the per-cell result; run with cells kept")
    mask = (cells.band > result.bands.target_index) & (cells.demand_micro > 0)
    return np.nonzero(mask)[0], cells.demand_micro[mask]


def candidate_cells(result: CoverageResult) -> Candidates:
    """Cells of the region within the target radius of some uncovered demand."""
    assert result.cells is not None
    idx, _ = uncovered_nodes(result)
    if len(idx) == 0:
        return Candidates([], [], np.empty(0), np.empty(0), "cells")
    res = result.request.res
    spacing = math.sqrt(3) * h3.average_hexagon_edge_length(res, "m") * 0.7
    k = max(1, math.ceil(result.bands.target_m / spacing))
    disk = basic_int.grid_disk
    near = np.unique(
        np.fromiter(
            (c for u in result.cells.cells[idx].tolist() for c in disk(u, k)), dtype=np.uint64
        )
    )
    inside = np.isin(near, result.cells.cells, assume_unique=True)
    near = near[inside]
    pos = np.searchsorted(result.cells.cells, near)
    return Candidates(
        h3cells.cells_to_hex(near),
        [None] * len(near),
        result.cells.lat[pos],
        result.cells.lng[pos],
        "cells",
    )


def candidates_from_frame(
    frame: pd.DataFrame, *, crs: str | Crs | None = None, field: str = "candidates"
) -> Candidates:
    """Uploaded candidate sites (e.g. shops willing to host): id, name, lat/lng or x/y."""
    parsed = crs if isinstance(crs, Crs) else parse_crs(crs, field="crs")
    if len(frame) == 0:
        raise InvalidInput(f"{field}: the list is empty", field=field)
    if len(frame) > MAX_CANDIDATES:
        raise InvalidInput(f"{field}: at most {MAX_CANDIDATES:,} candidates", field=field)
    cols = {c.lower(): c for c in frame.columns}
    need = ("lat", "lng") if parsed.is_geographic else ("x", "y")
    missing = [c for c in need if c not in cols]
    if missing:
        raise InvalidInput(
            f"{field}: missing column(s) {', '.join(missing)}; send id, name (optional) and "
            f"{' and '.join(need)} in {parsed}",
            field=field,
        )
    a = pd.to_numeric(frame[cols[need[0]]], errors="coerce").to_numpy(dtype=np.float64)
    b = pd.to_numeric(frame[cols[need[1]]], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(a) & np.isfinite(b))
    if parsed.is_geographic:
        bad |= (np.abs(a) > 90) | (np.abs(b) > 180)
    if bad.any():
        rows = (np.nonzero(bad)[0] + 1).tolist()[:10]
        raise InvalidInput(
            f"{field}: rows {rows} have no valid {need[0]}/{need[1]} in {parsed}", field=field
        )
    lat, lng = to_wgs84(a, b, parsed)
    ids = (
        frame[cols["id"]].astype(str).tolist()
        if "id" in cols
        else [str(i) for i in range(1, len(frame) + 1)]
    )
    names: list[str | None] = (
        [None if pd.isna(v) else str(v) for v in frame[cols["name"]]]
        if "name" in cols
        else [None] * len(frame)
    )
    return Candidates(ids, names, np.asarray(lat), np.asarray(lng), "uploaded")


@dataclass
class Suggestions:
    """Ranked sites with the gain of each pick."""

    rows: list[dict[str, Any]]
    candidates: int
    candidate_kind: str
    uncovered_before: float
    uncovered_after: float
    total_demand: float
    covered_share_before: float | None
    covered_share_after: float | None
    radius_m: float
    min_gain: float = 0.0
    stopped_at_min_gain: bool = False  # fewer sites than asked: the next would add too little

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        return {
            "sites": self.rows,
            "min_gain": self.min_gain,
            "stopped_at_min_gain": self.stopped_at_min_gain,
            "candidates": self.candidates,
            "candidate_kind": self.candidate_kind,
            "radius_m": round(self.radius_m, 1),
            "uncovered_demand_before": self.uncovered_before,
            "uncovered_demand_after": self.uncovered_after,
            "covered_share_before": self.covered_share_before,
            "covered_share_after": self.covered_share_after,
            "method": "greedy maximal covering, lazy evaluation",
            "guarantee": BOUND_NOTE[lang],
        }


def suggest_sites(
    result: CoverageResult,
    *,
    n: int,
    candidates: Candidates | None = None,
    min_gain: float | None = None,
) -> Suggestions:
    """Choose up to ``n`` new sites covering the most currently uncovered demand, each
    adding at least ``min_gain`` demand (default :data:`MIN_GAIN_SHARE` of the region's)."""
    if not 1 <= n <= MAX_SITES:
        raise InvalidInput(f"suggest: must be between 1 and {MAX_SITES}", field="suggest")
    if min_gain is not None and not (min_gain >= 0 and math.isfinite(min_gain)):
        raise InvalidInput(
            f"min_gain: must be a demand of 0 or more, not {min_gain}", field="min_gain"
        )
    assert result.cells is not None
    nodes, weights = uncovered_nodes(result)
    cands = candidates if candidates is not None else candidate_cells(result)
    radius = result.bands.target_m
    covers = coverage_lists(
        cands.lat, cands.lng, result.cells.lat[nodes], result.cells.lng[nodes], radius
    )
    total = int(result.totals.band_demand.sum())
    threshold = MIN_GAIN_SHARE * total if min_gain is None else min_gain * DEMAND_UNIT
    # integer millionths (a float share rounds up); beyond any demand there is, no site
    floor = math.ceil(threshold - 1e-6) if threshold < 2.0**62 else 2**62
    picks = greedy_max_cover(covers, weights, n, min_gain=floor)
    stopped = len(picks) < n and bool(
        greedy_max_cover(covers, weights, len(picks) + 1)[len(picks) :]
    )
    uncovered = int(weights.sum())
    rows: list[dict[str, Any]] = []
    running = 0
    for rank, (j, gain) in enumerate(picks, start=1):
        running += gain
        lat, lng = float(cands.lat[j]), float(cands.lng[j])
        rows.append(
            {
                "rank": rank,
                "id": cands.ids[j],
                "name": cands.names[j],
                "lat": round(lat, 6),
                "lng": round(lng, 6),
                "cell": h3cells.cell_to_hex(h3cells.cell_from_latlng(lat, lng, result.request.res)),
                "gain": gain / DEMAND_UNIT,
                "cumulative_gain": running / DEMAND_UNIT,
                "covered_share_after": (total - uncovered + running) / total if total else None,
            }
        )
    return Suggestions(
        rows=rows,
        candidates=len(cands),
        candidate_kind=cands.kind,
        uncovered_before=uncovered / DEMAND_UNIT,
        uncovered_after=(uncovered - running) / DEMAND_UNIT,
        total_demand=total / DEMAND_UNIT,
        covered_share_before=(total - uncovered) / total if total else None,
        covered_share_after=(total - uncovered + running) / total if total else None,
        radius_m=radius,
        min_gain=threshold / DEMAND_UNIT,
        stopped_at_min_gain=stopped,
    )
