"""JSON answers of the search, assembled from pre-rendered pieces.

A station's static JSON (``{"id":…,"code":…, …,"position":{WGS84}``, no closing brace)
is rendered once, by PostgreSQL, when the station enters the index. An answer appends
what depends on the request — open state at the asked time, days since verification,
the live rating and water fields, distance and bearing — and closes the brace. For
GCJ-02 or BD-09 the position member is cut off and written again, converted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import orjson

from stations.geo.crs import Crs, from_wgs84
from stations.search.columns import Hit
from stations.search.index import StationIndex
from stations.search.openness import StatesAt

_DAY_S = 86400.0
_POSITION = b',"position":'
_TAIL = b'%s,"open":%s,"verified_days_ago":%s,"rating":%s,"water_today":%s'
_NULL = b"null"


class OpenStates:
    """Open-state fragments at the instant a request asks about ("now" or ``open_at``)."""

    def __init__(self, index: StationIndex, at: datetime, now: float) -> None:
        self._index = index
        if abs(at.timestamp() - now) < 1.0:
            index.states.refresh(now)
            self.fragment = index.states.fragment_now
        else:
            self.fragment = StatesAt(index.states, at).fragment


def instant_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


_at_cache: tuple[int, bytes] = (-1, b"")


def _instant_json(at: datetime) -> bytes:
    """``"…Z"`` for ``at`` to the second (hours change on whole minutes), rendered once a second."""
    global _at_cache
    second = math.floor(at.timestamp())
    if _at_cache[0] != second:
        _at_cache = (second, orjson.dumps(instant_text(datetime.fromtimestamp(second, UTC))))
    return _at_cache[1]


def heads(index: StationIndex, hits: Sequence[tuple[bool, int]], crs: Crs) -> list[bytes]:
    """Each station's static JSON, its position in ``crs``."""
    if crs.is_wgs84:
        return [index.columns_of(d).head[p] for d, p in hits]
    if not hits:
        return []
    lat = np.array([index.columns_of(d).lat[p] for d, p in hits], dtype=float)
    lng = np.array([index.columns_of(d).lng[p] for d, p in hits], dtype=float)
    out_lat, out_lng = from_wgs84(lat, lng, crs)
    out = []
    for (d, p), a, b in zip(
        hits, np.atleast_1d(out_lat).tolist(), np.atleast_1d(out_lng).tolist(), strict=True
    ):
        head = index.columns_of(d).head[p]
        out.append(
            head[: head.rindex(_POSITION)]
            + b'%s{"lat":%r,"lng":%r}' % (_POSITION, round(a, 8), round(b, 8))
        )
    return out


def station_json(
    index: StationIndex, in_delta: bool, pos: int, head: bytes, opened: OpenStates, now: float
) -> bytes:
    """A station's JSON without its closing brace: static members, then live ones."""
    cols = index.delta if in_delta else index.base
    verified = cols.verified[pos]
    days = _NULL if math.isnan(verified) else b"%d" % max(0, int((now - verified) // _DAY_S))
    live = index.live
    if live.rating_json or live.water_json:
        station_id = int(cols.ids[pos])
        rating, water = live.rating_fragment(station_id), live.water_fragment(station_id)
    else:
        rating = water = _NULL
    return _TAIL % (head, opened.fragment(cols.hours_key[pos]), days, rating, water)


def nearest_results(
    index: StationIndex, hits: Sequence[Hit], *, crs: Crs, opened: OpenStates, now: float
) -> bytes:
    """``[{…station…,"distance_m":…,"bearing_deg":…}, …]``"""
    if not hits:
        return b"[]"
    places = heads(index, [(h.in_delta, h.pos) for h in hits], crs)
    return (
        b"["
        + b",".join(
            b'%s,"distance_m":%.2f,"bearing_deg":%.1f}'
            % (station_json(index, h.in_delta, h.pos, head, opened, now), h.distance, h.bearing)
            for h, head in zip(hits, places, strict=True)
        )
        + b"]"
    )


def nearest_answer(
    index: StationIndex,
    hits: Sequence[Hit],
    *,
    crs: Crs,
    at: datetime,
    now: float,
) -> bytes:
    opened = OpenStates(index, at, now)
    return b'{"at":%s,"crs":"%s","count":%d,"results":%s}' % (
        _instant_json(at),
        crs.name.encode(),
        len(hits),
        nearest_results(index, hits, crs=crs, opened=opened, now=now),
    )
