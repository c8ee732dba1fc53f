"""The import pipeline on frames in catalog form: check, stage by COPY, merge.

A frame (or a stream of chunks of one file) goes through:

1. per chunk: position parsed and converted to WGS84 (the original kept), the station
   rules of :mod:`stations.catalog.rules`, source ids, time zone and country, H3 cells;
   the rows that pass are COPYed (binary) into a temporary table. A chunk is checked
   in a worker thread while the server still stores the previous chunk's COPY;
2. once every chunk is in: duplicate source ids and near-duplicates (within
   :data:`NEAR_DUPLICATE_METRES` of a station with the same name, in the file or in the
   catalog), whose rows are taken out again;
3. set-based SQL merges the rest into ``stations``: new rows inserted, changed rows
   updated, unchanged rows left alone (so a re-import writes no history).

All of it runs in one transaction: every good row lands or none does, and bad rows
never land.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from stations.catalog import hours, rules
from stations.db import connection as dbconn
from stations.errors import InvalidInput
from stations.geo import crs as crsmod
from stations.geo import h3cells
from stations.geo.distance import geodesic
from stations.geo.region import Region
from stations.importer import pgcopy
from stations.importer.report import ImportReport
from stations.sql import load

SQL = load("import")

NEAR_DUPLICATE_METRES = 5.0
"""Two stations with the same (normalised) name closer than this are near-duplicates."""

BULK_MIN_NEW = 20_000
"""An import adding at least this many stations, and at least a third as many as the
catalog holds, rebuilds the catalog's secondary indexes after its insert instead of
updating them row by row (see :meth:`ImportRun._insert_new`)."""

OPTIONAL_FIELDS = tuple(f for f in rules.STATION_FIELDS if f not in ("name", "kind"))
"""Fields a file may leave out: on update, a station keeps its stored value for them."""

_STAGED_COLUMNS = (
    "row_no",
    "source_id",
    *rules.STATION_FIELDS,
    "original_position",
    "lat",
    "lng",
    "h3_r7",
    "h3_r9",
    "h3_r11",
)

Progress = Callable[[str, int, int | None], None]
"""``progress(stage, done, total)``: stage is ``rows`` (read and checked) or ``write``."""


@dataclass(frozen=True)
class Options:
    """How to read and where to write the rows of one import."""

    source: str
    actor: str
    crs: crsmod.Crs = field(default_factory=lambda: crsmod.Crs("wgs84"))
    default_kind: str | None = None
    region: Region | None = None
    dry_run: bool = False
    time_zone: str | None = None
    country: str | None = None
    reason: str | None = None


def check_options(options: Options) -> Options:
    """Refuse options that would make every row fail, before reading anything."""
    if not rules.SOURCE_PATTERN.fullmatch(options.source):
        raise InvalidInput(
            f"source: {options.source!r} is not a source name; use 1-64 lower-case letters, "
            "digits, '.', '_' or '-', starting with a letter or digit (e.g. paris-fontaines)",
            field="source",
        )
    if options.default_kind is not None:
        try:
            rules.kind_rule(options.default_kind)
        except rules.RuleBroken as exc:
            raise InvalidInput(f"kind: {exc.detail}", field="kind") from None
    if options.time_zone is not None:
        hours.validate_time_zone(options.time_zone, field="timezone")
    if options.country is not None:
        try:
            rules.country_rule(options.country)
        except rules.RuleBroken as exc:
            raise InvalidInput(f"country: {exc.detail}", field="country") from None
    return options


# --- one chunk: from catalog-named columns to staged rows -------------------------------


@dataclass
class Prepared:
    """A checked chunk: its problems, the rows to stage, and what global checks need."""

    problems: rules.Problems
    rows: int
    ids_row: np.ndarray  # row numbers of every row that has a source id ...
    ids: pa.Array  # ... and those ids (for duplicate checks over the whole file)
    good_row: np.ndarray  # row numbers of the rows that passed
    good_lat: np.ndarray
    good_lng: np.ndarray
    good_name: pa.Array
    staged: list[pgcopy.Column]
    derived_ids: bool


def prepare(
    frame: pd.DataFrame, options: Options, problems: rules.Problems | None = None
) -> Prepared:
    """Check one chunk (index = row numbers) and build its staging columns.

    ``problems`` may already hold what reading and mapping found in the chunk.
    """
    frame = frame.copy(deep=False)
    index = frame.index
    n = len(frame)
    problems = problems if problems is not None else rules.Problems()
    lat, lng, position_ok, original = _positions(frame, options.crs, problems)
    position_ok = rules.check_region(lat, lng, position_ok, index, options.region, problems)
    if options.default_kind is not None:
        kinds = rules.as_text(frame["kind"]) if "kind" in frame.columns else None
        frame["kind"] = (
            pd.Series(options.default_kind, index=index, dtype="str")
            if kinds is None
            else kinds.fillna(options.default_kind)
        )
    fields = rules.check_fields(frame, problems)

    derived = "source_id" not in frame.columns
    if derived:
        ids = _derived_ids(fields["name"], original, position_ok)
    else:
        ids = rules.check_text(frame["source_id"], "source_id", problems)
        missing = ids.isna().to_numpy() & ~rules.as_text(frame["source_id"]).notna().to_numpy()
        if missing.any():
            problems.add(
                index[missing],
                "source_id",
                "missing",
                "is missing; every row needs its id in the source (leave the whole column "
                "out to have ids derived from position and name)",
            )

    cells = np.zeros((3, n), dtype=np.int64)
    if position_ok.any():
        found = h3cells.catalog_cells(lat[position_ok], lng[position_ok])
        for i, res in enumerate(h3cells.CATALOG_RESOLUTIONS):
            cells[i, position_ok] = found[res]
    zones = _time_zones(fields, options, lat, lng, cells[2], position_ok)
    countries = _countries(fields, options, zones)
    verified = _verified_at(fields, zones)

    bad = np.isin(index.to_numpy(), problems.bad_index())
    good = position_ok & ~bad & fields["name"].notna().to_numpy()
    if "kind" in fields:
        good &= fields["kind"].notna().to_numpy()
    good &= ids.notna().to_numpy()
    has_id = ids.notna().to_numpy()
    rows = index.to_numpy().astype(np.int64)

    staged = _staging_columns(
        good,
        rows=rows,
        ids=ids,
        fields=fields,
        zones=zones,
        countries=countries,
        verified=verified,
        original=original,
        lat=lat,
        lng=lng,
        cells=cells,
    )
    return Prepared(
        problems=problems,
        rows=n,
        ids_row=rows[has_id],
        ids=_arrow_text(ids[has_id]),
        good_row=rows[good],
        good_lat=lat[good],
        good_lng=lng[good],
        good_name=_arrow_text(fields["name"][good]),
        staged=staged,
        derived_ids=derived,
    )


def _arrow_text(values: pd.Series) -> pa.Array:
    """A text Series as one contiguous Arrow array (large_string)."""
    array = pa.array(values.to_numpy(dtype=object, na_value=None), type=pa.large_string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _positions(
    frame: pd.DataFrame, crs: crsmod.Crs, problems: rules.Problems
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Array]:
    """WGS84 (lat, lng), the mask of usable positions, and the original as JSON text."""
    index = frame.index
    n = len(frame)
    geographic = crs.is_geographic
    names = ("lat", "lng") if geographic else ("x", "y")
    # rows whose position text could not even be parsed (found while mapping)
    unreadable = np.isin(index.to_numpy(), problems.bad_index())
    if "geometry" in frame.columns:
        a, b, empty, ok_shape = _from_geometry(frame["geometry"], index, problems, geographic)
        missing_geometry = empty & ok_shape & ~unreadable
        if missing_geometry.any():
            problems.add(index[missing_geometry], "geometry", "missing_coordinate", "is missing")
        skip = empty | ~ok_shape
        raw = None
        missing_pair = None
    elif set(names) <= set(frame.columns):
        a, a_missing = rules.parse_numbers(frame[names[0]])
        b, b_missing = rules.parse_numbers(frame[names[1]])
        raw = (frame[names[0]], frame[names[1]])
        missing_pair = (a_missing, b_missing)
        skip = unreadable
    else:
        wanted = "lat and lng columns" if geographic else "x and y columns (easting, northing)"
        raise InvalidInput(
            f"no position: with crs {crs} the rows need {wanted} or a point geometry; "
            "map the file's position columns in a mapping file ([position] section)",
            field="position",
        )
    ok = rules.check_coordinates(
        a,
        b,
        index,
        problems,
        missing=missing_pair,
        raw=raw,
        names=names,
        ranges=(90.0, 180.0) if geographic else None,
        skip=skip,
    )
    lat = np.full(n, np.nan)
    lng = np.full(n, np.nan)
    if ok.any():
        lat[ok], lng[ok] = crsmod.to_wgs84(a[ok], b[ok], crs)
        converted = np.isfinite(lat) & np.isfinite(lng) & (np.abs(lat) <= 90) & (np.abs(lng) <= 180)
        failed = ok & ~converted
        if failed.any():
            problems.add(
                index[failed],
                "position",
                "out_of_range",
                f"is outside the area {crs} can express; check the coordinates and --crs",
                [f"{x}, {y}" for x, y in zip(a[failed], b[failed], strict=True)],
            )
            ok &= converted
    return lat, lng, ok, _original_json(a, b, crs)


def _from_geometry(
    geometry: pd.Series, index: pd.Index, problems: rules.Problems, geographic: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(a, b) from shapely points: (lat, lng) for geographic CRSs, (x, y) for projected."""
    values = geometry.to_numpy(dtype=object)
    is_geom = np.array([isinstance(g, shapely.Geometry) for g in values], dtype=bool)
    geoms = np.where(is_geom, values, None)
    empty = ~is_geom | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    point = types == shapely.GeometryType.POINT
    not_point = ~empty & ~point
    if not_point.any():
        kinds = [g.geom_type for g in geoms[not_point]]
        problems.add(
            index[not_point],
            "geometry",
            "not_a_point",
            [f"is a {k}, not a point; a station is one position" for k in kinds],
            [g.wkt[:120] for g in geoms[not_point]],
        )
    x = np.full(len(values), np.nan)
    y = np.full(len(values), np.nan)
    usable = point & ~empty
    if usable.any():
        x[usable] = shapely.get_x(geoms[usable])
        y[usable] = shapely.get_y(geoms[usable])
    missing = empty
    ok_shape = ~not_point
    if geographic:
        return y, x, missing, ok_shape
    return x, y, missing, ok_shape


