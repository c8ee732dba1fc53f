"""One chunk of an import, from catalog-named columns to rows ready to stage.

The position is parsed and converted to WGS84 (the original kept as given), the station
rules of :mod:`stations.catalog.rules` run over every field, source ids are checked (or
derived from position and name), the time zone and country found, H3 cells computed;
the rows that pass become binary COPY columns in the order of the field table
(:mod:`stations.catalog.fields`). Pure numpy/pandas/Arrow work with no database: the
run (:mod:`stations.importer.run`) does it in a worker thread while the server stores
the previous chunk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from stations.catalog import fields, hours, rules
from stations.catalog.problems import Problems, RuleBroken
from stations.catalog.text import as_text, name_keys, parse_numbers
from stations.catalog.zones import country_of_zone, infer_time_zones, localise
from stations.errors import InvalidInput
from stations.geo import crs as crsmod
from stations.geo import h3cells
from stations.geo.region import Region
from stations.importer import pgcopy

INDEX_BUILDS = ("wait", "background")
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
    index_builds: str = "wait"  # after a bulk insert: "wait" or "background"
    # A union branch's import: only rows of districts under it (None: the national root).
    branch: str | None = None


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
        except RuleBroken as exc:
            raise InvalidInput(f"kind: {exc.detail}", field="kind") from None
    if options.index_builds not in INDEX_BUILDS:
        raise InvalidInput(
            f"index_builds: {options.index_builds!r}; use one of {', '.join(INDEX_BUILDS)}",
            field="index_builds",
        )
    if options.time_zone is not None:
        hours.validate_time_zone(options.time_zone, field="timezone")
    if options.country is not None:
        try:
            rules.country_rule(options.country)
        except RuleBroken as exc:
            raise InvalidInput(f"country: {exc.detail}", field="country") from None
    return options


@dataclass
class Prepared:
    """A checked chunk: its problems, the rows to stage, and what global checks need."""

    problems: Problems
    warnings: Problems  # about rows that pass: they are imported all the same
    rows: int
    ids_row: np.ndarray  # row numbers of every row that has a source id ...
    ids: pa.Array  # ... and those ids (for duplicate checks over the whole file)
    good_row: np.ndarray  # row numbers of the rows that passed
    good_lat: np.ndarray
    good_lng: np.ndarray
    good_name: pa.Array
    staged: list[pgcopy.Column]
    derived_ids: bool


def prepare(frame: pd.DataFrame, options: Options, problems: Problems | None = None) -> Prepared:
    """Check one chunk (index = row numbers) and build its staging columns.

    ``problems`` may already hold what reading and mapping found in the chunk.
    """
    frame = frame.copy(deep=False)
    index = frame.index
    n = len(frame)
    problems = problems if problems is not None else Problems()
    lat, lng, position_ok, original = _positions(frame, options.crs, problems)
    position_ok = rules.check_region(lat, lng, position_ok, index, options.region, problems)
    if options.default_kind is not None:
        kinds = as_text(frame["kind"]) if "kind" in frame.columns else None
        frame["kind"] = (
            pd.Series(options.default_kind, index=index, dtype="str")
            if kinds is None
            else kinds.fillna(options.default_kind)
        )
    checked = rules.check_fields(frame, problems)
    if options.branch is not None:
        _check_branch(checked, index, options.branch, problems)

    derived = "source_id" not in frame.columns
    if derived:
        ids = _derived_ids(checked["name"], original, position_ok)
    else:
        ids = rules.check_text(frame["source_id"], "source_id", problems, collapse=False)
        missing = ids.isna().to_numpy() & ~as_text(frame["source_id"]).notna().to_numpy()
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
    zones, at_sea = _time_zones(checked, options, lat, lng, cells[2], position_ok)
    countries = _countries(checked, options, zones)
    verified = _verified_at(checked, zones)

    bad = np.isin(index.to_numpy(), problems.bad_index())
    good = position_ok & ~bad & checked["name"].notna().to_numpy()
    if "kind" in checked:
        good &= checked["kind"].notna().to_numpy()
    good &= ids.notna().to_numpy()
    has_id = ids.notna().to_numpy()
    rows = index.to_numpy().astype(np.int64)
    warnings = _sea_warnings(index, lat, lng, good & at_sea, options.country)

    staged = _staging_columns(
        good,
        rows=rows,
        ids=ids,
        values={**checked, "time_zone": zones, "country_code": countries, "verified_at": verified},
        original=original,
        lat=lat,
        lng=lng,
        cells=cells,
    )
    return Prepared(
        problems=problems,
        warnings=warnings,
        rows=n,
        ids_row=rows[has_id],
        ids=_arrow_text(ids[has_id]),
        good_row=rows[good],
        good_lat=lat[good],
        good_lng=lng[good],
        good_name=_arrow_text(checked["name"][good]),
        staged=staged,
        derived_ids=derived,
    )


def _check_branch(
    checked: dict[str, pd.Series], index: pd.Index, branch: str, problems: Problems
) -> None:
    """Rows whose district code is not under ``branch`` (or missing) are refused."""
    codes = checked.get("district_code")
    if codes is None:
        codes = pd.Series(None, index=index, dtype=object)
    text = codes.astype(object).where(codes.notna(), None)
    outside = np.array([c is None or not str(c).startswith(branch) for c in text.tolist()])
    if outside.any():
        problems.add(
            index[outside],
            "district_code",
            "outside_branch",
            f"is not a district of your union branch ({branch}); give each station a "
            f"district code starting with {branch}",
            [None if c is None else str(c) for c in text[outside].tolist()],
        )


def _arrow_text(values: pd.Series) -> pa.Array:
    """A text Series as one contiguous Arrow array (large_string)."""
    array = pa.array(values.to_numpy(dtype=object, na_value=None), type=pa.large_string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _positions(
    frame: pd.DataFrame, crs: crsmod.Crs, problems: Problems
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
        a, a_missing = parse_numbers(frame[names[0]])
        b, b_missing = parse_numbers(frame[names[1]])
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
        if not geographic:  # a projected (0, 0) lands elsewhere: check where it landed
            ok = rules.check_zero_position(lat, lng, ok, index, problems)
    return lat, lng, ok, _original_json(a, b, crs)


def _from_geometry(
    geometry: pd.Series, index: pd.Index, problems: Problems, geographic: bool
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
    keys = name_keys(names[usable])
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
    checked: dict[str, pd.Series],
    options: Options,
    lat: np.ndarray,
    lng: np.ndarray,
    cells: np.ndarray,
    ok: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's zone (from the file, else ``--timezone``, else found from its position),
    and where the position lies at sea (in none of the land zones, so in ``Etc/GMT±n``)."""
    n = len(lat)
    zones = np.full(n, None, dtype=object)
    if "time_zone" in checked:
        zones[:] = checked["time_zone"].to_numpy(dtype=object)
    if options.time_zone is not None:
        zones[pd.isna(zones)] = options.time_zone
    at_sea = np.zeros(n, dtype=bool)
    if ok.any():
        found = infer_time_zones(lat[ok], lng[ok], cells[ok])
        at_sea[ok] = [zone.startswith("Etc/") for zone in found.tolist()]
        todo = pd.isna(zones[ok])
        zones[np.flatnonzero(ok)[todo]] = found[todo]
    return zones, at_sea


