"""The station rules, written once for both callers: the importer and single-station writes.

Every rule works on a pandas Series and reports problems for the rows that break it.
The importer runs the rules over a chunk of a file (values that repeat, like opening
hours or amenity lists, are checked once per distinct value, so a million rows stay
fast); :func:`validate_station` runs the *same* functions over a one-row frame and
raises :class:`~stations.errors.InvalidInput` naming every bad field.

Limits repeat the CHECK constraints of ``stations/sql/migrations/0001_catalog.sql`` and the
vocabularies come from :mod:`stations.catalog.vocab`: a row that passes here is a row the
database accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from stations.catalog import hours, vocab
from stations.errors import InvalidInput

# --- limits and vocabularies (0001_catalog.sql) ----------------------------------------

TEXT_LIMITS: dict[str, int] = {
    "name": 200,
    "name_en": 200,
    "address": 500,
    "district": 100,
    "district_code": 20,
    "operator": 200,
    "contact": 200,
    "source_id": 200,
}
KINDS = tuple(k.value for k in vocab.Kind)
STATUSES = tuple(s.value for s in vocab.Status)
ACCESS_RULES = tuple(a.value for a in vocab.Access)
AMENITY_NAMES = tuple(vocab.AMENITIES)
_AMENITY_ORDER = {name: i for i, name in enumerate(AMENITY_NAMES)}
SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")

DEFAULTS: dict[str, Any] = {"status": "active", "access": "open_to_all", "amenities": ()}
"""What a station gets for a NOT NULL field left empty."""

STATION_FIELDS: tuple[str, ...] = (
    "name",
    "name_en",
    "kind",
    "status",
    "amenities",
    "access",
    "opening_hours",
    "time_zone",
    "country_code",
    "address",
    "district",
    "district_code",
    "operator",
    "contact",
    "verified_at",
    "attributes",
)
"""Station fields a caller may set, besides the position (``lat``/``lng``)."""

REQUIRED_FIELDS: tuple[str, ...] = ("name", "kind")
TEXT_FIELDS: tuple[str, ...] = (
    "name",
    "name_en",
    "address",
    "district",
    "district_code",
    "operator",
    "contact",
)


# --- problems ------------------------------------------------------------------------

PROBLEM_COLUMNS = ("index", "field", "code", "reason", "value")


@dataclass
class Problems:
    """Problems found in a frame, collected a rule at a time (each covering many rows).

    ``index`` holds the frame's index labels of the bad rows; ``code`` is a short name
    to count by (``unknown_amenity``), ``reason`` says what is wrong and what to do.
    """

    parts: list[pd.DataFrame] = field(default_factory=list)

    def add(
        self,
        index: pd.Index | np.ndarray | list,
        field: str,
        code: str,
        reason: str | np.ndarray | list[str],
        value: Any = None,
    ) -> None:
        labels = np.asarray(index)
        if labels.size == 0:
            return
        if isinstance(value, pd.Series):
            value = value.to_numpy(dtype=object)
        elif isinstance(value, np.ndarray):
            value = value.astype(object)
        self.parts.append(
            pd.DataFrame(
                {
                    "index": labels,
                    "field": field,
                    "code": code,
                    "reason": reason,
                    "value": value,
                },
                columns=list(PROBLEM_COLUMNS),
            )
        )

    def frame(self) -> pd.DataFrame:
        """Every problem, one row each (columns: index, field, code, reason, value)."""
        parts = [p for p in self.parts if len(p)]
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})
        out = pd.concat(parts, ignore_index=True)
        out["value"] = [shown(v) for v in out["value"].tolist()]
        return out

    def bad_index(self) -> np.ndarray:
        """Index labels of the rows with at least one problem."""
        if not self.parts:
            return np.array([], dtype=np.int64)
        return np.unique(np.concatenate([p["index"].to_numpy() for p in self.parts]))

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)


def shown(value: Any) -> str | None:
    """A value as a person reads it in a report (cut to 120 characters)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        text = ";".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = orjson.dumps(value).decode()
    else:
        text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."