def _original_json(a: np.ndarray, b: np.ndarray, crs: crsmod.Crs) -> pa.Array:
    """``{"crs": …, "lat": …, "lng": …}`` (or x/y when projected), built column-wise.

    Arrow prints floats in their shortest exact form, so the JSON keeps the source's
    coordinates to the last digit.
    """
    first, second = ("lat", "lng") if crs.is_geographic else ("x", "y")
    with np.errstate(invalid="ignore"):
        a_text = pc.cast(pa.array(np.where(np.isfinite(a), a, 0.0)), pa.string())
        b_text = pc.cast(pa.array(np.where(np.isfinite(b), b, 0.0)), pa.string())
    head = orjson.dumps({"crs": crs.name}).decode()[:-1]
    return pc.binary_join_element_wise(
        head + f',"{first}":', a_text, f',"{second}":', b_text, "}", ""
    )


def _derived_ids(names: pd.Series, original: pa.Array, ok: np.ndarray) -> pd.Series:
    """Stable ids for files without one: a hash of the original position (~1 m) and name."""
    out = pd.Series(np.nan, index=names.index, dtype="str")
    usable = ok & names.notna().to_numpy()
    if not usable.any():
        return out
    keys = rules.name_keys(names[usable])
    positions = original.filter(pa.array(usable)).to_pylist()
    ids = []
    for position, key in zip(positions, keys, strict=True):
        data = orjson.loads(position)
        coords = [v for k, v in data.items() if k != "crs"]
        rounded = ",".join(f"{c:.5f}" if abs(c) <= 360 else f"{c:.0f}" for c in coords)
        digest = hashlib.sha1(f"{rounded}|{key}".encode()).hexdigest()[:20]
        ids.append(f"pos-{digest}")
    out[usable] = ids
    return out