def _sea_warnings(
    index: pd.Index, lat: np.ndarray, lng: np.ndarray, at_sea: np.ndarray, country: str | None
) -> Problems:
    """A warning for each position at sea: far from any coast, so likely a wrong position
    (swapped or shifted coordinates, a wrong CRS) though not certainly one."""
    warnings = Problems()
    if at_sea.any():
        declared = f", far from the declared country {country.upper()}" if country else ""
        warnings.add(
            index[at_sea],
            "position",
            "at_sea",
            f"lies at sea, in no country's time zone (more than about 22 km off any coast)"
            f"{declared}; the station was imported: check its coordinates, their order and "
            "the CRS",
            [f"{a:.6f}, {b:.6f}" for a, b in zip(lat[at_sea], lng[at_sea], strict=True)],
        )
    return warnings


def _countries(checked: dict[str, pd.Series], options: Options, zones: np.ndarray) -> np.ndarray:
    """Each row's country: from the file, else ``--country``, else from its time zone."""
    countries = np.full(len(zones), None, dtype=object)
    if "country_code" in checked:
        countries[:] = checked["country_code"].to_numpy(dtype=object)
    if options.country is not None:
        countries[pd.isna(countries)] = options.country.upper()
    todo = pd.isna(countries) & ~pd.isna(zones)
    if todo.any():
        by_zone = {z: country_of_zone(z) for z in set(zones[todo].tolist())}
        countries[todo] = [by_zone[z] for z in zones[todo].tolist()]
    return countries


