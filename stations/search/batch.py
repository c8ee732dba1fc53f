"""Nearest stations for many points at once (``nearest:batch``), vectorised, over an index.

The same rules as one point's walk (:meth:`StationIndex.nearest_from`), on a matrix of
candidates with one row per point: most rows are settled by the tree's first
candidates; the few that are not fall back to the one-point walk.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from stations.geo import distance as geodesics
from stations.geo import sphere
from stations.search.columns import Hit
from stations.search.filters import Filters

if TYPE_CHECKING:
    from stations.search.index import Plan, StationIndex


def nearest_many(
    index: StationIndex,
    lats: np.ndarray,
    lngs: np.ndarray,
    *,
    k: int,
    filters: Filters,
    now: float,
    radius_m: float | None = None,
) -> list[list[Hit]]:
    """:meth:`StationIndex.nearest` for many points at once; answers in input order."""
    m = len(lats)
    if m == 0:
        return []
    plan = index.plan(filters, now)
    if len(index) == 0 or (plan.selectivity <= 0.0 and not index.changed):
        return [[] for _ in range(m)]
    q = sphere.unit_xyz(lats, lngs)
    answers: list[list[Hit] | None] = [None] * m
    wanted = (k + 1) / max(plan.selectivity, 1e-9) * 1.3 + 2
    if index.tree is not None and wanted <= 256:
        for start in range(0, m, 4096):
            stop = min(start + 4096, m)
            block = _nearest_block(
                index,
                lats[start:stop],
                lngs[start:stop],
                q[start:stop],
                k,
                int(wanted),
                radius_m,
                plan,
            )
            answers[start:stop] = block
    for row in range(m):
        if answers[row] is None:
            answers[row] = index.nearest_from(
                float(lats[row]), float(lngs[row]), q[row], k, radius_m, plan
            )
    return [a if a is not None else [] for a in answers]


def _nearest_block(
    index: StationIndex,
    lats: np.ndarray,
    lngs: np.ndarray,
    q: np.ndarray,
    k: int,
    kq: int,
    radius_m: float | None,
    plan: Plan,
) -> list[list[Hit] | None]:
    """Answer the rows that the tree's first kq candidates settle; None for the others.

    The same rules as :meth:`_walk`, on a matrix of candidates (one row per point):
    exact distances for the first k passing candidates, then for those whose lower
    bound does not exceed the k-th; a row is settled when the bound of what the tree
    did not return exceeds its k-th best distance.
    """
    assert index.tree is not None
    base = index.base
    n_base = len(base)
    m = len(lats)
    kq = min(max(kq, k + 1), n_base)
    chord_r = sphere.chord_upper_bound(radius_m) if radius_m is not None else math.inf
    d, i = index.tree.query(q, k=kq, distance_upper_bound=chord_r)
    d = np.asarray(d, dtype=float).reshape(m, kq)
    i = np.asarray(i).reshape(m, kq)
    found = np.isfinite(d)
    exhausted = ~found[:, -1] | (kq >= n_base)
    frontier = np.where(exhausted, np.inf, d[:, -1])
    vpos = np.where(found, i, 0).astype(np.int64)
    ok = found & index.alive[vpos]
    if not plan.is_trivial:
        ok[ok] = index.mask(base, vpos[ok], plan)
    lat_all, lng_all, ids_all = base.lat, base.lng, base.ids
    if index.changed:
        delta = index.delta
        nd = len(delta)
        d_chords = np.sqrt(((q[:, None, :] - delta.xyz[None, :, :]) ** 2).sum(axis=2))
        d_ok = d_chords <= np.minimum(frontier, chord_r)[:, None]
        d_ok &= index.mask(delta, np.arange(nd), plan)[None, :]
        d = np.concatenate([d, np.where(d_ok, d_chords, np.inf)], axis=1)
        ok = np.concatenate([ok, d_ok], axis=1)
        vpos = np.concatenate([vpos, np.broadcast_to(n_base + np.arange(nd), (m, nd))], axis=1)
        order = np.argsort(np.where(ok, d, np.inf), axis=1, kind="stable")
        d = np.take_along_axis(d, order, axis=1)
        ok = np.take_along_axis(ok, order, axis=1)
        vpos = np.take_along_axis(vpos, order, axis=1)
        lat_all = np.concatenate([base.lat, delta.lat])
        lng_all = np.concatenate([base.lng, delta.lng])
        ids_all = np.concatenate([base.ids, delta.ids])
    width = d.shape[1]
    rank = np.cumsum(ok, axis=1) - 1
    first = ok & (rank < k)
    dist = np.full((m, width), np.inf)
    bearing = np.zeros((m, width))
    r_idx, c_idx = np.nonzero(first)
    if len(r_idx):
        p = vpos[r_idx, c_idx]
        dist[r_idx, c_idx], bearing[r_idx, c_idx] = geodesics.geodesic_many(
            lats[r_idx], lngs[r_idx], lat_all[p], lng_all[p]
        )
    counts = first.sum(axis=1)
    worst = np.where(counts >= k, np.max(np.where(first, dist, -np.inf), axis=1), np.inf)
    bounds = sphere.lower_bound_m(np.where(ok, d, 2.0))
    second = ok & ~first & (bounds <= worst[:, None])
    r_idx, c_idx = np.nonzero(second)
    if len(r_idx):
        p = vpos[r_idx, c_idx]
        dist[r_idx, c_idx], bearing[r_idx, c_idx] = geodesics.geodesic_many(
            lats[r_idx], lngs[r_idx], lat_all[p], lng_all[p]
        )
    if radius_m is not None:
        dist[dist > radius_m] = np.inf
    ids = np.where(ok, ids_all[vpos], np.iinfo(np.int64).max)
    rows = np.broadcast_to(np.arange(m)[:, None], (m, width))
    order = np.lexsort((ids.ravel(), dist.ravel(), rows.ravel())).reshape(m, width)[:, :k]
    top_dist = dist.ravel()[order]
    top_ok = np.isfinite(top_dist)
    n_top = top_ok.sum(axis=1)
    kth = np.where(n_top >= k, top_dist[:, -1], np.inf)
    frontier_bound = np.where(
        np.isfinite(frontier),
        sphere.lower_bound_m(np.where(np.isfinite(frontier), frontier, 0.0)),
        np.inf,
    )
    settled = exhausted | ((n_top >= k) & (frontier_bound > kth))
    answers: list[list[Hit] | None] = [None] * m
    flat_ids = ids.ravel()
    flat_bearing = bearing.ravel()
    flat_dist = dist.ravel()
    flat_vpos = vpos.ravel()
    for row in np.flatnonzero(settled).tolist():
        hits = []
        for j, good in zip(order[row].tolist(), top_ok[row].tolist(), strict=True):
            if good:
                v = int(flat_vpos[j])
                hits.append(
                    Hit(
                        float(flat_dist[j]),
                        int(flat_ids[j]),
                        float(flat_bearing[j]),
                        v >= n_base,
                        v - n_base if v >= n_base else v,
                    )
                )
        answers[row] = hits
    return answers