class RuleBroken(InvalidInput):
    """A scalar rule's verdict on one value: ``code`` to count by, ``detail`` to read."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.code = code


# --- helpers -----------------------------------------------------------------------------


def as_text(values: pd.Series) -> pd.Series:
    """Values as stripped text (pandas ``str`` dtype); blank and missing become NaN."""
    if values.dtype == object:
        values = values.map(_scalar_text, na_action="ignore")
    text = values.astype("str").str.strip()
    return text.where(text.str.len() > 0)


def _scalar_text(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # ids that were read as numbers: 450024929.0 -> "450024929"
    if isinstance(value, str):
        return value
    if value is None:
        return None
    return str(value)


def map_distinct(values: pd.Series, func: Callable[[Any], Any]) -> pd.Series:
    """``func`` applied once per distinct non-missing value; missing stays None."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = np.empty(len(uniques) + 1, dtype=object)
    results[: len(uniques)] = [func(u) for u in uniques]
    results[-1] = None  # NA has code -1, which picks this last slot
    return pd.Series(results[codes], index=values.index, dtype=object)


def _verdict(value: Any, rule: Callable[[Any], Any]) -> tuple[Any, str | None, str | None]:
    try:
        return rule(value), None, None
    except RuleBroken as exc:
        return None, exc.code, str(exc.detail)


def check_distinct(
    values: pd.Series, rule: Callable[[Any], Any], *, field: str, problems: Problems
) -> pd.Series:
    """Run a scalar rule once per distinct value: cleaned values, None where it failed.

    ``rule`` returns the cleaned value or raises :class:`RuleBroken`.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    cleaned = np.empty(len(uniques) + 1, dtype=object)  # the last slot is for NA (-1)
    broken: dict[str, list[int]] = {}
    reasons = np.empty(len(uniques) + 1, dtype=object)
    for i, unique in enumerate(uniques):
        cleaned[i], code, reasons[i] = _verdict(unique, rule)
        if code is not None:
            broken.setdefault(code, []).append(i)
    cleaned[-1] = None
    for code, which in sorted(broken.items()):
        rows = np.isin(codes, which)
        problems.add(values.index[rows], field, code, reasons[codes[rows]], values[rows])
    return pd.Series(cleaned[codes], index=values.index, dtype=object)


# --- scalar rules --------------------------------------------------------------------------


def _vocabulary_rule(allowed: tuple[str, ...], what: str) -> Callable[[Any], str]:
    listed = ", ".join(allowed)

    def rule(value: Any) -> str:
        text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
        if text in allowed:
            return text
        raise RuleBroken(f"{str(value)!r} is not {what}; use one of {listed}", "not_allowed")

    return rule


kind_rule = _vocabulary_rule(KINDS, "a station kind")
status_rule = _vocabulary_rule(STATUSES, "a station status")
access_rule = _vocabulary_rule(ACCESS_RULES, "an access rule")


def amenities_rule(value: Any) -> tuple[str, ...]:
    """Amenity names from a list or a ';'/','-separated string, in vocabulary order."""
    if isinstance(value, str):
        items: list[str] = re.split(r"[;,|]", value)
    elif isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        items = [str(v) for v in value]
    else:
        raise RuleBroken(
            f"{value!r} is not a list of amenities; write names separated by ';'",
            "unknown_amenity",
        )
    names = {s.strip().lower().replace("-", "_").replace(" ", "_") for s in items}
    names.discard("")
    unknown = sorted(names - set(AMENITY_NAMES))
    if unknown:
        listed = ", ".join(repr(n) for n in unknown)
        verb = "are not known amenities" if len(unknown) > 1 else "is not a known amenity"
        raise RuleBroken(
            f"{listed} {verb}; use names from: {', '.join(AMENITY_NAMES)}", "unknown_amenity"
        )
    return tuple(sorted(names, key=_AMENITY_ORDER.__getitem__))


def opening_hours_rule(value: Any) -> str | None:
    try:
        return hours.validate_opening_hours(str(value))
    except InvalidInput as exc:
        detail = _without_field_prefix(str(exc.detail))
        code = "too_long" if detail.startswith("longer than") else "bad_opening_hours"
        raise RuleBroken(detail, code) from None


def time_zone_rule(value: Any) -> str:
    try:
        return hours.validate_time_zone(str(value).strip())
    except InvalidInput as exc:
        raise RuleBroken(_without_field_prefix(str(exc.detail)), "bad_time_zone") from None


def country_rule(value: Any) -> str:
    text = str(value).strip().upper()
    if COUNTRY_PATTERN.fullmatch(text):
        return text
    raise RuleBroken(
        f"{str(value)!r} is not a two-letter ISO 3166 country code; write e.g. CN or FR",
        "bad_country_code",
    )


def timestamp_rule(value: Any) -> datetime:
    """An ISO 8601 date or date-time. Naive values stay naive (read in the station's zone)."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise RuleBroken(
            f"{str(value)!r} is not a date and time; write ISO 8601, "
            "e.g. 2025-06-01T09:00:00+08:00",
            "bad_timestamp",
        ) from None


