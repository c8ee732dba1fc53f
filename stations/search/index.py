"""The in-process nearest-station index: exact k nearest by geodesic distance, filters first.

Layout
------
* **base**: every active station at the last build, as numpy columns sorted by id, a
  ``cKDTree`` over unit-sphere points, and an ``alive`` mask (a tombstone clears it).
* **delta**: stations added or changed since the build, searched by brute force (a few
  hundred at most; beyond that the owner compacts: rebuilds the base off the event
  loop and swaps it in).

Each station also carries its static JSON (``head``: ``{"id":…,"code":…, …,
"position":{…}`` without the closing brace), rendered once by PostgreSQL, so an answer
is concatenation plus the distance, bearing and open state.

Exactness
---------
Candidates come from the tree in increasing chord order. For each, the chord gives a
lower bound of the geodesic distance (:func:`stations.geo.sphere.lower_bound_m`); the
exact geodesic (pyproj, Karney) is computed only while that bound does not exceed the
current k-th best distance. The walk stops once the bound of the next candidate — or
of everything the tree has not returned yet — is strictly greater than the k-th best,
so the answer is the true k nearest, ties broken by id. Filters (kind, amenities,
access; open at an instant; minimum rating; water left today) are applied to candidates
*before* they count towards k: when too few pass, the tree is asked for more (k grows
×4), and when a filter is very selective the whole set is scanned with vectorised masks
instead.

Nothing here awaits: a search runs to completion between two writes.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from stations.geo import distance as geodesics
from stations.geo import sphere
from stations.search.columns import Columns, Hit, build_tree
from stations.search.filters import ACCESS_VALUES, KIND_VALUES, NO_FILTERS, Filters
from stations.search.live import LiveData
from stations.search.openness import OPEN, OpeningStates, StatesAt

DELTA_LIMIT = 256
"""Stations changed since the last build above which the base is rebuilt."""
TOMBSTONE_SHARE = 0.05
FULL_SCAN_ABOVE = 8192
"""Candidates asked from the tree above which a vectorised scan of every station is cheaper."""
_SELECTIVITY_CACHE = 256


class Plan(NamedTuple):
    """A request's filters, resolved to arrays and lookups for this index."""

    kind_ok: np.ndarray | None
    amen_mask: int
    access_ok: np.ndarray | None
    open_states: np.ndarray | None  # state per hours key at the asked instant ("now")
    states_at: StatesAt | None  # per-key states at another instant
    min_rating: float | None
    selectivity: float
    water_now: bool = False

    @property
    def is_static_only(self) -> bool:
        return (
            self.open_states is None
            and self.states_at is None
            and self.min_rating is None
            and not self.water_now
        )

    @property
    def is_trivial(self) -> bool:
        return (
            self.is_static_only
            and self.kind_ok is None
            and self.access_ok is None
            and not self.amen_mask
        )


_TRIVIAL_PLAN = Plan(None, 0, None, None, None, None, 1.0)


