"""The station rules, written once for both callers: the importer and single-station writes.

Every rule works on a pandas Series and reports problems for the rows that break it.
The importer runs the rules over a chunk of a file (values that repeat, like opening
hours or amenity lists, are checked once per distinct value, so a million rows stay
fast); :func:`validate_station` runs the *same* functions over a one-row frame and
raises :class:`~stations.errors.InvalidInput` naming every bad field.

Limits, vocabularies and defaults come from the field table (:mod:`stations.catalog.fields`),
which ``tests/catalog/test_fields.py`` holds against the schema's CHECK constraints: a row
that passes here is a row the database accepts. Problems are collected by
:class:`~stations.catalog.problems.Problems`; text helpers live in
:mod:`stations.catalog.text`, time zones in :mod:`stations.catalog.zones`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd

from stations import plaintext
from stations.catalog import fields, hours
from stations.catalog.problems import Problems, RuleBroken, check_distinct, shown, verdict
from stations.catalog.text import as_text, collapse_whitespace, parse_numbers
from stations.errors import InvalidInput
from stations.geo.distance import geodesic_m
from stations.geo.region import Region

# --- limits and vocabularies (the field table; CHECKs of the schema) -------------------

KINDS = fields.KINDS
STATUSES = fields.STATUSES
ACCESS_RULES = fields.ACCESS_RULES
AMENITY_NAMES = fields.AMENITY_NAMES
TEXT_LIMITS = fields.TEXT_LIMITS
TEXT_FIELDS = fields.TEXT_FIELDS
REQUIRED_FIELDS = fields.REQUIRED_FIELDS
STATION_FIELDS = fields.STATION_FIELDS
DEFAULTS = fields.DEFAULTS
_AMENITY_ORDER = {name: i for i, name in enumerate(AMENITY_NAMES)}
SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")
NEAR_DUPLICATE_METRES = 5.0
"""Two stations with the same (normalised) name closer than this are near-duplicates."""
ZERO_POSITION_METRES = 1_000.0
"""A position this close to (0, 0) is a placeholder for "unknown" (nobody runs a water
point in the Gulf of Guinea): exports write 0, 0 or a rounding error of it."""


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


def attributes_rule(value: Any) -> dict:
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            value = parsed
    if isinstance(value, dict):
        found = plaintext.find_control(value)
        if found is not None:
            raise RuleBroken(plaintext.message(f"attributes.{found[0]}", found[1]), plaintext.CODE)
        return value
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


# The control characters of stations.plaintext without surrogates (Arrow's RE2 takes
# no lone surrogate in a pattern, and none can reach text decoded from a file).
_CONTROL = "[\x00-\x1f\x7f-\x9f]"


def check_text(
    values: pd.Series, field: str, problems: Problems, *, collapse: bool = True
) -> pd.Series:
    """Stripped text within the column's length limit (longer values are problems), each
    run of whitespace made one space unless ``collapse`` is False (ids: as written)."""
    text = as_text(values)
    if collapse:
        text = collapse_whitespace(text)
    # NUL cannot be stored, and other control characters have no place in a catalog
    # field (tab and line breaks were made spaces above, or kept in an id as written).
    control = text.str.contains(_CONTROL, regex=True, na=False).to_numpy(dtype=bool)
    if control.any():
        problems.add(
            text.index[control],
            field,
            plaintext.CODE,
            "contains a control character (NUL or another); send plain text",
            text[control],
        )
        text = text.where(~control)
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
        verdicts = [verdict(v, attributes_rule) for v in values[given].tolist()]
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
    """Coordinates: missing, not a number, out of range, near the (0, 0) placeholder.

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
    if ranges is not None:  # geographic input; projected input is checked once converted
        ok = check_zero_position(lat, lng, ok, index, problems)
    return ok


def check_zero_position(
    lat: np.ndarray, lng: np.ndarray, ok: np.ndarray, index: pd.Index, problems: Problems
) -> np.ndarray:
    """Usable WGS84 positions within ZERO_POSITION_METRES of (0, 0) become problems."""
    zero = near_zero_zero(lat, lng, ok)
    if zero.any():
        problems.add(
            index[zero],
            "position",
            "zero_position",
            f"is within {ZERO_POSITION_METRES / 1000:g} km of (0, 0), the usual placeholder "
            "for an unknown position; give the real one",
            [f"{a:.6f}, {b:.6f}" for a, b in zip(lat[zero], lng[zero], strict=True)],
        )
    return ok & ~zero


def near_zero_zero(lat: np.ndarray, lng: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Where a usable WGS84 position lies within ZERO_POSITION_METRES of (0, 0).

    A cheap box first (0.01° is over 1.1 km in both directions there), then the
    geodesic distance of the few rows inside it.
    """
    with np.errstate(invalid="ignore"):
        near = ok & (np.abs(lat) < 0.01) & (np.abs(lng) < 0.01)
    if near.any():
        metres = geodesic_m(lat[near], lng[near], 0.0, 0.0)
        near[np.flatnonzero(near)] = metres <= ZERO_POSITION_METRES
    return near


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