def _time_zones(
    fields: dict[str, pd.Series],
    options: Options,
    lat: np.ndarray,
    lng: np.ndarray,
    cells: np.ndarray,
    ok: np.ndarray,
) -> np.ndarray:
    """Each row's zone: from the file, else ``--timezone``, else found from its position."""
    n = len(lat)
    zones = np.full(n, None, dtype=object)
    if "time_zone" in fields:
        zones[:] = fields["time_zone"].to_numpy(dtype=object)
    if options.time_zone is not None:
        zones[pd.isna(zones)] = options.time_zone
    todo = ok & pd.isna(zones)
    if todo.any():
        zones[todo] = rules.infer_time_zones(lat[todo], lng[todo], cells[todo])
    return zones


def _countries(fields: dict[str, pd.Series], options: Options, zones: np.ndarray) -> np.ndarray:
    """Each row's country: from the file, else ``--country``, else from its time zone."""
    countries = np.full(len(zones), None, dtype=object)
    if "country_code" in fields:
        countries[:] = fields["country_code"].to_numpy(dtype=object)
    if options.country is not None:
        countries[pd.isna(countries)] = options.country.upper()
    todo = pd.isna(countries) & ~pd.isna(zones)
    if todo.any():
        by_zone = {z: rules.country_of_zone(z) for z in set(zones[todo].tolist())}
        countries[todo] = [by_zone[z] for z in zones[todo].tolist()]
    return countries


