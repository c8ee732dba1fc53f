"""Worker activity (demand) import: order pick-ups, rider GPS pings, claim locations.

:func:`import_demand_frame` takes a pandas frame with ``source_id, lat, lng`` (or
``x, y`` for a projected CRS) and optional ``weight`` (default 1), ``activity`` and
``observed_at``; it checks every row, converts coordinates to WGS84 at the boundary,
indexes each point at H3 res 11, COPYs the good rows into a staging table and upserts
them by (source, source_id) in one transaction: importing the same file twice
changes nothing. Bad rows are reported as (row, field, reason) and skipped.

Rows are numbered from 1 in frame order (for a CSV, row 1 is the first data line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pandas as pd

from stations.catalog.hours import validate_time_zone, zone
from stations.errors import InvalidInput
from stations.geo import h3cells
from stations.geo.crs import Crs, parse_crs, to_wgs84
from stations.sql import load

SQL = load("demand")
SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MAX_WEIGHT = 1e9
MAX_PROBLEMS = 1000  # a report lists at most this many; the counts stay exact
_STAGE_COLUMNS = ("source_id", "activity", "weight", "observed_at", "lat", "lng", "h3_r11")


@dataclass(frozen=True)
class Problem:
    """Why one row (numbered from 1) was not imported."""

    row: int
    field: str
    reason: str


@dataclass
class DemandImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    source: str
    crs: str
    dry_run: bool
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "crs": self.crs,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "problems": [p.__dict__ for p in self.problems],
        }


class _Checks:
    """Collects per-row problems; a row with any problem is rejected."""

    def __init__(self, n: int) -> None:
        self.bad = np.zeros(n, dtype=bool)
        self.problems: list[Problem] = []

    def flag(self, mask: np.ndarray, field_name: str, reason: str | list[str]) -> None:
        rows = np.nonzero(mask)[0]
        for k, i in enumerate(rows.tolist()):
            if len(self.problems) < MAX_PROBLEMS:
                text = reason[k] if isinstance(reason, list) else reason
                self.problems.append(Problem(i + 1, field_name, text))
        self.bad |= mask


def _text_column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    values = [None if _missing(v) else str(v).strip() for v in frame[name].tolist()]
    return pd.Series(values, index=frame.index, dtype=object)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    return bool(isinstance(value, float) and np.isnan(value))


def _parse_times(values: pd.Series, tz_name: str) -> tuple[list[datetime | None], np.ndarray]:
    """Aware datetimes (naive ones are read in ``tz_name``) and a mask of unreadable ones."""
    tz = zone(tz_name)
    out: list[datetime | None] = []
    bad = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values.tolist()):
        if _missing(v) or (isinstance(v, str) and not v.strip()):
            out.append(None)
            continue
        try:
            if isinstance(v, pd.Timestamp):
                moment = v.to_pydatetime()
            elif isinstance(v, datetime):
                moment = v
            else:
                moment = datetime.fromisoformat(str(v).strip().replace(" ", "T", 1))
        except ValueError:
            out.append(None)
            bad[i] = True
            continue
        out.append(moment if moment.tzinfo else moment.replace(tzinfo=tz))
    return out, bad


def validate_demand_frame(
    frame: pd.DataFrame, *, crs: Crs, time_zone: str
) -> tuple[pd.DataFrame, list[Problem], int]:
    """The rows ready to stage (WGS84, res-11 cell), the problems, and the rejected count."""
    cols = {str(c).strip().lower(): c for c in frame.columns}
    frame = frame.rename(columns={v: k for k, v in cols.items()})
    coord = ("lat", "lng") if crs.is_geographic else ("x", "y")
    missing = [c for c in ("source_id", *coord) if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"columns: missing {', '.join(missing)}; a demand file needs source_id, "
            f"{coord[0]}, {coord[1]} ({'degrees' if crs.is_geographic else 'metres'} in {crs}) "
            "and optionally weight, activity, observed_at",
            field="columns",
        )
    n = len(frame)
    checks = _Checks(n)

    source_id = _text_column(frame, "source_id")
    empty_id = source_id.map(lambda v: not v).to_numpy(dtype=bool)
    checks.flag(empty_id, "source_id", "is empty; every row needs its own id in the source")
    long_id = source_id.map(lambda v: bool(v) and len(v) > 200).to_numpy(dtype=bool)
    checks.flag(long_id, "source_id", "is longer than 200 characters")
    dup = source_id.duplicated(keep="first").to_numpy(dtype=bool) & ~empty_id
    first_row: dict[str, int] = {}
    for i, v in enumerate(source_id.tolist()):
        first_row.setdefault(v, i + 1)
    checks.flag(
        dup,
        "source_id",
        [f"repeats row {first_row[v]}" for v in source_id[dup].tolist()],
    )

    a = pd.to_numeric(frame[coord[0]], errors="coerce").to_numpy(dtype=np.float64)
    b = pd.to_numeric(frame[coord[1]], errors="coerce").to_numpy(dtype=np.float64)
    checks.flag(~np.isfinite(a), coord[0], "is not a number")
    checks.flag(~np.isfinite(b), coord[1], "is not a number")
    if crs.is_geographic:
        checks.flag(np.isfinite(a) & (np.abs(a) > 90), "lat", "is outside -90..90")
        checks.flag(np.isfinite(b) & (np.abs(b) > 180), "lng", "is outside -180..180")

    if "weight" in frame.columns:
        raw = frame["weight"]
        blank = raw.isna() | raw.astype(str).str.strip().eq("")
        weight = pd.to_numeric(raw.where(~blank, 1), errors="coerce").to_numpy(dtype=np.float64)
        checks.flag(~np.isfinite(weight), "weight", "is not a number")
        checks.flag(
            np.isfinite(weight) & ((weight <= 0) | (weight >= MAX_WEIGHT)),
            "weight",
            f"must be greater than 0 and less than {MAX_WEIGHT:g}",
        )
    else:
        weight = np.ones(n)

    activity = _text_column(frame, "activity").map(lambda v: v or "unspecified")
    checks.flag(activity.map(len).to_numpy() > 50, "activity", "is longer than 50 characters")

    if "observed_at" in frame.columns:
        times, bad_time = _parse_times(frame["observed_at"].reset_index(drop=True), time_zone)
        checks.flag(
            bad_time, "observed_at", "is not an ISO 8601 time, e.g. 2025-07-01T12:30:00+08:00"
        )
    else:
        times = [None] * n

    good = ~checks.bad
    lat, lng = to_wgs84(np.where(good, a, 0.0), np.where(good, b, 0.0), crs)
    lat, lng = np.asarray(lat), np.asarray(lng)
    converted = np.isfinite(lat) & np.isfinite(lng) & (np.abs(lat) <= 90) & (np.abs(lng) <= 180)
    checks.flag(good & ~converted, coord[0], f"does not convert from {crs} to WGS84")
    good = ~checks.bad
    sel = np.nonzero(good)[0]
    staged = pd.DataFrame(
        {
            "source_id": source_id.to_numpy()[sel],
            "activity": activity.to_numpy()[sel],
            "weight": weight[sel],
            # object dtype: a datetime64 column would turn None into NaT, which COPY refuses
            "observed_at": pd.Series([times[i] for i in sel.tolist()], dtype=object),
            "lat": lat[sel],
            "lng": lng[sel],
            "h3_r11": h3cells.cells_from_latlng_array(lat[sel], lng[sel], 11).astype(np.int64),
        }
    )
    checks.problems.sort(key=lambda p: (p.row, p.field))
    return staged, checks.problems, int(checks.bad.sum())


async def import_demand_frame(
    conn: asyncpg.Connection,
    frame: pd.DataFrame,
    *,
    source: str,
    actor: str,
    crs: str | Crs | None = None,
    dry_run: bool = False,
    time_zone: str = "Asia/Shanghai",
) -> DemandImportReport:
    """Import demand points from a frame; idempotent per (source, source_id).

    ``crs`` is the frame's coordinate system (wgs84, gcj02, bd09 or EPSG:n; default
    WGS84). Times without a zone are read in ``time_zone``. With ``dry_run`` nothing
    is written and the report says what would have happened.
    """
    if not SOURCE_PATTERN.match(source or ""):
        raise InvalidInput(
            f"source: {source!r} must be 1–64 lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. 'meituan-2025-07')",
            field="source",
        )
    if not actor or not actor.strip():
        raise InvalidInput("actor: name who runs the import", field="actor")
    parsed = crs if isinstance(crs, Crs) else parse_crs(crs)
    validate_time_zone(time_zone)
    staged, problems, rejected = validate_demand_frame(frame, crs=parsed, time_zone=time_zone)
    report = DemandImportReport(
        source=source,
        crs=str(parsed),
        dry_run=dry_run,
        rows=len(frame),
        rejected=rejected,
        problems=problems,
    )
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute(SQL.create_stage)
        if len(staged):
            await conn.copy_records_to_table(
                "demand_stage",
                records=staged.itertuples(index=False, name=None),
                columns=list(_STAGE_COLUMNS),
            )
        counts = await conn.fetchrow(SQL.upsert_from_stage, source)
        report.inserted = int(counts["inserted"])
        report.updated = int(counts["updated"])
        report.unchanged = len(staged) - report.inserted - report.updated
        if not dry_run:
            await conn.fetchval(
                SQL.record_import,
                source,
                actor.strip(),
                str(parsed),
                report.rows,
                report.inserted,
                report.updated,
                report.unchanged,
                report.rejected,
            )
    except BaseException:
        await transaction.rollback()
        raise
    if dry_run:
        await transaction.rollback()
    else:
        await transaction.commit()
    return report


async def demand_summary(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Demand per source: points, total weight, first and last observation."""
    return [dict(r) for r in await conn.fetch(SQL.demand_summary)]