def _verified_at(checked: dict[str, pd.Series], zones: np.ndarray) -> np.ndarray | None:
    """Aware ``verified_at`` values; a naive one is read in the station's own zone."""
    if "verified_at" not in checked:
        return None
    values = checked["verified_at"].to_numpy(dtype=object)
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
            cache[key] = localise(value, zone)
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


def _with_default(values: pd.Series | np.ndarray | None, default: Any, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, default, dtype=object)
    out = np.asarray(
        values.to_numpy(dtype=object, na_value=None) if isinstance(values, pd.Series) else values,
        dtype=object,
    ).copy()
    out[pd.isna(out)] = default
    return out


def _field_column(
    spec: fields.Field, values: pd.Series | np.ndarray | None, good: np.ndarray
) -> pgcopy.Column:
    """One station field of the good rows in its wire form (by its SQL type)."""
    count = int(good.sum())
    if spec.sql_type == "text[]":
        if values is None:
            return pgcopy.text(
                pa.array([pgcopy.text_array_wire([])] * count, type=pa.large_binary())
            )
        codes, uniques = pd.factorize(pd.Series(values)[good])
        wire = pa.array([pgcopy.text_array_wire(u) for u in uniques], type=pa.large_binary())
        return pgcopy.text(wire.take(pa.array(codes)) if len(uniques) else wire)
    if spec.sql_type == "jsonb":
        if values is None:
            return pgcopy.text(pgcopy.jsonb_wire(pa.array(["{}"] * count, type=pa.large_string())))
        kept = pd.Series(values)[good].tolist()
        json_text = [orjson.dumps(a).decode() if a else "{}" for a in kept]
        return pgcopy.text(pgcopy.jsonb_wire(pa.array(json_text, type=pa.large_string())))
    if spec.sql_type == "timestamptz":
        kept = [None] * count if values is None else np.asarray(values, dtype=object)[good].tolist()
        return pgcopy.timestamptz(kept)
    if spec.default is not None:
        values = _with_default(values, spec.default, len(good))
    return _text_column(np.full(len(good), None, dtype=object) if values is None else values, good)


def _staging_columns(
    good: np.ndarray,
    *,
    rows: np.ndarray,
    ids: pd.Series,
    values: dict[str, pd.Series | np.ndarray | None],
    original: pa.Array,
    lat: np.ndarray,
    lng: np.ndarray,
    cells: np.ndarray,
) -> list[pgcopy.Column]:
    """The good rows as COPY columns, in the order of ``import_rows``
    (:data:`stations.catalog.fields.STAGED_COLUMNS`)."""
    return [
        pgcopy.int4(rows[good]),
        _text_column(ids, good),
        *(_field_column(f, values.get(f.name), good) for f in fields.FIELDS),
        pgcopy.text(pgcopy.jsonb_wire(original.filter(pa.array(good)))),
        pgcopy.float8(lat[good]),
        pgcopy.float8(lng[good]),
        pgcopy.int8(cells[0, good]),
        pgcopy.int8(cells[1, good]),
        pgcopy.int8(cells[2, good]),
    ]
