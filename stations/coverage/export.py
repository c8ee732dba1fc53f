"""Coverage results as files and API bodies: cells as GeoJSON, the gap table as rows/CSV.

Coordinates go out in WGS84 unless a caller asks for GCJ-02 or BD-09 (converted here,
at the boundary).
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np
from h3.api import basic_int

from stations.coverage.analysis import CoverageResult
from stations.coverage.engine import DEMAND_UNIT
from stations.errors import InvalidInput
from stations.geo import h3cells
from stations.geo.crs import Crs, from_wgs84

GAP_COLUMNS = (
    "rank",
    "cell",
    "lat",
    "lng",
    "uncovered_demand",
    "distance_m",
    "band",
    "nearest_station_id",
    "district",
)


def _round(values: np.ndarray, digits: int) -> list[float]:
    return np.round(values, digits).tolist()


def cells_geojson(result: CoverageResult, *, crs: Crs, lang: str = "zh") -> dict[str, Any]:
    """Every cell as a hexagon with its band, distance, demand and nearest station."""
    cells = result.cells
    if cells is None:
        raise InvalidInput("cells: this run kept no per-cell result", field="cells")
    names = result.bands.bands
    station_ids = result.stations.ids
    boundary = basic_int.cell_to_boundary
    features = []
    for k, cell in enumerate(cells.cells.tolist()):
        ring = np.array(boundary(cell))
        lat, lng = from_wgs84(ring[:, 0], ring[:, 1], crs)
        coords = np.column_stack([np.round(lng, 7), np.round(lat, 7)]).tolist()
        coords.append(coords[0])
        band = names[int(cells.band[k])]
        dist = float(cells.distance_m[k])
        st = int(cells.station[k])
        features.append(
            {
                "type": "Feature",
                "id": h3cells.cell_to_hex(cell),
                "geometry": {"type": "Polygon", "coordinates": [coords]},
                "properties": {
                    "cell": h3cells.cell_to_hex(cell),
                    "band": band.name,
                    "band_label": band.label(lang),
                    "distance_m": None if math.isinf(dist) else round(dist, 1),
                    "demand": int(cells.demand_micro[k]) / DEMAND_UNIT,
                    "nearest_station_id": int(station_ids[st]) if st >= 0 else None,
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "resolution": result.request.res,
            "crs": str(crs),
            "target": result.bands.target,
        },
    }


def gap_rows(result: CoverageResult, *, crs: Crs, limit: int | None = None) -> list[dict[str, Any]]:
    """Every cell with demand outside the target band, most uncovered demand first."""
    cells = result.cells
    if cells is None:
        raise InvalidInput("gaps: this run kept no per-cell result", field="cells")
    mask = (cells.band > result.bands.target_index) & (cells.demand_micro > 0)
    idx = np.flatnonzero(mask)
    dist = np.where(np.isinf(cells.distance_m[idx]), np.finfo(float).max, cells.distance_m[idx])
    idx = idx[np.lexsort((cells.cells[idx], -dist, -cells.demand_micro[idx]))]
    if limit is not None:
        idx = idx[:limit]
    lat, lng = from_wgs84(cells.lat[idx], cells.lng[idx], crs)
    districts = [*result.stations.districts]
    rows = []
    for rank, (k, a, b) in enumerate(
        zip(idx.tolist(), _round(lat, 6), _round(lng, 6), strict=True), start=1
    ):
        st = int(cells.station[k])
        dist_k = float(cells.distance_m[k])
        code = int(result.stations.district[st]) if st >= 0 else -1
        rows.append(
            {
                "rank": rank,
                "cell": h3cells.cell_to_hex(int(cells.cells[k])),
                "lat": a,
                "lng": b,
                "uncovered_demand": int(cells.demand_micro[k]) / DEMAND_UNIT,
                "distance_m": None if math.isinf(dist_k) else round(dist_k, 1),
                "band": result.bands.bands[int(cells.band[k])].name,
                "nearest_station_id": int(result.stations.ids[st]) if st >= 0 else None,
                "district": districts[code] if code >= 0 else None,
            }
        )
    return rows


def gap_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=GAP_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in GAP_COLUMNS})
    return out.getvalue()


def shift_points(rows: list[dict[str, Any]], crs: Crs) -> list[dict[str, Any]]:
    """Rows with ``lat``/``lng`` in WGS84, converted to ``crs`` (rounded to 1e-6°)."""
    if crs.is_wgs84 or not rows:
        return rows
    lat, lng = from_wgs84(
        np.array([r["lat"] for r in rows]), np.array([r["lng"] for r in rows]), crs
    )
    return [
        {**r, "lat": a, "lng": b}
        for r, a, b in zip(rows, _round(lat, 6), _round(lng, 6), strict=True)
    ]