class StationIndex:
    """Exact nearest-station search over the active catalog, kept current by its owner."""

    def __init__(
        self,
        columns: Columns,
        tree: cKDTree | None,
        *,
        states: OpeningStates,
        live: LiveData,
    ) -> None:
        self.states = states
        self.live = live
        self.base = columns
        self.tree = tree if tree is not None and len(columns) else None
        self.alive = np.ones(len(columns), dtype=bool)
        self.alive_count = len(columns)
        self._delta_rows: dict[int, Columns] = {}
        self._delta: Columns | None = Columns.empty()
        self._log: list[tuple[int, Columns | None]] | None = None
        self._selectivity: OrderedDict[tuple, float] = OrderedDict()
        self.key_counts = np.bincount(columns.hours_key, minlength=len(states)).astype(float)
        self._open_share: tuple[int, float] = (-1, 1.0)

    @classmethod
    def build(cls, columns: Columns, *, states: OpeningStates, live: LiveData) -> StationIndex:
        columns = columns.sorted_by_id()
        return cls(
            columns, build_tree(columns.xyz) if len(columns) else None, states=states, live=live
        )

    # ------------------------------------------------------------------ changes

    def __len__(self) -> int:
        return self.alive_count + len(self._delta_rows)

    @property
    def changed(self) -> bool:
        """Whether stations changed since the base was built (the delta is searched too)."""
        return bool(self._delta_rows)

    @property
    def delta(self) -> Columns:
        if self._delta is None:
            self._delta = Columns.concat(self._delta_rows.values())
        return self._delta

    def _base_position(self, station_id: int) -> int | None:
        ids = self.base.ids
        pos = int(np.searchsorted(ids, station_id))
        if pos < len(ids) and ids[pos] == station_id:
            return pos
        return None

    def apply(self, station_id: int, row: Columns | None) -> None:
        """Make ``station_id`` searchable as ``row`` (one active station), or not at all."""
        pos = self._base_position(station_id)
        if pos is not None and self.alive[pos]:
            self.alive[pos] = False
            self.alive_count -= 1
        if station_id in self._delta_rows:
            del self._delta_rows[station_id]
            self._delta = None
        if row is not None:
            self._delta_rows[station_id] = row
            self._delta = None
        if self._log is not None:
            self._log.append((station_id, row))

    def needs_compaction(self) -> bool:
        dead = len(self.base) - self.alive_count
        return len(self._delta_rows) > DELTA_LIMIT or dead > max(
            DELTA_LIMIT, TOMBSTONE_SHARE * len(self.base)
        )

    def start_log(self) -> Columns:
        """Begin recording changes; returns what a rebuilt base must hold right now."""
        self._log = []
        alive = np.flatnonzero(self.alive)
        kept = self.base if len(alive) == len(self.base) else self.base.take(alive)
        return Columns.concat([kept, self.delta]).sorted_by_id()

    def take_log(self) -> list[tuple[int, Columns | None]]:
        log, self._log = self._log or [], None
        return log

    def replay(self, log: list[tuple[int, Columns | None]]) -> None:
        for station_id, row in log:
            self.apply(station_id, row)

    def positions_by_id(self) -> dict[int, tuple[float, float]]:
        """Every searchable station's (lat, lng), by id (for checks and diagnostics)."""
        alive = np.flatnonzero(self.alive)
        out = dict(
            zip(
                self.base.ids[alive].tolist(),
                zip(self.base.lat[alive].tolist(), self.base.lng[alive].tolist(), strict=True),
                strict=True,
            )
        )
        delta = self.delta
        out.update(
            zip(
                delta.ids.tolist(),
                zip(delta.lat.tolist(), delta.lng.tolist(), strict=True),
                strict=True,
            )
        )
        return out

    def contains(self, station_id: int) -> bool:
        pos = self._base_position(station_id)
        return station_id in self._delta_rows or (pos is not None and bool(self.alive[pos]))

    # ------------------------------------------------------------------ filters

    def plan(self, filters: Filters, now: float) -> Plan:
        if filters is NO_FILTERS or filters == NO_FILTERS:
            return _TRIVIAL_PLAN
        kind_ok = None
        if filters.kinds is not None:
            kind_ok = np.array([k in filters.kinds for k in KIND_VALUES], dtype=bool)
        access_ok = None
        if filters.access is not None:
            access_ok = np.array([a in filters.access for a in ACCESS_VALUES], dtype=bool)
        amen_mask = filters.amenity_mask
        selectivity = self._static_selectivity(filters, kind_ok, amen_mask, access_ok)
        open_states = None
        states_at = None
        if filters.open_at is not None:
            if abs(filters.open_at.timestamp() - now) < 1.0:
                open_states = self.states.states_now(now)
                selectivity *= max(self._open_fraction(now), 0.01)
            else:
                states_at = StatesAt(self.states, filters.open_at)
                selectivity *= 0.5
        if filters.min_rating is not None:
            total = max(len(self), 1)
            selectivity *= self.live.count_at_least(filters.min_rating) / total
        if filters.water_now:
            selectivity *= len(self.live.water_left) / max(len(self), 1)
        return Plan(
            kind_ok,
            amen_mask,
            access_ok,
            open_states,
            states_at,
            filters.min_rating,
            selectivity,
            filters.water_now,
        )

    def _open_fraction(self, now: float) -> float:
        """Share of stations open now (recomputed when some expression's state changed)."""
        generation = self.states.generation
        if self._open_share[0] != generation:
            self._open_share = (generation, self.states.open_fraction_now(now, self.key_counts))
        return self._open_share[1]

    def _static_selectivity(
        self,
        filters: Filters,
        kind_ok: np.ndarray | None,
        amen_mask: int,
        access_ok: np.ndarray | None,
    ) -> float:
        if kind_ok is None and access_ok is None and amen_mask == 0:
            return 1.0
        key = filters.static_signature
        found = self._selectivity.get(key)
        if found is not None:
            self._selectivity.move_to_end(key)
            return found
        n = len(self.base)
        if n == 0:
            value = 1.0
        else:
            ok = self._static_mask(self.base, np.arange(n), kind_ok, amen_mask, access_ok)
            value = float(np.count_nonzero(ok)) / n
        self._selectivity[key] = value
        if len(self._selectivity) > _SELECTIVITY_CACHE:
            self._selectivity.popitem(last=False)
        return value

    @staticmethod
    def _static_mask(
        cols: Columns,
        idx: np.ndarray,
        kind_ok: np.ndarray | None,
        amen_mask: int,
        access_ok: np.ndarray | None,
    ) -> np.ndarray:
        ok = np.ones(len(idx), dtype=bool)
        if kind_ok is not None:
            ok &= kind_ok[cols.kind[idx]]
        if amen_mask:
            ok &= (cols.amen[idx] & amen_mask) == amen_mask
        if access_ok is not None:
            ok &= access_ok[cols.access[idx]]
        return ok

    def mask(self, cols: Columns, idx: np.ndarray, plan: Plan) -> np.ndarray:
        ok = self._static_mask(cols, idx, plan.kind_ok, plan.amen_mask, plan.access_ok)
        if plan.open_states is not None:
            ok &= plan.open_states[cols.hours_key[idx]] == OPEN
        elif plan.states_at is not None and ok.any():
            keys = cols.hours_key[idx]
            ok &= plan.states_at.states(keys) == OPEN
        if plan.min_rating is not None and ok.any():
            stars = self.live.stars_of(cols.ids[idx])
            ok &= stars >= plan.min_rating
        if plan.water_now and ok.any():
            ok &= self.live.has_water(cols.ids[idx])
        return ok

    # ------------------------------------------------------------------ search

    def nearest(
        self,
        lat: float,
        lng: float,
        *,
        k: int,
        filters: Filters,
        now: float,
        radius_m: float | None = None,
    ) -> list[Hit]:
        """The k stations nearest to (lat, lng) that pass ``filters``, nearest first."""
        plan = self.plan(filters, now)
        return self.nearest_from(lat, lng, sphere.point_xyz(lat, lng), k, radius_m, plan)

    def nearest_from(
        self,
        lat: float,
        lng: float,
        q: np.ndarray,
        k: int,
        radius_m: float | None,
        plan: Plan,
    ) -> list[Hit]:
        if len(self) == 0 or (plan.selectivity <= 0.0 and not self._delta_rows):
            return []
        chord_r = sphere.chord_upper_bound(radius_m) if radius_m is not None else math.inf
        radius = radius_m if radius_m is not None else math.inf
        n_base = len(self.base)
        wanted = (k + 1) / max(plan.selectivity, 1e-9) * 1.3 + 2
        kq = max(int(min(wanted, FULL_SCAN_ABOVE + 1)), k + 1)
        exact: dict[tuple[bool, int], tuple[float, float]] = {}
        in_delta: np.ndarray | None
        while True:
            if self.tree is None or kq > FULL_SCAN_ABOVE:
                chords, in_delta, pos = self._scan(q, chord_r, plan)
                frontier = math.inf
            else:
                kq = min(kq, n_base)
                chords, in_delta, pos, frontier = self._from_tree(q, kq, chord_r, plan)
            hits, settled = self._walk(lat, lng, k, radius, chords, in_delta, pos, exact)
            if settled or frontier == math.inf:
                return hits
            frontier_bound = sphere.lower_bound_scalar(frontier)
            if (len(hits) == k and frontier_bound > hits[-1].distance) or frontier_bound > radius:
                return hits
            kq *= 4

    def _from_tree(
        self, q: np.ndarray, kq: int, chord_r: float, plan: Plan
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, float]:
        """The kq nearest in chord order that pass the filters, and the chord beyond them.

        ``in_delta`` is None when every candidate is from the base (the usual case).
        """
        assert self.tree is not None
        if chord_r == math.inf:
            chords, pos = self.tree.query(q, k=kq)
        else:
            chords, pos = self.tree.query(q, k=kq, distance_upper_bound=chord_r)
        # For k == 1 cKDTree answers scalars, not arrays of one.
        chords, pos = np.atleast_1d(chords), np.atleast_1d(pos)
        if kq >= len(self.base) or chords[-1] == math.inf:
            found = chords != math.inf
            chords, pos = chords[found], pos[found]
            frontier = math.inf
        else:
            frontier = float(chords[-1])
        if self.alive_count != len(self.base):
            keep = self.alive[pos]
            chords, pos = chords[keep], pos[keep]
        if not plan.is_trivial and len(pos):
            keep = self.mask(self.base, pos, plan)
            chords, pos = chords[keep], pos[keep]
        if not self._delta_rows:
            return chords, None, pos, frontier
        in_delta = np.zeros(len(pos), dtype=bool)
        d_chords, d_pos = self._delta_candidates(q, min(frontier, chord_r), plan)
        if len(d_pos):
            chords = np.concatenate([chords, d_chords])
            pos = np.concatenate([pos, d_pos])
            in_delta = np.concatenate([in_delta, np.ones(len(d_pos), dtype=bool)])
            order = np.argsort(chords, kind="stable")
            chords, pos, in_delta = chords[order], pos[order], in_delta[order]
        return chords, in_delta, pos, frontier

    def _delta_candidates(
        self, q: np.ndarray, limit: float, plan: Plan
    ) -> tuple[np.ndarray, np.ndarray]:
        delta = self.delta
        chords = np.sqrt(((delta.xyz - q) ** 2).sum(axis=1))
        idx = np.flatnonzero(chords <= limit)
        if len(idx):
            idx = idx[self.mask(delta, idx, plan)]
        return chords[idx], idx

    def _scan(
        self, q: np.ndarray, chord_r: float, plan: Plan
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every station that passes the filters, in chord order (for selective filters)."""
        base = self.base
        idx = np.flatnonzero(self.alive)
        if len(idx):
            idx = idx[self._static_mask(base, idx, plan.kind_ok, plan.amen_mask, plan.access_ok)]
        chords = np.sqrt(((base.xyz[idx] - q) ** 2).sum(axis=1))
        near = chords <= chord_r
        idx, chords = idx[near], chords[near]
        if len(idx) and not plan.is_static_only:
            ok = self.mask(base, idx, plan)
            idx, chords = idx[ok], chords[ok]
        in_delta = np.zeros(len(idx), dtype=bool)
        if self._delta_rows:
            d_chords, d_pos = self._delta_candidates(q, chord_r, plan)
            chords = np.concatenate([chords, d_chords])
            idx = np.concatenate([idx, d_pos])
            in_delta = np.concatenate([in_delta, np.ones(len(d_pos), dtype=bool)])
        order = np.argsort(chords, kind="stable")
        return chords[order], in_delta[order], idx[order]

    def _walk(
        self,
        lat: float,
        lng: float,
        k: int,
        radius: float,
        chords: np.ndarray,
        in_delta: np.ndarray | None,
        pos: np.ndarray,
        exact: dict[tuple[bool, int], tuple[float, float]],
    ) -> tuple[list[Hit], bool]:
        """Exact distances in chord order until no further candidate can enter the top k.

        Returns the hits, nearest first, and whether the walk stopped on the bound — then
        nothing further in chord order, returned or not, can enter either.
        """
        best: list[Hit] = []
        worst = math.inf
        inverse = geodesics.GEOD._inv_point  # pyproj's scalar path, without argument checks
        scale = sphere.LOWER_BOUND_SCALE
        slack = sphere.LOWER_BOUND_SLACK_M
        asin = math.asin
        positions = pos.tolist()
        if in_delta is None:
            flags = [False] * len(positions)
            base = self.base
            c_lat, c_lng, c_ids = (
                base.lat[pos].tolist(),
                base.lng[pos].tolist(),
                base.ids[pos].tolist(),
            )
        else:
            flags = in_delta.tolist()
            c_lat, c_lng, c_ids = [], [], []
            for d_flag, p in zip(flags, positions, strict=True):
                cols = self.delta if d_flag else self.base
                c_lat.append(float(cols.lat[p]))
                c_lng.append(float(cols.lng[p]))
                c_ids.append(int(cols.ids[p]))
        for j, chord in enumerate(chords.tolist()):
            bound = 2.0 * asin(min(chord * 0.5, 1.0)) * scale - slack
            if bound > worst or bound > radius:
                return best, True
            key = (flags[j], positions[j])
            cached = exact.get(key)
            if cached is None:
                az, _, distance = inverse(lng, lat, c_lng[j], c_lat[j], False, True)
                cached = (distance, az % 360.0)
                exact[key] = cached
            distance = cached[0]
            if distance > radius:
                continue
            station_id = c_ids[j]
            if len(best) == k:
                last = best[-1]
                if distance > last.distance or (
                    distance == last.distance and station_id > last.station_id
                ):
                    continue
                best.pop()
            at = len(best)
            while at > 0 and (best[at - 1].distance, best[at - 1].station_id) > (
                distance,
                station_id,
            ):
                at -= 1
            best.insert(at, Hit(distance, station_id, cached[1], key[0], key[1]))
            if len(best) == k:
                worst = best[-1].distance
        return best, False

    def within_chord(
        self, points_xyz: np.ndarray, chord: float, filters: Filters, now: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Stations (delta flag, position) within ``chord`` of any of the points, filtered."""
        plan = self.plan(filters, now)
        base_pos = np.zeros(0, dtype=np.int64)
        if self.tree is not None and len(points_xyz):
            lists = self.tree.query_ball_point(points_xyz, r=chord)
            flat = [p for sub in lists for p in sub]
            if flat:
                base_pos = np.unique(np.asarray(flat, dtype=np.int64))
                base_pos = base_pos[self.alive[base_pos]]
                if len(base_pos):
                    base_pos = base_pos[self.mask(self.base, base_pos, plan)]
        delta_pos = np.zeros(0, dtype=np.int64)
        if self._delta_rows and len(points_xyz):
            delta = self.delta
            near = np.zeros(len(delta), dtype=bool)
            for start in range(0, len(points_xyz), 512):
                block = points_xyz[start : start + 512]
                diff = delta.xyz[None, :, :] - block[:, None, :]
                near |= (np.sqrt((diff**2).sum(axis=2)) <= chord).any(axis=0)
            delta_pos = np.flatnonzero(near)
            if len(delta_pos):
                delta_pos = delta_pos[self.mask(delta, delta_pos, plan)]
        in_delta = np.concatenate(
            [np.zeros(len(base_pos), dtype=bool), np.ones(len(delta_pos), dtype=bool)]
        )
        return in_delta, np.concatenate([base_pos, delta_pos])

    def columns_of(self, in_delta: bool) -> Columns:
        return self.delta if in_delta else self.base