def localise(value: datetime | None, zone: str) -> datetime | None:
    """A naive date-time is read as the station's local time; aware ones stay as they are."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=hours.zone(zone))


def attributes_rule(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    raise RuleBroken(
        f"{shown(value)!r} is not a JSON object; write attributes like "
        '{"note": "next to the bus stop"}',
        "bad_attributes",
    )


def _without_field_prefix(reason: str) -> str:
    # catalog.hours starts its messages with "opening_hours: "; reports have a field column.
    head, sep, tail = reason.partition(": ")
    return tail if sep and re.fullmatch(r"[a-z_]+", head) else reason


# --- field rules over a frame ----------------------------------------------------------------

_MISSING_HINTS = {
    "name": "every station needs a name",
    "kind": f"use one of {', '.join(KINDS)}",
}


def check_text(values: pd.Series, field: str, problems: Problems) -> pd.Series:
    """Stripped text within the column's length limit; longer values are problems."""
    text = as_text(values)
    limit = TEXT_LIMITS[field]
    too_long = (text.str.len() > limit).to_numpy(dtype=bool)
    if too_long.any():
        problems.add(
            text.index[too_long],
            field,
            "too_long",
            f"is longer than {limit} characters; shorten it",
            text[too_long],
        )
        text = text.where(~too_long)
    return text


def check_required(values: pd.Series, field: str, problems: Problems) -> None:
    missing = values.isna().to_numpy()
    if missing.any():
        problems.add(
            values.index[missing], field, "missing", f"is missing; {_MISSING_HINTS[field]}"
        )


def check_amenities(values: pd.Series, problems: Problems) -> pd.Series:
    """Amenities as tuples in vocabulary order (empty when missing)."""
    keys = values.map(_amenity_key, na_action="ignore") if values.dtype == object else values
    parsed = check_distinct(
        keys,
        lambda key: amenities_rule(list(key) if isinstance(key, tuple) else key),
        field="amenities",
        problems=problems,
    )
    empty: tuple[str, ...] = ()
    return parsed.map(lambda v: empty if v is None else v)


def _amenity_key(value: Any) -> Hashable:
    if isinstance(value, (list, np.ndarray, set, frozenset, tuple)):
        return tuple(str(v) for v in value)
    if isinstance(value, str):
        return value if value.strip() else None
    return value


def check_timestamps(values: pd.Series, problems: Problems) -> pd.Series:
    """``verified_at`` as datetimes (object Series); naive ones are localised later."""
    if values.dtype.kind == "M":
        out = pd.Series(values.dt.to_pydatetime(), index=values.index, dtype=object)
        return out.where(values.notna(), None)
    return check_distinct(as_text(values), timestamp_rule, field="verified_at", problems=problems)


