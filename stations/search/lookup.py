"""Searching the catalog in PostGIS: text and bbox search, one station, its history.

These read the database directly (always current). Text search matches every term of
``q`` as a substring of the name, English name or address, ignoring case and character
width (:func:`fold`); a GIN index over the pairs of adjacent characters in each word
(``station_grams``, migrations ``0010`` and ``0012``) makes two-character Chinese queries
such as ``驿站`` fast, which trigram indexes cannot do.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from stations.catalog.fields import PUBLIC_FIELDS, expand_sql
from stations.catalog.vocab import Status
from stations.errors import InvalidInput, StationNotFound
from stations.geo import region
from stations.geo.crs import Crs, from_wgs84
from stations.search.filters import parse_amenities, parse_kinds
from stations.sql import load

SQL = load("search", expand=expand_sql)

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
MAX_Q_LENGTH = 100
MAX_TERMS = 8
STATUS_VALUES = tuple(s.value for s in Status)
DEFAULT_STATUSES = ("active", "temporarily_closed")
MAX_ID = 2**63 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class SearchQuery:
    terms: list[str] | None = None
    bbox: list[float] | None = None  # WGS84 west, south, east, north
    kinds: list[str] | None = None
    amenities: list[str] | None = None
    statuses: tuple[str, ...] = DEFAULT_STATUSES
    district: str | None = None
    # Only these stations (None: any). The API's water_now passes the stations the
    # in-process index knows to have bottles left today (LiveData.ids_with_water).
    station_ids: list[int] | None = None


def fold(text: str) -> str:
    """Text as search compares it: NFKC (full-width ＥＭＳ, １号 → EMS, 1号), lower case.

    The database folds names and addresses, and the terms again, the same way
    (``station_grams``; ``lower(normalize(…, NFKC))``); doing it here too makes ``Ems``
    and ``ＥＭＳ`` one term. Only one-to-one case mappings are applied: PostgreSQL lowers
    character by character, so ``İ`` is left for it (Python would make two characters).
    """
    normal = unicodedata.normalize("NFKC", text)
    lowered = normal.lower()
    if len(lowered) == len(normal):
        return lowered
    return "".join(c if len(low := c.lower()) != 1 else low for c in normal)


def parse_terms(q: str | None, *, field: str = "q") -> list[str] | None:
    if q is None or not q.strip():
        return None
    if len(q) > MAX_Q_LENGTH or _CONTROL.search(q):
        raise InvalidInput(
            f"{field}: send at most {MAX_Q_LENGTH} characters of plain text "
            "(a name or address, e.g. 驿站 or 人民路)",
            field=field,
        )
    terms = list(dict.fromkeys(fold(q).split()))
    if len(terms) > MAX_TERMS:
        raise InvalidInput(f"{field}: at most {MAX_TERMS} words", field=field)
    return terms


def parse_bbox(text: str | None, crs: Crs, *, field: str = "bbox") -> list[float] | None:
    """``west,south,east,north`` in ``crs`` → WGS84; west > east crosses the antimeridian."""
    if text is None or not text.strip():
        return None
    return region.parse_bbox(text, field=field, antimeridian=True).in_wgs84(crs).as_list()


def parse_statuses(values: list[str] | None, *, field: str = "status") -> tuple[str, ...]:
    names = [p.strip() for v in values or () for p in v.split(",") if p.strip()]
    if not names:
        if values:  # `status=` given empty: a mistake to report, not a filter to drop
            raise InvalidInput(
                f"{field}: empty; leave it out or name one of {', '.join(STATUS_VALUES)}",
                field=field,
            )
        return DEFAULT_STATUSES
    for name in names:
        if name not in STATUS_VALUES:
            raise InvalidInput(
                f"{field}: unknown status {name!r}; allowed values: {', '.join(STATUS_VALUES)}",
                field=field,
            )
    return tuple(dict.fromkeys(names))


def parse_district(value: str | None, *, field: str = "district") -> str | None:
    if value is None:
        return None
    if not value.strip():  # given empty: a mistake to report, not a filter to drop
        raise InvalidInput(
            f"{field}: empty; leave it out or name a district (e.g. 相山区 or 340603)",
            field=field,
        )
    if len(value) > 100 or _CONTROL.search(value):
        raise InvalidInput(
            f"{field}: a district name or code (e.g. 相山区 or 340603), at most 100 characters",
            field=field,
        )
    return value.strip()


def build_query(
    *,
    q: str | None,
    bbox: str | None,
    crs: Crs,
    kind: list[str] | None,
    amenity: list[str] | None,
    status: list[str] | None,
    district: str | None,
) -> SearchQuery:
    kinds = parse_kinds(kind)
    amenities = parse_amenities(amenity)
    return SearchQuery(
        terms=parse_terms(q),
        bbox=parse_bbox(bbox, crs),
        kinds=sorted(kinds) if kinds else None,
        amenities=list(amenities) or None,
        statuses=parse_statuses(status),
        district=parse_district(district),
    )


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"after": last_id})).decode().rstrip("=")


def decode_cursor(text: str | None, *, field: str = "cursor") -> int:
    """The id after which a page starts (0 for the first page)."""
    if text is None or not text.strip():
        return 0
    try:
        padded = text.strip() + "=" * (-len(text.strip()) % 4)
        value = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after = value["after"]
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_ID:
            raise ValueError
    except (
        ValueError,
        TypeError,
        KeyError,
        UnicodeEncodeError,
        binascii.Error,
        orjson.JSONDecodeError,
    ):
        raise InvalidInput(
            f"{field}: not a cursor from this API; follow the `next` link of the previous page",
            field=field,
        ) from None
    return after


async def search_stations(
    conn: asyncpg.Connection, query: SearchQuery, *, after: int, limit: int
) -> list[asyncpg.Record]:
    """One page of stations matching ``query``, in id order after ``after``."""
    # A one-off prepared statement gets a custom plan: NULL filters drop out, and the
    # indexes of the remaining ones are used (a cached generic plan cannot do that).
    statement = await conn.prepare(SQL.search)
    return await statement.fetch(
        query.terms,
        query.bbox,
        query.kinds,
        query.amenities,
        list(query.statuses),
        query.district,
        after,
        limit,
        query.station_ids,
    )


async def station_history(
    conn: asyncpg.Connection, station_id: int, *, before: int, limit: int
) -> list[asyncpg.Record]:
    """Changes of a station, newest first; NotFound when it never existed."""
    rows = await conn.fetch(SQL.history, station_id, before, limit)
    if not rows and not await conn.fetchval(SQL.station_known, station_id):
        raise StationNotFound(station_id)
    return rows


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def station_dict(row: asyncpg.Record | dict[str, Any], crs: Crs) -> dict[str, Any]:
    """The public fields of a station (the field table's), its position in ``crs``."""
    lat, lng = row["lat"], row["lng"]
    if not crs.is_wgs84:
        out_lat, out_lng = from_wgs84(lat, lng, crs)
        lat, lng = round(float(out_lat), 8), round(float(out_lng), 8)
    out: dict[str, Any] = {"id": row["id"], "code": row["code"]}
    for name in PUBLIC_FIELDS:
        value = row[name]
        if isinstance(value, datetime):
            value = value.isoformat()
        elif name == "amenities":
            value = list(value)
        out[name] = value
    out["position"] = {"lat": lat, "lng": lng}
    out["version"] = row["version"]
    out["updated_at"] = _iso(row["updated_at"])
    return out


def history_dict(row: asyncpg.Record, *, names: bool = True) -> dict[str, Any]:
    """One change; without ``names`` the actor is only its role (``operator``, not
    ``operator:黄山路驿站``; ``member``, not the member's number), as the public sees it."""
    return {
        "id": row["id"],
        "action": row["action"],
        "actor": row["actor"] if names else row["actor"].split(":", 1)[0],
        "reason": row["reason"],
        "changed_at": _iso(row["changed_at"]),
        "old_values": row["old_values"],
        "new_values": row["new_values"],
    }
