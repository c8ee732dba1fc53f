"""Near-duplicates: two stations with the same name within a few metres of each other.

Checked once every chunk of a file is in, against the earlier rows of the file and the
stations of the catalog around it (:data:`~stations.catalog.rules.NEAR_DUPLICATE_METRES`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from stations.catalog.rules import NEAR_DUPLICATE_METRES
from stations.catalog.text import name_keys
from stations.geo.distance import geodesic


def find_near_duplicates(
    rows: np.ndarray,
    lat: np.ndarray,
    lng: np.ndarray,
    names: pa.Array,
    catalog: list[Any],
) -> list[tuple[int, str, str, str, str]]:
    """Greedy, in row order: a row is a near-duplicate when a station of the catalog, or an
    earlier row that was kept, lies within NEAR_DUPLICATE_METRES and has the same name.

    Only rows whose name occurs more than once (in the file and the nearby catalog) can
    be one, so the loop runs over those alone; a grid of 5 m cells finds neighbours.
    """
    file_keys = name_keys(pd.Series(names.to_pandas(types_mapper=pd.ArrowDtype)))
    cat_keys = name_keys(pd.Series([c["name"] for c in catalog], dtype="str"))
    all_keys = pd.concat([cat_keys, file_keys], ignore_index=True)
    repeated = all_keys.duplicated(keep=False).to_numpy()
    n_cat = len(catalog)
    if not repeated.any():
        return []
    cell = NEAR_DUPLICATE_METRES
    accepted: dict[tuple[str, int, int], list[tuple[float, float, str]]] = {}

    def grid(a: float, b: float) -> tuple[int, int]:
        return (
            int(np.floor(b * np.cos(np.radians(a)) * 111_320.0 / cell)),
            int(np.floor(a * 110_540.0 / cell)),
        )

    found: list[tuple[int, str, str, str, str]] = []
    for i in np.flatnonzero(repeated[:n_cat]):
        station = catalog[i]
        gx, gy = grid(station["lat"], station["lng"])
        label = f"station {station['code']} ({station['source']}/{station['source_id']})"
        accepted.setdefault((cat_keys.iloc[i], gx, gy), []).append(
            (station["lat"], station["lng"], label)
        )
    order = np.argsort(rows, kind="stable")
    file_repeated = repeated[n_cat:]
    name_list = names.to_pylist()
    for j in order:
        if not file_repeated[j]:
            continue
        key = file_keys.iloc[j]
        a, b = float(lat[j]), float(lng[j])
        gx, gy = grid(a, b)
        match = None
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for other in accepted.get((key, gx + dx, gy + dy), ()):
                    distance = geodesic(a, b, other[0], other[1])[0]
                    if distance <= NEAR_DUPLICATE_METRES and (match is None or distance < match[0]):
                        match = (distance, other[2])
        if match is None:
            accepted.setdefault((key, gx, gy), []).append((a, b, f"row {int(rows[j])}"))
            continue
        found.append(
            (
                int(rows[j]),
                "position",
                "near_duplicate",
                f"is {match[0]:.1f} m from {match[1]}, which has the same name "
                f"(near-duplicates are within {NEAR_DUPLICATE_METRES:g} m); "
                "fix the position or drop one of them",
                name_list[j],
            )
        )
    return found