def check_attributes(values: pd.Series, problems: Problems) -> pd.Series:
    """``attributes`` as dicts: a JSON object (or its text); empty when missing."""
    out = pd.Series([{}] * len(values), index=values.index, dtype=object)
    given = values.map(_given, na_action="ignore").fillna(False).to_numpy(dtype=bool)
    if given.any():
        verdicts = [_verdict(v, attributes_rule) for v in values[given].tolist()]
        out[given] = [v[0] if v[2] is None else {} for v in verdicts]
        failed = np.array([v[2] is not None for v in verdicts])
        if failed.any():
            labels = values.index[given][failed]
            reasons = [v[2] for v in verdicts if v[2] is not None]
            problems.add(labels, "attributes", "bad_attributes", reasons, values[labels])
    return out


def _given(value: Any) -> bool:
    return bool(value.strip()) if isinstance(value, str) else value is not None


def check_fields(
    frame: pd.DataFrame, problems: Problems, *, partial: bool = False
) -> dict[str, pd.Series]:
    """Check the station fields of ``frame`` (catalog names) and return them cleaned.

    One Series per field present (plus the required ones, unless ``partial``): text
    stripped (``str`` dtype, NaN when empty), vocabulary values normalised, amenities as
    tuples in vocabulary order, opening hours normalised, ``verified_at`` parsed,
    ``attributes`` as dicts. A bad value becomes missing and adds a problem.
    """
    out: dict[str, pd.Series] = {}
    blank = pd.Series(np.nan, index=frame.index, dtype="str")

    def column(name: str) -> pd.Series | None:
        if name in frame.columns:
            return frame[name]
        return None if partial or name not in REQUIRED_FIELDS else blank

    for name in TEXT_FIELDS:
        raw = column(name)
        if raw is not None:
            out[name] = check_text(raw, name, problems)
    vocabularies = (("kind", kind_rule), ("status", status_rule), ("access", access_rule))
    for name, rule in vocabularies:
        raw = column(name)
        if raw is not None:
            out[name] = check_distinct(as_text(raw), rule, field=name, problems=problems)
    for name in REQUIRED_FIELDS:
        if name in out:
            check_required(as_text(column(name)), name, problems)  # type: ignore[arg-type]
    scalar_rules: tuple[tuple[str, Callable[[Any], Any]], ...] = (
        ("opening_hours", opening_hours_rule),
        ("time_zone", time_zone_rule),
        ("country_code", country_rule),
    )
    for name, rule in scalar_rules:
        if name in frame.columns:
            out[name] = check_distinct(as_text(frame[name]), rule, field=name, problems=problems)
    if "amenities" in frame.columns:
        out["amenities"] = check_amenities(frame["amenities"], problems)
    if "verified_at" in frame.columns:
        out["verified_at"] = check_timestamps(frame["verified_at"], problems)
    if "attributes" in frame.columns:
        out["attributes"] = check_attributes(frame["attributes"], problems)
    return out


# --- coordinates ------------------------------------------------------------------------------


_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"


