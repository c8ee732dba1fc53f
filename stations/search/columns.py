"""The columns of the in-process index: one array per station attribute, and its KD-tree.

Columns hold the stations as numpy arrays sorted by id, including each station's
pre-rendered JSON (``head``) and the unit-sphere points the tree is built over.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from stations.geo import sphere
from stations.search.openness import OpeningStates


class Hit(NamedTuple):
    """One answer: exact distance (m), station id, bearing from the query point, where it is."""

    distance: float
    station_id: int
    bearing: float
    in_delta: bool
    pos: int


@dataclass
class Columns:
    """Stations as parallel arrays (one row per station)."""

    ids: np.ndarray
    version: np.ndarray
    lat: np.ndarray
    lng: np.ndarray
    xyz: np.ndarray
    kind: np.ndarray
    amen: np.ndarray
    access: np.ndarray
    hours_key: np.ndarray
    verified: np.ndarray  # epoch seconds, NaN when never verified
    head: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> Columns:
        return cls(
            ids=np.zeros(0, np.int64),
            version=np.zeros(0, np.int64),
            lat=np.zeros(0),
            lng=np.zeros(0),
            xyz=np.zeros((0, 3)),
            kind=np.zeros(0, np.int8),
            amen=np.zeros(0, np.int64),
            access=np.zeros(0, np.int8),
            hours_key=np.zeros(0, np.int32),
            verified=np.zeros(0),
        )

    @classmethod
    def from_records(cls, records: Sequence[Any], states: OpeningStates) -> Columns:
        """Rows of the ``index_*`` queries of ``stations/sql/search.sql``."""
        n = len(records)
        if n == 0:
            return cls.empty()
        lat = np.fromiter((r["lat"] for r in records), float, n)
        lng = np.fromiter((r["lng"] for r in records), float, n)
        key_for = states.key_for
        return cls(
            ids=np.fromiter((r["id"] for r in records), np.int64, n),
            version=np.fromiter((r["version"] for r in records), np.int64, n),
            lat=lat,
            lng=lng,
            xyz=sphere.unit_xyz(lat, lng),
            kind=np.fromiter((r["kind_code"] for r in records), np.int8, n),
            amen=np.fromiter((r["amenity_mask"] for r in records), np.int64, n),
            access=np.fromiter((r["access_code"] for r in records), np.int8, n),
            hours_key=np.fromiter(
                (key_for(r["opening_hours"], r["time_zone"], r["country_code"]) for r in records),
                np.int32,
                n,
            ),
            verified=np.fromiter(
                (math.nan if r["verified_epoch"] is None else r["verified_epoch"] for r in records),
                float,
                n,
            ),
            head=[r["head"] for r in records],
        )

    def take(self, idx: np.ndarray) -> Columns:
        positions = idx.tolist()
        return Columns(
            ids=self.ids[idx],
            version=self.version[idx],
            lat=self.lat[idx],
            lng=self.lng[idx],
            xyz=self.xyz[idx],
            kind=self.kind[idx],
            amen=self.amen[idx],
            access=self.access[idx],
            hours_key=self.hours_key[idx],
            verified=self.verified[idx],
            head=[self.head[i] for i in positions],
        )

    @classmethod
    def concat(cls, parts: Iterable[Columns]) -> Columns:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        heads: list[bytes] = []
        for p in parts:
            heads.extend(p.head)
        return cls(
            ids=np.concatenate([p.ids for p in parts]),
            version=np.concatenate([p.version for p in parts]),
            lat=np.concatenate([p.lat for p in parts]),
            lng=np.concatenate([p.lng for p in parts]),
            xyz=np.concatenate([p.xyz for p in parts]),
            kind=np.concatenate([p.kind for p in parts]),
            amen=np.concatenate([p.amen for p in parts]),
            access=np.concatenate([p.access for p in parts]),
            hours_key=np.concatenate([p.hours_key for p in parts]),
            verified=np.concatenate([p.verified for p in parts]),
            head=heads,
        )

    def sorted_by_id(self) -> Columns:
        if len(self) < 2 or bool(np.all(self.ids[1:] > self.ids[:-1])):
            return self
        return self.take(np.argsort(self.ids, kind="stable"))


def build_tree(xyz: np.ndarray) -> cKDTree:
    """The KD-tree over unit-sphere points (releases the GIL: run it in a thread)."""
    return cKDTree(xyz, leafsize=16, balanced_tree=False, compact_nodes=False)