def _verified_at(fields: dict[str, pd.Series], zones: np.ndarray) -> np.ndarray | None:
    """Aware ``verified_at`` values; a naive one is read in the station's own zone."""
    if "verified_at" not in fields:
        return None
    values = fields["verified_at"].to_numpy(dtype=object)
    out = np.full(len(values), None, dtype=object)
    cache: dict[tuple[datetime, str], datetime | None] = {}
    for i, (value, zone) in enumerate(zip(values.tolist(), zones.tolist(), strict=True)):
        if value is None or zone is None:
            continue
        if value.tzinfo is not None:
            out[i] = value
            continue
        key = (value, zone)
        if key not in cache:
            cache[key] = rules.localise(value, zone)
        out[i] = cache[key]
    return out


def _text_column(values: pd.Series | np.ndarray, good: np.ndarray) -> pgcopy.Column:
    if isinstance(values, pd.Series) and values.dtype == "str":
        array = pa.array(values, type=pa.large_string())  # Arrow-backed: no copy
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        return pgcopy.text(array.filter(pa.array(good)))
    if isinstance(values, pd.Series):
        values = values.to_numpy(dtype=object, na_value=None)
    return pgcopy.text(pa.array(values[good], type=pa.large_string(), from_pandas=True))


def _with_default(values: pd.Series | None, default: str, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, default, dtype=object)
    out = values.to_numpy(dtype=object, na_value=None).copy()
    out[pd.isna(out)] = default
    return out


def _staging_columns(
    good: np.ndarray,
    *,
    rows: np.ndarray,
    ids: pd.Series,
    fields: dict[str, pd.Series],
    zones: np.ndarray,
    countries: np.ndarray,
    verified: np.ndarray | None,
    original: pa.Array,
    lat: np.ndarray,
    lng: np.ndarray,
    cells: np.ndarray,
) -> list[pgcopy.Column]:
    """The good rows as COPY columns, in the order of ``import_rows``."""
    n = len(good)
    count = int(good.sum())
    none = np.full(n, None, dtype=object)

    def text(name: str) -> pgcopy.Column:
        return _text_column(fields.get(name, none), good)

    amenities = fields.get("amenities")
    if amenities is None:
        amenity_wire = pa.array([pgcopy.text_array_wire([])] * count, type=pa.large_binary())
    else:
        codes, uniques = pd.factorize(amenities[good])
        wire = pa.array([pgcopy.text_array_wire(u) for u in uniques], type=pa.large_binary())
        amenity_wire = wire.take(pa.array(codes)) if len(uniques) else wire
    attributes = fields.get("attributes")
    if attributes is None:
        attribute_text = pa.array(["{}"] * count, type=pa.large_string())
    else:
        attribute_text = pa.array(
            [orjson.dumps(a).decode() if a else "{}" for a in attributes[good].tolist()],
            type=pa.large_string(),
        )
    return [
        pgcopy.int4(rows[good]),
        _text_column(ids, good),
        text("name"),
        text("name_en"),
        text("kind"),
        _text_column(_with_default(fields.get("status"), "active", n), good),
        pgcopy.text(amenity_wire),
        _text_column(_with_default(fields.get("access"), "open_to_all", n), good),
        text("opening_hours"),
        _text_column(zones, good),
        _text_column(countries, good),
        text("address"),
        text("district"),
        text("district_code"),
        text("operator"),
        text("contact"),
        pgcopy.timestamptz([None] * count if verified is None else verified[good].tolist()),
        pgcopy.text(pgcopy.jsonb_wire(attribute_text)),
        pgcopy.text(pgcopy.jsonb_wire(original.filter(pa.array(good)))),
        pgcopy.float8(lat[good]),
        pgcopy.float8(lng[good]),
        pgcopy.int8(cells[0, good]),
        pgcopy.int8(cells[1, good]),
        pgcopy.int8(cells[2, good]),
    ]