def parse_numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Numbers from numeric or text values (a decimal comma is accepted).

    Returns ``(numbers, missing)``: numbers are NaN where the value is missing or is
    not a number, and ``missing`` tells the two apart. Text is parsed by Arrow, so a
    million coordinates take a few tens of milliseconds.
    """
    if values.dtype.kind in "fiu":
        numbers = values.to_numpy(dtype=float)
        return numbers, np.isnan(numbers)
    text = pa.array(as_text(values), type=pa.large_string())
    missing = np.asarray(text.is_null(), dtype=bool)
    text = pc.replace_substring_regex(text, r"^([-+]?\d+),(\d+)$", r"\1.\2")
    looks_numeric = pc.match_substring_regex(text, _NUMBER)
    numbers = pc.cast(pc.if_else(looks_numeric, text, None), pa.float64())
    return numbers.to_numpy(zero_copy_only=False), missing


def check_coordinates(
    lat: np.ndarray,
    lng: np.ndarray,
    index: pd.Index,
    problems: Problems,
    *,
    missing: tuple[np.ndarray, np.ndarray] | None = None,
    raw: tuple[pd.Series, pd.Series] | None = None,
    names: tuple[str, str] = ("lat", "lng"),
    ranges: tuple[float, float] | None = (90.0, 180.0),
    skip: np.ndarray | None = None,
) -> np.ndarray:
    """Coordinates: missing, not a number, out of range, the (0, 0) placeholder.

    ``names`` are the fields reported (``lat``/``lng``, or ``x``/``y`` for projected
    input, where ``ranges`` is None). Rows in ``skip`` already have a position problem:
    they fail without another one. Returns the mask of rows that passed.
    """
    skipped = np.zeros(len(index), dtype=bool) if skip is None else skip
    ok = ~skipped
    lat = np.where(skipped, 1.0, lat)  # placeholders: never reported, never ok
    lng = np.where(skipped, 1.0, lng)
    for i, (name, values) in enumerate(zip(names, (lat, lng), strict=True)):
        absent = np.isnan(values) if missing is None else (missing[i] & ~skipped)
        if absent.any():
            problems.add(index[absent], name, "missing_coordinate", "is missing")
        not_number = ~absent & ~np.isfinite(values)
        if not_number.any():
            given = raw[i][not_number] if raw is not None else values[not_number]
            problems.add(index[not_number], name, "not_a_number", "is not a number", given)
        ok &= np.isfinite(values)
        if ranges is not None:
            limit = ranges[i]
            with np.errstate(invalid="ignore"):
                outside = np.isfinite(values) & (np.abs(values) > limit)
            if outside.any():
                problems.add(
                    index[outside],
                    name,
                    "out_of_range",
                    f"is outside -{limit:g}..{limit:g}; check that lat and lng are not swapped",
                    values[outside],
                )
                ok &= ~outside
    zero = ok & (lat == 0) & (lng == 0)
    if zero.any():
        problems.add(
            index[zero],
            "position",
            "zero_position",
            "is (0, 0), the usual placeholder for an unknown position; give the real one",
            "0, 0",
        )
        ok &= ~zero
    return ok


@dataclass(frozen=True)
class Region:
    """Where the stations of an import must lie: a WGS84 box, or a polygon within it."""

    min_lng: float
    min_lat: float
    max_lng: float
    max_lat: float
    geometry: Any = None  # a prepared shapely (Multi)Polygon; None: the box itself
    label: str = ""

    def contains(self, lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
        inside = (
            (lng >= self.min_lng)
            & (lng <= self.max_lng)
            & (lat >= self.min_lat)
            & (lat <= self.max_lat)
        )
        if self.geometry is not None and inside.any():
            inside[inside] = shapely.contains_xy(self.geometry, lng[inside], lat[inside])
        return inside

    def __str__(self) -> str:
        return self.label or (
            f"{self.min_lng:g},{self.min_lat:g},{self.max_lng:g},{self.max_lat:g}"
        )


def parse_bbox(text: str, *, field: str = "bbox") -> tuple[float, float, float, float]:
    """``minlng,minlat,maxlng,maxlat`` in WGS84 degrees."""
    try:
        min_lng, min_lat, max_lng, max_lat = (float(p) for p in str(text).split(","))
    except ValueError:
        raise InvalidInput(
            f"{field}: {text!r} is not minlng,minlat,maxlng,maxlat; write four numbers, "
            "e.g. 116.6,33.8,117.0,34.1",
            field=field,
        ) from None
    if not (-180 <= min_lng < max_lng <= 180 and -90 <= min_lat < max_lat <= 90):
        raise InvalidInput(
            f"{field}: {text!r} is not a WGS84 box: need minlng < maxlng within -180..180 "
            "and minlat < maxlat within -90..90",
            field=field,
        )
    return min_lng, min_lat, max_lng, max_lat


def parse_region(text: str | None) -> Region | None:
    """A region from ``minlng,minlat,maxlng,maxlat`` or a GeoJSON file with a polygon."""
    if text is None or not str(text).strip():
        return None
    path = Path(text)
    if not path.exists():
        return Region(*parse_bbox(text, field="region"))
    try:
        data = orjson.loads(path.read_bytes())
        if data.get("type") == "FeatureCollection":
            geometry = shapely.union_all(
                [shapely.geometry.shape(f["geometry"]) for f in data["features"]]
            )
        else:
            geometry = shapely.geometry.shape(data.get("geometry", data))
    except (OSError, orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        geometry = None
    if (
        geometry is None
        or geometry.is_empty
        or geometry.geom_type
        not in (
            "Polygon",
            "MultiPolygon",
        )
    ):
        raise InvalidInput(
            f"region: {text!r} holds no polygon; give a GeoJSON Polygon or MultiPolygon "
            "(or a Feature/FeatureCollection of them), or a box minlng,minlat,maxlng,maxlat",
            field="region",
        )
    shapely.prepare(geometry)
    min_lng, min_lat, max_lng, max_lat = geometry.bounds
    return Region(min_lng, min_lat, max_lng, max_lat, geometry=geometry, label=path.name)


def check_region(
    lat: np.ndarray,
    lng: np.ndarray,
    ok: np.ndarray,
    index: pd.Index,
    region: Region | None,
    problems: Problems,
) -> np.ndarray:
    """Rows whose WGS84 position is outside the declared region become problems."""
    if region is None or not ok.any():
        return ok
    inside = np.zeros(len(ok), dtype=bool)
    inside[ok] = region.contains(lat[ok], lng[ok])
    outside = ok & ~inside
    if outside.any():
        problems.add(
            index[outside],
            "position",
            "outside_region",
            f"is outside the declared region {region}",
            [f"{a:.6f}, {b:.6f}" for a, b in zip(lat[outside], lng[outside], strict=True)],
        )
    return ok & inside


# --- names, time zones, countries ----------------------------------------------------------

_NOT_LETTER_OR_DIGIT = r"[^\p{L}\p{M}\p{N}]+"


def name_keys(names: pd.Series) -> pd.Series:
    """Names as compared for near-duplicates: NFKC, lower case, only letters and digits.

    ``相山公园 爱心驿站`` and ``相山公园爱心驿站`` match; so do ``Fontaine Wallace`` and
    ``FONTAINE-WALLACE``. Vectorised (Arrow), so a million names take a fraction of a
    second.
    """
    if names.dtype == object:
        names = names.astype("str")
    array = pa.array(names, type=pa.large_string())
    array = pc.utf8_lower(pc.utf8_normalize(array, "NFKC"))
    array = pc.replace_substring_regex(array, _NOT_LETTER_OR_DIGIT, "")
    keys = array.to_pandas()
    keys.index = names.index
    return keys


def name_key(name: str) -> str:
    """:func:`name_keys` of one name."""
    return str(name_keys(pd.Series([name], dtype=object)).iloc[0])


@cache
def _zone_countries() -> dict[str, str]:
    """IANA zone -> ISO country, from the tz database's zone.tab (zone1970.tab fills gaps)."""
    import tzdata

    base = Path(tzdata.__file__).parent / "zoneinfo"
    table: dict[str, str] = {}
    for name in ("zone1970.tab", "zone.tab"):  # read zone.tab last: it has one country a zone
        for line in (base / name).read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                countries, _, zone = line.split("\t")[:3]
                table[zone] = countries.split(",")[0]
    return table


