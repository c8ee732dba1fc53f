"""The query parameters of ``/ogc`` items, parsed once into a :class:`FeatureQuery`.

OGC API – Features answers a malformed or unknown parameter with 400 (the rest of the
API answers 422): every mistake here is a :class:`~stations.errors.BadQuery` naming its
parameter. The parsers the rest of the API uses for the same concepts (the bbox, kinds,
amenities, statuses, districts, page cursors) are reused, and their refusal is only
re-labelled, so one concept keeps one wording.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import orjson
from pygeofilter import ast

from stations.catalog.fields import PUBLIC_FIELDS
from stations.errors import BadQuery, InvalidInput
from stations.ogc import crs as ogc_crs
from stations.ogc import filter as cql2
from stations.ogc.collections import Collection
from stations.search import lookup
from stations.search.filters import parse_amenities, parse_kinds

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
FORMATS = ("json", "html")

COMMON_PARAMETERS = (
    "f",
    "limit",
    "bbox",
    "bbox-crs",
    "crs",
    "datetime",
    "verified_at",
    "cursor",
    "filter",
    "filter-lang",
    "filter-crs",
    "sortby",
    "properties",
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


SORTABLE: dict[str, str] = {
    "id": "s.id",
    "name": "s.name",
    "kind": "s.kind",
    "status": "s.status",
    "updated_at": "s.updated_at",
}
"""What `sortby` takes: properties that are never null, so a page boundary is exact."""

PROPERTY_NAMES: tuple[str, ...] = ("code", *PUBLIC_FIELDS, "version", "updated_at")
"""Every property of a feature, in order (what `properties` chooses from)."""


@dataclass(frozen=True)
class SortKey:
    name: str
    descending: bool = False

    @property
    def sql(self) -> str:
        return SORTABLE[self.name]


BY_ID = SortKey("id")


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after the station ``after_id`` whose sort key was ``value``."""

    after_id: int = 0
    value: Any = None


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
    limit: int = DEFAULT_LIMIT
    crs: ogc_crs.OgcCrs = ogc_crs.DEFAULT
    """The CRS of the coordinates in the answer."""
    filter: ast.Node | None = None
    filter_crs: ogc_crs.OgcCrs = ogc_crs.DEFAULT
    sort: SortKey = BY_ID
    cursor: Cursor = Cursor()
    properties: tuple[str, ...] | None = None
    """The properties to include (None: all)."""


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


def parse_sortby(value: str | None) -> SortKey:
    """``sortby``: one sortable property, ``+`` (or nothing) ascending, ``-`` descending;
    ties and pages go by id."""
    if value is None or not value.strip():
        return BY_ID
    keys = [k.strip() for k in value.split(",")]
    if len(keys) > 1:
        raise BadQuery("sortby", "sortby: one property at a time (ties are ordered by id)")
    key = keys[0]
    descending = key.startswith("-")
    name = key.lstrip("+-").strip()
    if name not in SORTABLE:
        raise BadQuery(
            "sortby", f"sortby: cannot sort by {name!r}; sortable: {', '.join(SORTABLE)}"
        )
    return SortKey(name, descending)


def parse_properties(value: str | None) -> tuple[str, ...] | None:
    """``properties``: a comma-separated subset of the feature properties (empty: none)."""
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    for name in names:
        if name not in PROPERTY_NAMES:
            raise BadQuery(
                "properties",
                f"properties: unknown property {name!r}; allowed: {', '.join(PROPERTY_NAMES)}",
            )
    return tuple(dict.fromkeys(names))


def encode_cursor(sort: SortKey, last: Any) -> str:
    """The ``cursor`` of the page after the row ``last`` under ``sort``."""
    body: dict[str, Any] = {"after": last["id"]}
    if sort != BY_ID:
        value = last[sort.name]
        body.update(
            by=("-" if sort.descending else "+") + sort.name,
            value=value.isoformat() if isinstance(value, datetime) else value,
        )
    return base64.urlsafe_b64encode(orjson.dumps(body)).decode().rstrip("=")


def decode_cursor(text: str | None, sort: SortKey) -> Cursor:
    if text is None or not text.strip():
        return Cursor()
    wrong = BadQuery(
        "cursor", "cursor: not a cursor of this request; follow the `next` link of the last page"
    )
    try:
        padded = text.strip() + "=" * (-len(text.strip()) % 4)
        body = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after = body["after"]
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
            raise wrong
        if sort == BY_ID:
            if set(body) != {"after"}:
                raise wrong
            return Cursor(after)
        if body.get("by") != ("-" if sort.descending else "+") + sort.name:
            raise wrong
        value = body.get("value")
        if sort.name == "id":
            if not isinstance(value, int) or isinstance(value, bool):
                raise wrong
            return Cursor(after, value)
        if not isinstance(value, str):
            raise wrong
        if sort.name == "updated_at":
            return Cursor(after, datetime.fromisoformat(value))
        return Cursor(after, value)
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        UnicodeEncodeError,
        binascii.Error,
        orjson.JSONDecodeError,
    ):
        raise wrong from None


def single(pairs: list[tuple[str, str]], name: str) -> str | None:
    """The one value of ``name``. The same value twice is one value: GDAL appends the
    query of its OAPIF URL to the `next` links, which carry it already (in another
    percent-encoding); two different values are a 400."""
    values = list(dict.fromkeys(v for k, v in pairs if k == name))
    if len(values) > 1:
        raise BadQuery(name, f"{name}: given {len(values)} different values; send one")
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
    parse_format(single(pairs, "f"))
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
    district_text = single(pairs, "district")
    district = _parse("district", lambda: lookup.parse_district(district_text))
    bbox_text = single(pairs, "bbox")
    bbox_crs = ogc_crs.parse_ogc_crs(single(pairs, "bbox-crs"), base, field="bbox-crs")
    when = single(pairs, "datetime")
    verified = single(pairs, "verified_at")
    cursor = single(pairs, "cursor")
    filter_text = single(pairs, "filter")
    filter_lang = single(pairs, "filter-lang")
    if filter_lang is not None and filter_lang not in cql2.LANGS:
        raise BadQuery(
            "filter-lang",
            f"filter-lang: unknown {filter_lang!r}; allowed values: {', '.join(cql2.LANGS)}",
        )
    sort = parse_sortby(single(pairs, "sortby"))
    return FeatureQuery(
        kinds=kinds,
        amenities=amenities or None,
        statuses=statuses,
        district=district,
        bbox=ogc_crs.bbox_to_wgs84(bbox_text, bbox_crs) if bbox_text is not None else None,
        updated=parse_interval(when, "datetime") if when is not None else None,
        verified=parse_interval(verified, "verified_at") if verified is not None else None,
        limit=parse_limit(single(pairs, "limit")),
        crs=ogc_crs.parse_ogc_crs(single(pairs, "crs"), base),
        filter=cql2.parse_filter(filter_text, filter_lang) if filter_text is not None else None,
        filter_crs=ogc_crs.parse_ogc_crs(single(pairs, "filter-crs"), base, field="filter-crs"),
        sort=sort,
        cursor=decode_cursor(cursor, sort),
        properties=parse_properties(single(pairs, "properties")),
    )
