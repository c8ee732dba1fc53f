"""The numerical core of coverage analysis: plain numpy/scipy, no database, no I/O.

For a batch of cells it finds the nearest station by geodesic distance on the WGS84
ellipsoid, looks up the cell's demand, assigns a band, and sums everything that a
summary needs. Engines differ only in how they batch: the single-machine engine runs
one batch for the whole region, the dask engine one batch per group of partition
parents. Every total is an integer (cell counts, demand in millionths of a unit), so
the sums do not depend on the batching and the engines agree exactly.

Nearest station. A KD-tree over the stations' positions on the unit sphere gives
candidates by great-circle distance ``s``. The ellipsoidal geodesic distance ``g`` of
any pair satisfies ``LO·s ≤ g ≤ HI·s`` (the sphere of mean radius R maps onto the
ellipsoid with local scale between M_equator/R and N_pole/R). So only candidates with
``LO·s_i ≤ HI·s_1`` can be the nearest on the ellipsoid, and the answer is certain once
the k-th candidate satisfies ``LO·s_k ≥ HI·s_1``; cells where it is not get a larger k.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from stations.geo import h3cells
from stations.geo.distance import geodesic_reduced, reduced_latitude
from stations.geo.region import Region
from stations.geo.sphere import HI, LO, chord_to_metres, unit_xyz

DEMAND_UNIT = 1_000_000  # demand is summed as integer millionths
_FIRST_K = 2  # the second-nearest almost always proves the first is nearest


@dataclass
class StationPoints:
    """The stations an analysis measures against, with a KD-tree over them."""

    ids: np.ndarray  # int64
    lat: np.ndarray
    lng: np.ndarray
    district: np.ndarray  # int32 index into ``districts``; -1 when unknown
    districts: tuple[str, ...] = ()
    tree: cKDTree | None = field(default=None, repr=False)
    # sin and cos of the reduced latitudes, for the geodesics to these stations
    sin_u: np.ndarray = field(init=False, repr=False)
    cos_u: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.tree is None and len(self.ids):
            self.tree = cKDTree(unit_xyz(self.lat, self.lng))
        self.sin_u, self.cos_u = reduced_latitude(self.lat)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(
        cls, ids: np.ndarray, lat: np.ndarray, lng: np.ndarray, districts: list[str | None]
    ) -> StationPoints:
        names = sorted({d for d in districts if d})
        index = {name: i for i, name in enumerate(names)}
        codes = np.array([index.get(d, -1) if d else -1 for d in districts], dtype=np.int32)
        return cls(
            np.asarray(ids, dtype=np.int64),
            np.asarray(lat, dtype=np.float64),
            np.asarray(lng, dtype=np.float64),
            codes,
            tuple(names),
        )


def nearest_stations(
    stations: StationPoints, lat: np.ndarray, lng: np.ndarray, *, threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(station index, geodesic metres) of the nearest station to each point.

    Index -1 and distance inf when there are no stations. ``threads`` is what the
    KD-tree query and the geodesics may use (-1: all cores).
    """
    n = len(lat)
    best = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    if n == 0 or len(stations) == 0:
        return best, dist
    assert stations.tree is not None
    xyz = unit_xyz(lat, lng)
    su, cu = reduced_latitude(lat)
    todo = np.arange(n)
    k = min(_FIRST_K, len(stations))

    def geodesics(rows: np.ndarray, station: np.ndarray) -> np.ndarray:
        return geodesic_reduced(
            su[rows],
            cu[rows],
            stations.sin_u[station],
            stations.cos_u[station],
            stations.lng[station] - lng[rows],
            threads=threads,
        )

    while len(todo):
        chord, idx = stations.tree.query(xyz[todo], k=k, workers=threads)
        chord = chord.reshape(len(todo), k)
        idx = idx.reshape(len(todo), k)
        sphere = chord_to_metres(chord)
        # The sphere-nearest always gets its geodesic; the others only if they could win.
        geo = np.full((len(todo), k), np.inf)
        geo[:, 0] = geodesics(todo, idx[:, 0])
        rows, cols = np.nonzero(LO * sphere[:, 1:] <= HI * sphere[:, :1])
        cols = cols + 1
        if len(rows):
            geo[rows, cols] = geodesics(todo[rows], idx[rows, cols])
        pick = np.argmin(geo, axis=1)
        # Every station outside these k is at least LO * (k-th sphere distance) away.
        certain = (k == len(stations)) | (LO * sphere[:, -1] >= HI * sphere[:, 0])
        done = todo[certain]
        best[done] = idx[certain, pick[certain]]
        dist[done] = geo[certain, pick[certain]]
        todo = todo[~certain]
        k = min(k * 4, len(stations))
    return best, dist