# ----------------------------------------------------------------- reading files
# Minimal reader until the station importer's file machinery can be shared.

_ALIASES = {
    "source_id": ("source_id", "id", "order_id", "编号", "订单号"),
    "lat": ("lat", "latitude", "纬度", "y_lat"),
    "lng": ("lng", "lon", "long", "longitude", "经度"),
    "weight": ("weight", "count", "权重", "数量"),
    "activity": ("activity", "type", "类型"),
    "observed_at": ("observed_at", "time", "timestamp", "datetime", "时间"),
}


def _normalise_columns(frame: pd.DataFrame) -> pd.DataFrame:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    renames: dict[Any, str] = {}
    for target, names in _ALIASES.items():
        if target in lower:
            continue
        for name in names:
            if name in lower:
                renames[lower[name]] = target
                break
    return frame.rename(columns=renames)


def _encoding_of(raw: bytes) -> str:
    """UTF-8 if it decodes, else GB18030 (a superset of GBK, what Chinese exports use)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:200_000]).best()
    return best.encoding if best else "latin-1"


def read_points_file(path: Path, *, crs: str | None = None) -> tuple[pd.DataFrame, Crs]:
    """A CSV or any vector file of points as a frame with lat/lng (or x/y) columns.

    CSV: columns as in :func:`import_demand_frame` (common aliases such as ``经度`` or
    ``longitude`` are accepted); UTF-8 or GBK/GB18030. Vector files (GeoJSON,
    GeoPackage, Shapefile, GeoParquet): point geometries; the file's own CRS is used
    unless ``crs`` overrides it (GeoJSON from Chinese map tools is often GCJ-02).
    """
    if not path.is_file():
        raise InvalidInput(f"file: {path} does not exist", field="file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        raw = path.read_bytes()
        encoding = _encoding_of(raw)
        sep = "\t" if suffix == ".tsv" else ","
        try:
            frame = pd.read_csv(path, dtype=str, encoding=encoding, sep=sep, keep_default_na=False)
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise InvalidInput(
                f"file: {path.name} is not a readable CSV ({exc})", field="file"
            ) from exc
        return _normalise_columns(frame), parse_crs(crs)
    import geopandas as gpd
    import shapely

    try:
        gdf = gpd.read_parquet(path) if suffix == ".parquet" else gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InvalidInput(
            f"file: {path.name} is not a readable vector file ({exc})", field="file"
        ) from exc
    kinds = set(shapely.get_type_id(gdf.geometry.values).tolist())
    if kinds - {0}:
        raise InvalidInput(f"file: {path.name} must hold points only", field="file")
    if crs is not None:
        parsed = parse_crs(crs)
    elif gdf.crs is not None and gdf.crs.to_epsg() not in (None, 4326):
        parsed = parse_crs(f"EPSG:{gdf.crs.to_epsg()}")
    else:
        parsed = parse_crs(None)
    frame = _normalise_columns(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)))
    xs = shapely.get_x(gdf.geometry.values)
    ys = shapely.get_y(gdf.geometry.values)
    if parsed.is_geographic:
        frame["lat"], frame["lng"] = ys, xs
    else:
        frame["x"], frame["y"] = xs, ys
    return frame, parsed
