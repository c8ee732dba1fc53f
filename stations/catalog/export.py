"""Exporting the catalog: GeoJSON, CSV, GeoPackage and GeoParquet.

Every export carries ``source`` and ``source_id``, so importing it back as the same
source changes nothing (positions come back within a millimetre, well under the
importer's one-centimetre "unchanged" tolerance, even through GCJ-02 or BD-09).

Coordinates are WGS84 unless ``crs`` says otherwise; the CRS is recorded:

* GeoJSON: RFC 7946 coordinates are WGS84 lng,lat. Another EPSG system is written with
  the 2008 specification's ``crs`` member (``urn:ogc:def:crs:EPSG::32650``), which GDAL
  (and so QGIS) honours and ``stations import`` reads. GCJ-02 and BD-09 have no EPSG
  code, so no member any reader knows could say so: a GeoJSON export in them is refused,
  pointing to GeoPackage or CSV.
* CSV: a ``crs`` column on every row; geographic positions are ``lat``/``lng``,
  projected ones ``x``/``y``.
* GeoPackage and GeoParquet: the layer's CRS when it is an EPSG system (none for
  GCJ-02/BD-09), and the same ``crs`` column.

Readers see each field with its type: ``verified_at`` is a date-time (GeoPackage keeps
milliseconds, GeoParquet microseconds; GeoJSON has no date type and writes ISO 8601,
which GDAL reads as a date-time), ``amenities`` a list (``;``-joined in GeoPackage and
CSV, which have none), text columns text even when every value is empty.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from dataclasses import astuple
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import orjson
import pandas as pd

from stations.catalog import fields, rules
from stations.catalog.fields import expand_sql
from stations.errors import InvalidInput
from stations.geo import crs as crsmod
from stations.geo.region import parse_bbox
from stations.sql import load
from stations.tables import FORMULA_STARTS

SQL = load("catalog", expand=expand_sql)

FORMATS = ("geojson", "csv", "gpkg", "parquet")
COLUMNS = ("id", "code", "source", "source_id", *rules.STATION_FIELDS)
"""Exported station fields (besides the position), in this order."""
TEXT_COLUMNS = (
    "code",
    "source",
    "source_id",
    *(f.name for f in fields.FIELDS if f.sql_type == "text"),
    "attributes",  # JSON text in flat formats
    "crs",
)

_CHUNK = 20_000


async def _chunks(
    conn: asyncpg.Connection,
    source: str | None,
    bbox: tuple[float, float, float, float] | None,
) -> AsyncIterator[list[asyncpg.Record]]:
    box = bbox or (None, None, None, None)
    async with conn.transaction():
        cursor = await conn.cursor(SQL.export_stations, source, *box)
        while rows := await cursor.fetch(_CHUNK):
            yield rows


def _frame(rows: list[asyncpg.Record], crs: crsmod.Crs) -> pd.DataFrame:
    """Rows as a frame with the position in ``crs`` (``lat``/``lng`` or ``x``/``y``)."""
    frame = pd.DataFrame([dict(r) for r in rows], columns=[*COLUMNS, "lat", "lng"])
    a, b = crsmod.from_wgs84(frame["lat"].to_numpy(float), frame["lng"].to_numpy(float), crs)
    frame = frame.drop(columns=["lat", "lng"])
    if crs.is_geographic:
        frame["lat"], frame["lng"] = a, b
    else:
        frame["x"], frame["y"] = a, b
    return frame


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else value.isoformat()


async def export_stations(
    conn: asyncpg.Connection,
    path: Path | str,
    *,
    format: str | None = None,
    bbox: str | tuple[float, float, float, float] | None = None,
    crs: str | crsmod.Crs | None = None,
    source: str | None = None,
) -> int:
    """Write the stations (of ``source``, inside ``bbox``) to ``path``; returns how many."""
    path = Path(path)
    kind = (format or path.suffix.lstrip(".")).lower()
    if kind == "json":
        kind = "geojson"
    if kind not in FORMATS:
        raise InvalidInput(
            f"format: {kind!r} cannot be exported; use one of {', '.join(FORMATS)}",
            field="format",
        )
    box = astuple(parse_bbox(bbox)) if isinstance(bbox, str) else bbox
    target = crs if isinstance(crs, crsmod.Crs) else crsmod.parse_crs(crs)
    if kind == "geojson" and not target.is_wgs84 and target.epsg is None:
        raise InvalidInput(
            f"crs: GeoJSON cannot say that its coordinates are {target}: it has no EPSG "
            "code, so GDAL, QGIS and every other reader would take them for WGS84 and put "
            "each station hundreds of metres off; export GeoPackage or CSV (their crs "
            f"column says {target}), or GeoJSON in WGS84",
            field="crs",
        )
    chunks = _chunks(conn, source, box)
    if kind == "geojson":
        return await _geojson(chunks, path, target)
    if kind == "csv":
        return await _csv(chunks, path, target)
    frames = [_frame(rows, target) async for rows in chunks]
    frame = pd.concat(frames, ignore_index=True) if frames else _frame([], target)
    if kind == "gpkg":
        _gpkg(frame, path, target)
    else:
        _parquet(frame, path, target)
    return len(frame)


def _flat(frame: pd.DataFrame, crs: crsmod.Crs) -> pd.DataFrame:
    """Columns as text for formats without lists or JSON: amenities ';'-joined, ISO times."""
    out = frame.copy()
    out["amenities"] = [";".join(a) for a in out["amenities"]]
    out["attributes"] = [orjson.dumps(a).decode() for a in out["attributes"]]
    out["verified_at"] = [_iso(v) for v in out["verified_at"]]
    out["crs"] = crs.name
    return out


async def _csv(chunks: AsyncIterator[list[asyncpg.Record]], path: Path, crs: crsmod.Crs) -> int:
    count = 0
    # UTF-8 with BOM: spreadsheet programs then show Chinese names correctly.
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        async for rows in chunks:
            frame = _formula_safe(_flat(_frame(rows, crs), crs))
            frame.to_csv(out, index=False, header=count == 0, lineterminator="\n")
            count += len(frame)
        if count == 0:
            _flat(_frame([], crs), crs).to_csv(out, index=False, lineterminator="\n")
    return count


def _formula_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text that a spreadsheet would run as a formula written with a leading ``'``.

    CSV is the export people open in Excel or WPS: an operator naming a station
    ``=HYPERLINK(…)`` must not run anything there. ``stations import`` reads such a cell
    back without the apostrophe (:mod:`stations.tables`), so the export still imports
    back unchanged. GeoJSON, GeoPackage and GeoParquet are read by GIS programs, which
    run nothing: they keep the text exactly.
    """
    for name in TEXT_COLUMNS:
        column = frame[name]
        formula = column.str.startswith(FORMULA_STARTS, na=False).to_numpy(dtype=bool)
        if formula.any():
            frame[name] = column.where(~formula, "'" + column.astype("str"))
    return frame