# --- the whole import -----------------------------------------------------------------------


class ImportRun:
    """One import: feed it chunks (frames whose index is the row number), then finish."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        options: Options,
        *,
        progress: Progress | None = None,
        total_rows: int | None = None,
        field_labels: dict[str, str] | None = None,
    ) -> None:
        self.conn = conn
        self.options = check_options(options)
        self.progress = progress
        self.total_rows = total_rows
        self.field_labels = field_labels or {}
        self.report = ImportReport(source=options.source, dry_run=options.dry_run)
        self.problem_parts: list[pd.DataFrame] = []
        self.ids_row: list[np.ndarray] = []
        self.ids: list[pa.Array] = []
        self.good_row: list[np.ndarray] = []
        self.good_lat: list[np.ndarray] = []
        self.good_lng: list[np.ndarray] = []
        self.good_name: list[pa.Array] = []
        self.provided: set[str] = set()
        self.derived_ids = False
        self.copying: asyncio.Future[str] | None = None
        self.started = time.perf_counter()

    async def run(self, feed: Callable[[], Awaitable[None]]) -> ImportReport:
        """Check and stage what ``feed`` adds (with :meth:`add`), then merge; one transaction."""
        reason = self.options.reason or f"import of source {self.options.source}"
        try:
            async with dbconn.transaction(self.conn, actor=self.options.actor, reason=reason):
                await self.conn.execute(SQL.lock_source, self.options.source)
                await self.conn.execute(SQL.drop_rows_table)
                await self.conn.execute(SQL.create_rows_table)
                try:
                    await feed()
                except BaseException:
                    # Wait for a running COPY, or the rollback finds the connection busy;
                    # the error that made the import leave is the one to report.
                    with suppress(Exception):
                        await self._copied()
                    raise
                with self._timed("copy to staging"):
                    await self._copied()
                await self.finish()
                if self.options.dry_run:
                    raise _RollBack
                await self.conn.execute(SQL.drop_rows_table)
        except _RollBack:
            pass
        self.report.seconds = time.perf_counter() - self.started
        return self.report

    async def add(
        self, frame: pd.DataFrame, *, problems: rules.Problems | None = None, dropped: int = 0
    ) -> None:
        """Check one chunk and COPY its good rows into the staging table.

        ``problems`` are what reading and mapping found; ``dropped`` rows were unreadable
        (already in ``problems``) and are not in ``frame``.
        """
        if not self.provided:
            self.provided = {f for f in OPTIONAL_FIELDS if f in frame.columns}
            if self.options.time_zone:
                self.provided.add("time_zone")
            if self.options.country:
                self.provided.add("country_code")
        with self._timed("check rows"):
            prepared = await asyncio.to_thread(prepare, frame, self.options, problems)
        self.report.read += prepared.rows + dropped
        self.derived_ids |= prepared.derived_ids
        self._keep_problems(prepared.problems)
        self.ids_row.append(prepared.ids_row)
        self.ids.append(prepared.ids)
        self.good_row.append(prepared.good_row)
        self.good_lat.append(prepared.good_lat)
        self.good_lng.append(prepared.good_lng)
        self.good_name.append(prepared.good_name)
        if len(prepared.good_row):
            with self._timed("copy to staging"):
                await self._copied()
                data = pgcopy.encode(prepared.staged, len(prepared.good_row))
                self.copying = asyncio.ensure_future(
                    self.conn.copy_to_table(
                        "import_rows",
                        source=_Reader(data),
                        columns=list(_STAGED_COLUMNS),
                        format="binary",
                    )
                )
        if self.progress is not None:
            self.progress("rows", self.report.read, self.total_rows)

    async def _copied(self) -> None:
        """Wait for the COPY still running, if any: the connection serves one operation
        at a time, so nothing else is sent before the COPY ends."""
        copying, self.copying = self.copying, None
        if copying is not None:
            await copying

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        """Add the time spent in ``stage`` to the report's timings."""
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            self.report.timings[stage] = self.report.timings.get(stage, 0.0) + spent

    def _keep_problems(self, problems: rules.Problems) -> None:
        found = problems.frame()
        if len(found):
            self.problem_parts.append(found.rename(columns={"index": "row"}))

    async def finish(self) -> None:
        """Whole-file checks, then the merge (or, in a dry run, only its counts)."""
        rows = np.concatenate(self.good_row) if self.good_row else np.array([], np.int64)
        lat = np.concatenate(self.good_lat) if self.good_lat else np.array([])
        lng = np.concatenate(self.good_lng) if self.good_lng else np.array([])
        names = (
            pa.concat_arrays(self.good_name) if self.good_name else pa.array([], pa.large_string())
        )
        with self._timed("whole-file checks"):
            rejected = self._duplicate_ids()
            keep = ~np.isin(rows, rejected) if len(rejected) else np.ones(len(rows), dtype=bool)
            near = await self._near_duplicates(
                rows[keep], lat[keep], lng[keep], names.filter(pa.array(keep))
            )
            rejected = np.concatenate([rejected, near])
            if len(rejected):
                await self.conn.execute(SQL.drop_rejected_rows, rejected.astype(np.int64).tolist())
        if self.derived_ids:
            self.report.notes.append(
                "the file has no source-id column: each row's id was derived from its "
                "position (rounded to ~1 m) and name, so moving or renaming a station in "
                "the file makes it a new station"
            )
        self._finish_problems()
        await self._merge()

    def _duplicate_ids(self) -> np.ndarray:
        """Rows repeating an earlier row's source id (the first row wins)."""
        if not self.ids:
            return np.array([], dtype=np.int64)
        row = np.concatenate(self.ids_row)
        ids = pd.Series(
            pa.concat_arrays(self.ids).to_pandas(types_mapper=pd.ArrowDtype).astype("str")
        )
        repeated = ids.duplicated(keep="first").to_numpy()
        if not repeated.any():
            return np.array([], dtype=np.int64)
        order = np.argsort(row, kind="stable")
        ids_sorted = ids.iloc[order].reset_index(drop=True)
        row_sorted = row[order]
        first_row = pd.Series(row_sorted).groupby(ids_sorted.to_numpy()).transform("min").to_numpy()
        later = row_sorted != first_row
        self.problem_parts.append(
            pd.DataFrame(
                {
                    "row": row_sorted[later],
                    "field": "source_id",
                    "code": "duplicate_source_id",
                    "reason": [
                        f"repeats the source id of row {f}; the first row wins"
                        for f in first_row[later]
                    ],
                    "value": ids_sorted[later].tolist(),
                }
            )
        )
        return row_sorted[later]

    async def _near_duplicates(
        self, rows: np.ndarray, lat: np.ndarray, lng: np.ndarray, names: pa.Array
    ) -> np.ndarray:
        """Rows within NEAR_DUPLICATE_METRES of an earlier row or a station, same name."""
        if len(rows) == 0:
            return np.array([], dtype=np.int64)
        margin = 0.001  # degrees: ~100 m, more than any near-duplicate distance
        catalog = await self.conn.fetch(
            SQL.catalog_neighbours,
            self.options.source,
            float(lng.min()),
            float(lat.min()),
            float(lng.max()),
            float(lat.max()),
            margin,
        )
        found = find_near_duplicates(rows, lat, lng, names, catalog)
        if not found:
            return np.array([], dtype=np.int64)
        self.problem_parts.append(
            pd.DataFrame(found, columns=["row", "field", "code", "reason", "value"])
        )
        return np.array([f[0] for f in found], dtype=np.int64)

    def _finish_problems(self) -> None:
        if self.problem_parts:
            frame = pd.concat(self.problem_parts, ignore_index=True)
            frame["row"] = frame["row"].astype(np.int64)
            frame["field"] = frame["field"].map(lambda f: self.field_labels.get(f, f))
            frame = frame.sort_values(["row"], kind="stable").reset_index(drop=True)
        else:
            frame = self.report.problem_frame
        self.report.problem_frame = frame
        self.report.rejected = int(frame["row"].nunique()) if len(frame) else 0

    async def _merge(self) -> None:
        source = self.options.source
        with self._timed("plan (compare with the catalog)"):
            await self.conn.execute(SQL.analyze_rows)
            plan = await self.conn.fetchrow(SQL.count_plan, source)
            await self.conn.execute(SQL.drop_changes_table)
            await self.conn.execute(SQL.plan_updates, source, sorted(self.provided))
            changes = await self.conn.fetchval(SQL.count_changes)
        if self.progress is not None:
            self.progress("write", 0, plan["new"] + changes)
        if not self.options.dry_run:
            inserted = await self._insert_new(int(plan["new"]))
            if inserted != plan["new"]:
                raise RuntimeError(f"inserted {inserted} stations, planned {plan['new']}")
            with self._timed("update changed stations (with history)"):
                status = await self.conn.execute(SQL.apply_updates)
            changes = int(status.split()[-1])
        await self.conn.execute(SQL.drop_changes_table)
        self.report.created = int(plan["new"])
        self.report.updated = int(changes)
        self.report.unchanged = int(plan["existing"]) - int(changes)
        if self.progress is not None:
            self.progress("write", plan["new"] + changes, plan["new"] + changes)

    async def _insert_new(self, new: int) -> int:
        """Insert the new stations; a large import rebuilds the indexes and unique
        constraints (all but the primary key) after.

        Dropping an index inside the import's transaction locks the catalog against
        readers until the import commits, so only imports that add many stations (a
        first load, a new province) take that path; it is noted in the report.
        """
        await self.conn.execute(SQL.raise_work_mem)
        bulk = new >= BULK_MIN_NEW and 3 * new >= await self.conn.fetchval(SQL.catalog_size)
        rebuilt = await self.conn.fetch(SQL.rebuilt_after_bulk_insert) if bulk else []
        for item in rebuilt:
            await self.conn.execute(item["drop"])
        with self._timed("insert new stations (with history)"):
            status = await self.conn.execute(SQL.insert_new_stations, self.options.source)
        if bulk:
            await self.conn.execute(SQL.raise_maintenance_mem)
            for item in rebuilt:
                with self._timed(item["step"]):
                    await self.conn.execute(item["build"])
            with self._timed("analyze"):
                await self.conn.execute(SQL.analyze_stations)
            kinds = Counter(item["kind"] for item in rebuilt)
            self.report.notes.append(
                f"{new:,} new stations: the catalog's {kinds['index']} search indexes and "
                f"{kinds['constraint']} unique constraints were built again after the insert "
                "(faster than row by row); readers of the catalog waited for the import to commit"
            )
        return int(status.split()[-1])


