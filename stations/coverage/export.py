"""Coverage results as files and API bodies: cells as GeoJSON, the gap table as rows/CSV.

Coordinates go out in WGS84 unless a caller asks for GCJ-02 or BD-09 (converted here,
at the boundary).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import shapely
from h3.api import basic_int

from stations.coverage.analysis import CoverageResult
from stations.coverage.engine import DEMAND_UNIT, CellMeasures
from stations.errors import InvalidInput
from stations.geo import h3cells
from stations.geo.crs import WGS84, Crs, from_wgs84

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


def cell_columns(
    result: CoverageResult, *, crs: Crs, lang: str, index: np.ndarray | None = None
) -> dict[str, Any]:
    """Every cell's hexagon ring (lng, lat in ``crs``) and properties, column by column;
    with ``index``, only those cells (positions in ``result.cells``), in that order."""
    cells = result.cells
    if cells is None:
        raise InvalidInput("cells: this run kept no per-cell result", field="cells")
    if index is not None:
        cells = CellMeasures(
            cells=cells.cells[index],
            lat=cells.lat[index],
            lng=cells.lng[index],
            station=cells.station[index],
            distance_m=cells.distance_m[index],
            band=cells.band[index],
            demand_micro=cells.demand_micro[index],
        )
    names = result.bands.bands
    station_ids = result.stations.ids
    boundary = basic_int.cell_to_boundary
    rings = []
    for cell in cells.cells.tolist():
        ring = np.array(boundary(cell))
        lat, lng = from_wgs84(ring[:, 0], ring[:, 1], crs)
        coords = np.column_stack([np.round(lng, 7), np.round(lat, 7)]).tolist()
        coords.append(coords[0])
        rings.append(coords)
    hexes = h3cells.cells_to_hex(cells.cells)
    return {
        "ring": rings,
        "cell": hexes,
        "band": [names[int(b)].name for b in cells.band.tolist()],
        "band_label": [names[int(b)].label(lang) for b in cells.band.tolist()],
        "distance_m": [None if math.isinf(d) else round(d, 1) for d in cells.distance_m.tolist()],
        "demand": (cells.demand_micro / DEMAND_UNIT).tolist(),
        "nearest_station_id": [
            int(station_ids[st]) if st >= 0 else None for st in cells.station.tolist()
        ],
    }


def cells_geojson(result: CoverageResult, *, crs: Crs, lang: str = "zh") -> dict[str, Any]:
    """Every cell as a hexagon with its band, distance, demand and nearest station."""
    columns = cell_columns(result, crs=crs, lang=lang)
    rings = columns.pop("ring")
    keys = list(columns)
    features = [
        {
            "type": "Feature",
            "id": values[0],
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": dict(zip(keys, values, strict=True)),
        }
        for ring, values in zip(rings, zip(*columns.values(), strict=True), strict=True)
    ]
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "resolution": result.request.res,
            "crs": str(crs),
            "target": result.bands.target,
        },
    }


def _cells_frame(result: CoverageResult, *, lang: str) -> Any:
    """Every cell as a GeoDataFrame in WGS84, columns typed for GDAL."""
    import geopandas

    columns = cell_columns(result, crs=WGS84, lang=lang)
    rings = columns.pop("ring")
    frame = geopandas.GeoDataFrame(columns, geometry=[shapely.Polygon(r) for r in rings], crs=4326)
    frame["distance_m"] = frame["distance_m"].astype("float64")
    frame["nearest_station_id"] = frame["nearest_station_id"].astype("Int64")
    return frame


def write_cells_flatgeobuf(result: CoverageResult, path: Path, *, lang: str = "zh") -> None:
    """Every cell as FlatGeobuf (WGS84): binary, streamable and indexed, for runs whose
    GeoJSON would weigh hundreds of megabytes; GDAL and QGIS read it."""
    import pyogrio

    frame = _cells_frame(result, lang=lang)
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(frame, path, layer="cells", driver="FlatGeobuf")


def write_cells_geoparquet(
    result: CoverageResult, target: Path | BinaryIO, *, lang: str = "zh"
) -> None:
    """Every cell as GeoParquet (WGS84, WKB geometry, the GeoParquet metadata), about a
    fifth of the GeoJSON's size; QGIS, GDAL, geopandas and DuckDB read it."""
    _cells_frame(result, lang=lang).to_parquet(target, index=False)


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