async def _geojson(chunks: AsyncIterator[list[asyncpg.Record]], path: Path, crs: crsmod.Crs) -> int:
    count = 0
    head: dict[str, Any] = {"type": "FeatureCollection"}
    if not crs.is_wgs84:  # an EPSG system (others are refused before)
        head["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{crs.epsg}"}}
    with path.open("wb") as out:
        out.write(orjson.dumps(head)[:-1] + b',"features":[\n')
        async for rows in chunks:
            frame = _frame(rows, crs)
            if crs.is_geographic:
                first, second = frame["lng"].to_numpy(), frame["lat"].to_numpy()
            else:
                first, second = frame["x"].to_numpy(), frame["y"].to_numpy()
            records = frame[list(COLUMNS)].to_dict("records")
            for record, x, y in zip(records, first.tolist(), second.tolist(), strict=True):
                record["verified_at"] = _iso(record["verified_at"])
                record["amenities"] = list(record["amenities"])
                feature = {
                    "type": "Feature",
                    "id": record["code"],
                    "geometry": {"type": "Point", "coordinates": [x, y]},
                    "properties": record,
                }
                out.write((b",\n" if count else b"") + orjson.dumps(feature))
                count += 1
        out.write(b"\n]}\n")
    return count


def _geo_frame(frame: pd.DataFrame, crs: crsmod.Crs) -> Any:
    """A GeoDataFrame with typed columns: text as text (even when all empty, which Arrow
    would call null), ``verified_at`` as UTC date-times, ``id`` as an integer."""
    import geopandas

    flat = _flat(frame, crs)
    for name in TEXT_COLUMNS:
        flat[name] = flat[name].astype("str")
    flat["verified_at"] = pd.to_datetime(frame["verified_at"], utc=True).astype(
        "datetime64[us, UTC]"
    )
    flat["id"] = flat["id"].astype(np.int64)
    if crs.is_geographic:
        points = geopandas.points_from_xy(flat.pop("lng"), flat.pop("lat"))
    else:
        points = geopandas.points_from_xy(flat.pop("x"), flat.pop("y"))
    epsg = 4326 if crs.is_wgs84 else crs.epsg
    return geopandas.GeoDataFrame(flat, geometry=points, crs=epsg)


def _gpkg(frame: pd.DataFrame, path: Path, crs: crsmod.Crs) -> None:
    import pyogrio

    geo = _geo_frame(frame, crs)
    path.unlink(missing_ok=True)
    with warnings.catch_warnings():
        # GCJ-02/BD-09 have no EPSG code: the layer has no CRS, the crs column says which.
        warnings.filterwarnings("ignore", message="'crs' was not provided")
        pyogrio.write_dataframe(geo, path, layer="stations", driver="GPKG")


def _parquet(frame: pd.DataFrame, path: Path, crs: crsmod.Crs) -> None:
    geo = _geo_frame(frame, crs)
    geo["amenities"] = [list(a) for a in frame["amenities"]]  # Parquet keeps the list
    geo.to_parquet(path, index=False)