@dataclass
class DemandCells:
    """Demand per cell at the analysis resolution: sorted cells and integer millionths."""

    cells: np.ndarray  # uint64, sorted, unique
    micro: np.ndarray  # int64

    @classmethod
    def empty(cls) -> DemandCells:
        return cls(np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64))

    def lookup(self, cells: np.ndarray) -> np.ndarray:
        """Demand (millionths) of each cell; 0 for cells without demand."""
        out = np.zeros(len(cells), dtype=np.int64)
        if len(self.cells) == 0 or len(cells) == 0:
            return out
        pos = np.searchsorted(self.cells, cells)
        pos = np.minimum(pos, len(self.cells) - 1)
        hit = self.cells[pos] == cells
        out[hit] = self.micro[pos[hit]]
        return out


def within_reach(
    stations: StationPoints, lat: np.ndarray, lng: np.ndarray, metres: float
) -> np.ndarray:
    """Which stations lie within ``metres`` (geodesic) of at least one of the points.

    The points play the stations' part in :func:`nearest_stations`: each station gets
    its exact nearest point on the ellipsoid.
    """
    if len(stations) == 0 or len(lat) == 0:
        return np.zeros(len(stations), dtype=bool)
    points = StationPoints.build(np.arange(len(lat)), lat, lng, [None] * len(lat))
    _, dist = nearest_stations(points, stations.lat, stations.lng, threads=-1)
    return dist <= metres


def aggregate_demand(cells: np.ndarray, weights: np.ndarray, res: int) -> DemandCells:
    """Sum weights per cell at ``res``.

    Finer cells (demand points at res 11) go to their parent; coarser cells (claims
    and check-ins are kept at res 9 for privacy) are split evenly among their children.
    """
    cells = np.asarray(cells, dtype=np.uint64)
    weights = np.asarray(weights, dtype=np.float64)
    if len(cells) == 0:
        return DemandCells.empty()
    cell_res = ((cells >> np.uint64(52)) & np.uint64(0xF)).astype(np.int64)
    parts_cells: list[np.ndarray] = []
    parts_weights: list[np.ndarray] = []
    for r in np.unique(cell_res).tolist():
        sel = cell_res == r
        if r >= res:
            parts_cells.append(h3cells.parent_array(cells[sel], res))
            parts_weights.append(weights[sel])
        else:
            children = h3cells.children_array(cells[sel], res)
            per = children.shape[1]
            parts_cells.append(children.ravel())
            parts_weights.append(np.repeat(weights[sel] / per, per))
    all_cells = np.concatenate(parts_cells)
    all_weights = np.concatenate(parts_weights)
    valid = all_cells != np.uint64(0)
    uniq, inverse = np.unique(all_cells[valid], return_inverse=True)
    sums = np.bincount(inverse, weights=all_weights[valid], minlength=len(uniq))
    return DemandCells(uniq, np.rint(sums * DEMAND_UNIT).astype(np.int64))


def merge_demand(a: DemandCells, b: DemandCells) -> DemandCells:
    """The sum of two demand grids at the same resolution."""
    cells = np.concatenate([a.cells, b.cells])
    micro = np.concatenate([a.micro, b.micro])
    uniq, inverse = np.unique(cells, return_inverse=True)
    out = np.zeros(len(uniq), dtype=np.int64)
    np.add.at(out, inverse, micro)
    return DemandCells(uniq, out)


@dataclass
class CellMeasures:
    """Per-cell results of one batch, sorted by cell."""

    cells: np.ndarray  # uint64
    lat: np.ndarray
    lng: np.ndarray
    station: np.ndarray  # int64 index into StationPoints, -1 = none
    distance_m: np.ndarray
    band: np.ndarray  # int8
    demand_micro: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.cells)

    @classmethod
    def concat(cls, parts: list[CellMeasures]) -> CellMeasures:
        if not parts:
            e = np.empty(0)
            return cls(
                np.empty(0, np.uint64),
                e,
                e,
                np.empty(0, np.int64),
                e,
                np.empty(0, np.int8),
                np.empty(0, np.int64),
            )
        merged = cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in _CELL_FIELDS))
        order = np.argsort(merged.cells, kind="stable")
        return cls(*(getattr(merged, f)[order] for f in _CELL_FIELDS))


_CELL_FIELDS = ("cells", "lat", "lng", "station", "distance_m", "band", "demand_micro")


def measure_cells(
    cells: np.ndarray,
    lat: np.ndarray,
    lng: np.ndarray,
    *,
    stations: StationPoints,
    demand: DemandCells,
    edges_m: np.ndarray,
    threads: int = 1,
) -> CellMeasures:
    """Nearest station, distance, band and demand of each cell."""
    station, dist = nearest_stations(stations, lat, lng, threads=threads)
    band = np.searchsorted(edges_m, dist, side="left").astype(np.int8)
    return CellMeasures(cells, lat, lng, station, dist, band, demand.lookup(cells))