class _RollBack(Exception):
    """Leaves the import's transaction without committing (a dry run)."""


class _Reader:
    """A file-like view of COPY data for asyncpg (which reads it in pieces)."""

    def __init__(self, data: bytes) -> None:
        self.view = memoryview(data)
        self.at = 0

    def read(self, size: int) -> bytes:
        piece = self.view[self.at : self.at + size]
        self.at += len(piece)
        return bytes(piece)


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
    file_keys = rules.name_keys(pd.Series(names.to_pandas(types_mapper=pd.ArrowDtype)))
    cat_keys = rules.name_keys(pd.Series([c["name"] for c in catalog], dtype="str"))
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


async def import_frame(
    conn: asyncpg.Connection,
    frame: pd.DataFrame,
    *,
    source: str,
    actor: str,
    crs: crsmod.Crs | None = None,
    default_kind: str | None = None,
    region: Region | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    time_zone: str | None = None,
    country: str | None = None,
    chunk_rows: int = 200_000,
) -> ImportReport:
    """Import a DataFrame in catalog form as stations of ``source``; see the module doc.

    ``frame`` has catalog columns (``source_id``, ``name``, ``name_en``, ``kind``,
    ``status``, ``amenities`` as a list or a ';'/','-separated string, ``access``,
    ``opening_hours``, ``time_zone``, ``country_code``, ``address``, ``district``,
    ``district_code``, ``operator``, ``contact``, ``verified_at``, ``attributes``) and the
    position as ``lat``/``lng`` columns or a shapely ``geometry`` column (x = lng), both
    in ``crs`` (default WGS84); with a projected ``crs``, ``x``/``y`` columns work too.
    A missing ``kind`` takes ``default_kind``; a missing ``source_id`` column means ids
    derived from position and name. Row numbers in the report are the frame's positions
    counted from 1. Columns the frame leaves out keep their stored values on update.
    """
    options = Options(
        source=source,
        actor=actor,
        crs=crs or crsmod.Crs("wgs84"),
        default_kind=default_kind,
        region=region,
        dry_run=dry_run,
        time_zone=time_zone,
        country=country,
    )
    frame = frame.reset_index(drop=True)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    run = ImportRun(conn, options, progress=progress, total_rows=len(frame))

    async def feed() -> None:
        for start in range(0, len(frame), chunk_rows):
            await run.add(frame.iloc[start : start + chunk_rows])

    return await run.run(feed)