def country_of_zone(zone: str | None) -> str | None:
    """The country whose public holidays apply in ``zone`` (None for ``Etc/…`` zones)."""
    return None if zone is None else _zone_countries().get(zone)


@cache
def _finder() -> Any:
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


def infer_time_zones(lat: np.ndarray, lng: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """IANA zone names (object array) of WGS84 points whose H3 res-11 cells are ``cells``.

    Looked up per coarse H3 cell: timezonefinder's own index says, cell by cell, whether
    a single zone covers it; only points in cells that a zone border crosses are looked
    up one by one. Points no zone covers (open sea) get the nautical ``Etc/GMT±n``.
    """
    from timezonefinder.configs import SHORTCUT_H3_RES

    from stations.geo import h3cells

    out = np.empty(len(lat), dtype=object)
    if len(lat) == 0:
        return out
    finder = _finder()
    coarse = h3cells.parent_array(np.asarray(cells).astype(np.uint64), SHORTCUT_H3_RES)
    uniques, inverse = np.unique(coarse, return_inverse=True)
    entries = np.asarray(finder.shortcuts.entries_of(uniques), dtype=np.int64)
    zone_ids = np.where(entries >= 0, entries, -1)[inverse]
    unresolved = np.flatnonzero(zone_ids < 0)
    if unresolved.size:
        zone_ids[unresolved] = finder.timezone_ids_at(
            lngs=np.ascontiguousarray(lng[unresolved]),
            lats=np.ascontiguousarray(lat[unresolved]),
            on_invalid="skip",
        )
    names = np.array(finder.zone_names_from_ids(np.arange(finder.nr_of_zones)), dtype=object)
    found = zone_ids >= 0
    out[found] = names[zone_ids[found]]
    for i in np.flatnonzero(~found):
        out[i] = nautical_zone(float(lng[i]))
    return out


def nautical_zone(lng: float) -> str:
    """``Etc/GMT±n`` for a point at sea (POSIX sign: east of Greenwich is minus)."""
    offset = round(lng / 15.0)
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


# --- one station (the API's write path) ------------------------------------------------------

POSITION_FIELDS = ("lat", "lng", "crs")


def validate_station(fields: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Check one station with the importer's rules and return its fields cleaned.

    ``fields`` uses catalog names (``name``, ``kind``, ``amenities``, …) and the position
    as ``lat``/``lng``, with an optional ``crs`` (wgs84, gcj02, bd09 or EPSG:n) saying
    what they are in; the result keeps the position as given plus the parsed ``crs``
    (:mod:`stations.catalog.writes` converts). Without ``partial`` the name, kind and position
    are required; with it only the fields present are checked (an update), and an empty
    status or access means the default. Raises InvalidInput whose detail names every
    bad field, what was wrong and what is allowed.
    """
    from stations.geo import crs as crsmod

    allowed = (*STATION_FIELDS, *POSITION_FIELDS)
    messages: list[str] = []
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        messages.append(f"{', '.join(unknown)}: not a station field; allowed: {', '.join(allowed)}")
    given = {k: v for k, v in fields.items() if k in STATION_FIELDS}
    frame = pd.DataFrame({k: pd.Series([v], dtype=object) for k, v in given.items()})
    if not given:
        frame = pd.DataFrame(index=pd.RangeIndex(1))
    problems = Problems()
    cleaned = check_fields(frame, problems, partial=partial)
    result: dict[str, Any] = {}
    for name, series in cleaned.items():
        value = series.iloc[0]
        if isinstance(value, float) and np.isnan(value):
            value = None
        if name == "amenities":
            value = list(value)
        if value is None and name in DEFAULTS:
            value = DEFAULTS[name]
        result[name] = value

    position = {k: fields.get(k) for k in ("lat", "lng")}
    if "lat" in fields or "lng" in fields or not partial:
        try:
            crs = crsmod.parse_crs(fields.get("crs"))
        except InvalidInput as exc:
            messages.append(str(exc.detail))
            crs = crsmod.Crs("wgs84")
        raw = tuple(pd.Series([position[k]], dtype=object) for k in ("lat", "lng"))
        (lat, lat_missing), (lng, lng_missing) = parse_numbers(raw[0]), parse_numbers(raw[1])
        ok = check_coordinates(
            lat, lng, frame.index, problems, missing=(lat_missing, lng_missing), raw=raw
        )
        if ok[0]:
            result.update(lat=float(lat[0]), lng=float(lng[0]), crs=crs)
    elif "crs" in fields:
        messages.append("crs: given without lat and lng; send the position it describes")

    for row in problems.frame().itertuples(index=False):
        got = f" (got {row.value!r})" if row.value is not None and row.field != "position" else ""
        messages.append(f"{row.field}: {row.reason}{got}")
    if messages:
        bad = sorted({m.split(":", 1)[0] for m in messages})
        raise InvalidInput("; ".join(messages), field=bad[0] if len(bad) == 1 else None)
    return result
