"""The query parameters of ``/ogc`` items, parsed once into a :class:`FeatureQuery`.

OGC API – Features answers a malformed or unknown parameter with 400 (the rest of the
API answers 422): every mistake here is a :class:`~stations.errors.BadQuery` naming its
parameter. The parsers the rest of the API uses for the same concepts (the bbox, kinds,
amenities, statuses, districts, page cursors) are reused, and their refusal is only
re-labelled, so one concept keeps one wording.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from stations.errors import BadQuery, InvalidInput
from stations.ogc import crs as ogc_crs
from stations.ogc.collections import Collection
from stations.search import lookup
from stations.search.filters import parse_amenities, parse_kinds

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
FORMATS = ("json",)

COMMON_PARAMETERS = (
    "f",
    "limit",
    "bbox",
    "bbox-crs",
    "crs",
    "datetime",
    "verified_at",
    "cursor",
)
"""What every items request may carry besides the collection's queryables."""
REPEATABLE = frozenset({"kind", "amenity", "status"})
"""Lists, given comma-separated or repeated."""

T = TypeVar("T")


@dataclass(frozen=True)
class Interval:
    """An inclusive time interval; None on a side means open (``..``)."""

    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class FeatureQuery:
    """What one items request asks for, every value checked."""

    kinds: list[str] | None = None
    amenities: list[str] | None = None
    statuses: list[str] | None = None
    district: str | None = None
    bbox: list[float] | None = None  # WGS84 west, south, east, north
    updated: Interval | None = None
    verified: Interval | None = None
    after: int = 0
    limit: int = DEFAULT_LIMIT
    crs: ogc_crs.OgcCrs = ogc_crs.DEFAULT
    """The CRS of the coordinates in the answer."""


@contextmanager
def as_bad_query(field: str) -> Iterator[None]:
    """A shared parser's refusal (422 elsewhere) as this API's 400, same words."""
    try:
        yield
    except InvalidInput as exc:
        raise BadQuery(getattr(exc, "field", None) or field, str(exc.detail)) from None


def _parse(field: str, parser: Callable[[], T]) -> T:
    with as_bad_query(field):
        return parser()


def parse_format(value: str | None) -> str | None:
    """``f``: json or html (None when not given: the Accept header decides)."""
    if value is None:
        return None
    if value not in FORMATS:
        raise BadQuery("f", f"f: unknown format {value!r}; allowed values: {', '.join(FORMATS)}")
    return value


def parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"\s*\d{1,9}\s*", value) or not 1 <= int(value) <= MAX_LIMIT:
        raise BadQuery(
            "limit", f"limit: send a whole number from 1 to {MAX_LIMIT:,}, got {value!r}"
        )
    return int(value)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})"
)


def _instant(text: str, field: str, *, end: bool) -> datetime:
    """An RFC 3339 date-time (with its offset), or a date: that UTC day, whole."""
    try:
        if _DATE.fullmatch(text):
            day = date.fromisoformat(text)
            start = datetime.combine(day, time(0), tzinfo=UTC)
            return start + timedelta(days=1, microseconds=-1) if end else start
        if _DATE_TIME.fullmatch(text):
            # Python reads at most microseconds: cut longer fractions.
            fixed = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("z", "Z"))
            return datetime.fromisoformat(fixed)
    except ValueError:
        pass
    raise BadQuery(
        field,
        f"{field}: {text!r} is not an RFC 3339 date-time with its offset or a date; "
        "send e.g. 2026-06-01T08:00:00Z, 2026-06-01, or an interval "
        "2026-06-01T00:00:00Z/2026-06-30T23:59:59Z with `..` for an open end",
    )


def parse_interval(value: str, field: str) -> Interval:
    """``datetime``: an instant, a date, or ``start/end`` with ``..`` (or nothing) open."""
    text = value.strip()
    if "/" not in text:
        if text in ("", ".."):
            raise BadQuery(field, f"{field}: send an instant or an interval, not {value!r}")
        return Interval(_instant(text, field, end=False), _instant(text, field, end=True))
    parts = text.split("/")
    if len(parts) != 2:
        raise BadQuery(field, f"{field}: an interval has one `/`, got {value!r}")
    start_text, end_text = (p.strip() for p in parts)
    start = None if start_text in ("", "..") else _instant(start_text, field, end=False)
    end = None if end_text in ("", "..") else _instant(end_text, field, end=True)
    if start is None and end is None:
        raise BadQuery(field, f"{field}: an interval needs at least one end, got {value!r}")
    if start is not None and end is not None and start > end:
        raise BadQuery(field, f"{field}: the interval ends before it starts: {value!r}")
    return Interval(start, end)


def _single(pairs: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in pairs if k == name]
    if len(values) > 1:
        raise BadQuery(name, f"{name}: given {len(values)} times; send it once")
    return values[0] if values else None


def _many(pairs: list[tuple[str, str]], name: str) -> list[str] | None:
    values = [v for k, v in pairs if k == name]
    return values or None


def allowed_parameters(collection: Collection) -> tuple[str, ...]:
    return COMMON_PARAMETERS + collection.queryables


def check_known(pairs: Iterable[tuple[str, str]], allowed: Iterable[str]) -> None:
    """An unknown parameter is refused (400), never ignored: a mistyped filter would
    otherwise silently return the whole collection."""
    known = set(allowed)
    for name, _ in pairs:
        if name not in known:
            raise BadQuery(
                name,
                f"{name}: not a parameter of this request; allowed: {', '.join(sorted(known))}",
            )


def parse_feature_query(
    pairs: list[tuple[str, str]], collection: Collection, base: str
) -> FeatureQuery:
    """Every items parameter checked, or the first mistake as a 400 (``base``: the
    service's ``…/ogc`` URL, which the service's own CRS URIs start with)."""
    check_known(pairs, allowed_parameters(collection))
    parse_format(_single(pairs, "f"))
    kinds = collection.kind_filter
    if "kind" in collection.queryables and (given := _many(pairs, "kind")):
        asked = _parse("kind", lambda: parse_kinds(given))
        kinds = sorted(asked or ())
    amenity = _many(pairs, "amenity")
    amenities = list(_parse("amenity", lambda: parse_amenities(amenity))) if amenity else None
    status = _many(pairs, "status")
    if status and not any(part.strip() for v in status for part in v.split(",")):
        raise BadQuery(
            "status", f"status: name a status; allowed values: {', '.join(lookup.STATUS_VALUES)}"
        )
    statuses = list(_parse("status", lambda: lookup.parse_statuses(status))) if status else None
    district_text = _single(pairs, "district")
    district = _parse("district", lambda: lookup.parse_district(district_text))
    bbox_text = _single(pairs, "bbox")
    bbox_crs = ogc_crs.parse_ogc_crs(_single(pairs, "bbox-crs"), base, field="bbox-crs")
    when = _single(pairs, "datetime")
    verified = _single(pairs, "verified_at")
    cursor = _single(pairs, "cursor")
    return FeatureQuery(
        kinds=kinds,
        amenities=amenities or None,
        statuses=statuses,
        district=district,
        bbox=ogc_crs.bbox_to_wgs84(bbox_text, bbox_crs) if bbox_text is not None else None,
        updated=parse_interval(when, "datetime") if when is not None else None,
        verified=parse_interval(verified, "verified_at") if verified is not None else None,
        after=_parse("cursor", lambda: lookup.decode_cursor(cursor)),
        limit=parse_limit(_single(pairs, "limit")),
        crs=ogc_crs.parse_ogc_crs(_single(pairs, "crs"), base),
    )