@dataclass
class Totals:
    """Integer totals of a batch; adding two Totals is exact and order-free."""

    band_cells: np.ndarray  # int64 per band
    band_demand: np.ndarray  # int64 millionths per band
    district_cells: np.ndarray  # int64 per district (+1 slot for "none" at the end)
    district_demand: np.ndarray
    district_covered: np.ndarray  # demand within the target band
    worst: np.ndarray  # structured: the worst-served cells of this batch
    top_n: int
    max_distance_m: float = 0.0  # farthest finite nearest-station distance

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.band_cells + other.band_cells,
            self.band_demand + other.band_demand,
            self.district_cells + other.district_cells,
            self.district_demand + other.district_demand,
            self.district_covered + other.district_covered,
            top_worst(np.concatenate([self.worst, other.worst]), self.top_n),
            self.top_n,
            max(self.max_distance_m, other.max_distance_m),
        )


WORST_DTYPE = np.dtype(
    [
        ("cell", np.uint64),
        ("demand_micro", np.int64),
        ("distance_m", np.float64),
        ("station", np.int64),
        ("band", np.int8),
    ]
)


def top_worst(rows: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` rows with most uncovered demand (ties: farther first, then by cell)."""
    if len(rows) == 0 or n <= 0:
        return rows[:0]
    dist = np.where(np.isinf(rows["distance_m"]), np.finfo(np.float64).max, rows["distance_m"])
    order = np.lexsort((rows["cell"], -dist, -rows["demand_micro"]))
    return rows[order[:n]]


def totals_of(
    m: CellMeasures, *, stations: StationPoints, n_bands: int, target_index: int, top_n: int
) -> Totals:
    """Integer totals of one batch of measured cells."""
    band_cells = np.bincount(m.band, minlength=n_bands).astype(np.int64)
    band_demand = np.zeros(n_bands, dtype=np.int64)
    np.add.at(band_demand, m.band.astype(np.intp), m.demand_micro)
    n_districts = len(stations.districts) + 1
    district = np.full(len(m), n_districts - 1, dtype=np.intp)
    has = m.station >= 0
    codes = stations.district[m.station[has]].astype(np.intp)
    district[has] = np.where(codes >= 0, codes, n_districts - 1)
    covered = m.band <= target_index
    d_cells = np.bincount(district, minlength=n_districts).astype(np.int64)
    d_demand = np.zeros(n_districts, dtype=np.int64)
    np.add.at(d_demand, district, m.demand_micro)
    d_cov = np.zeros(n_districts, dtype=np.int64)
    np.add.at(d_cov, district[covered], m.demand_micro[covered])
    gap = (~covered) & (m.demand_micro > 0)
    rows = np.empty(int(gap.sum()), dtype=WORST_DTYPE)
    rows["cell"] = m.cells[gap]
    rows["demand_micro"] = m.demand_micro[gap]
    rows["distance_m"] = m.distance_m[gap]
    rows["station"] = m.station[gap]
    rows["band"] = m.band[gap]
    finite = m.distance_m[np.isfinite(m.distance_m)]
    return Totals(
        band_cells,
        band_demand,
        d_cells,
        d_demand,
        d_cov,
        top_worst(rows, top_n),
        top_n,
        float(finite.max()) if len(finite) else 0.0,
    )


def empty_totals(*, n_bands: int, n_districts: int, top_n: int) -> Totals:
    z = np.zeros
    return Totals(
        z(n_bands, np.int64),
        z(n_bands, np.int64),
        z(n_districts + 1, np.int64),
        z(n_districts + 1, np.int64),
        z(n_districts + 1, np.int64),
        np.empty(0, WORST_DTYPE),
        top_n,
    )


@dataclass
class BatchContext:
    """Everything a batch needs besides its parents; shipped once to each dask worker."""

    region: Region
    res: int
    stations: StationPoints
    demand: DemandCells
    edges_m: np.ndarray
    target_index: int
    top_n: int
    keep_cells: bool
    threads: int = 1  # KD-tree query threads: -1 on one machine, 1 per dask worker

    @property
    def n_bands(self) -> int:
        return len(self.edges_m) + 1


def analyse_parents(parents: np.ndarray, ctx: BatchContext) -> tuple[Totals, CellMeasures | None]:
    """The one per-partition function: cells of these parents, measured and summed."""
    from stations.coverage.regions import cells_of_parents

    cells, lat, lng = cells_of_parents(ctx.region, parents, ctx.res)  # type: ignore[arg-type]
    m = measure_cells(
        cells,
        lat,
        lng,
        stations=ctx.stations,
        demand=ctx.demand,
        edges_m=ctx.edges_m,
        threads=ctx.threads,
    )
    totals = totals_of(
        m,
        stations=ctx.stations,
        n_bands=ctx.n_bands,
        target_index=ctx.target_index,
        top_n=ctx.top_n,
    )
    return totals, (m if ctx.keep_cells else None)
