"""JSON answers of the search, assembled from pre-rendered pieces.

A station's static members (id, code, name, amenities, …) and its WGS84 position are
rendered once, by PostgreSQL, when the station enters the index; an answer joins them
with what depends on the request: distance, bearing, open state at the asked time,
how many days ago it was verified, and the live rating and water fields.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import orjson

from stations.crs import Crs, from_wgs84
from stations.search.index import Hit, StationIndex
from stations.search.openness import StatesAt

_DAY_S = 86400.0


class OpenStates:
    """Open-state fragments at the instant a request asks about ("now" or ``open_at``)."""

    def __init__(self, index: StationIndex, at: datetime, now: float) -> None:
        self._index = index
        if abs(at.timestamp() - now) < 1.0:
            index.states.refresh(now)
            self._at: StatesAt | None = None
        else:
            self._at = StatesAt(index.states, at)

    def fragment(self, key: int) -> bytes:
        if self._at is None:
            return self._index.states.fragment_now(key)
        return self._at.fragment(key)


def instant_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def positions(index: StationIndex, hits: Sequence[tuple[bool, int]], crs: Crs) -> list[bytes]:
    """``{"lat":…,"lng":…}`` for each (in_delta, pos), in ``crs``."""
    if crs.is_wgs84:
        return [index.columns_of(d).position[p] for d, p in hits]
    lat = np.array([index.columns_of(d).lat[p] for d, p in hits], dtype=float)
    lng = np.array([index.columns_of(d).lng[p] for d, p in hits], dtype=float)
    out_lat, out_lng = from_wgs84(lat, lng, crs)
    return [
        b'{"lat":%r,"lng":%r}' % (round(float(a), 8), round(float(b), 8))
        for a, b in zip(
            np.atleast_1d(out_lat).tolist(), np.atleast_1d(out_lng).tolist(), strict=True
        )
    ]


def _verified_days(verified: float, now: float) -> bytes:
    if math.isnan(verified):
        return b"null"
    return b"%d" % max(0, int((now - verified) // _DAY_S))


def station_members(
    index: StationIndex, in_delta: bool, pos: int, position: bytes, opened: OpenStates, now: float
) -> bytes:
    """The members every search answer shares (no braces)."""
    cols = index.columns_of(in_delta)
    station_id = int(cols.ids[pos])
    live = index.live
    return b"".join(
        (
            cols.fragment[pos],
            b',"position":',
            position,
            b',"open":',
            opened.fragment(int(cols.hours_key[pos])),
            b',"verified_days_ago":',
            _verified_days(float(cols.verified[pos]), now),
            b',"rating":',
            live.rating_fragment(station_id),
            b',"water_today":',
            live.water_fragment(station_id),
        )
    )


def nearest_results(
    index: StationIndex, hits: Sequence[Hit], *, crs: Crs, opened: OpenStates, now: float
) -> bytes:
    """``[{…station…, "distance_m": …, "bearing_deg": …}, …]``"""
    if not hits:
        return b"[]"
    places = positions(index, [(h.in_delta, h.pos) for h in hits], crs)
    parts = []
    for hit, place in zip(hits, places, strict=True):
        parts.append(
            b'{%s,"distance_m":%s,"bearing_deg":%s}'
            % (
                station_members(index, hit.in_delta, hit.pos, place, opened, now),
                _number(hit.distance, 2),
                _number(hit.bearing, 1),
            )
        )
    return b"[" + b",".join(parts) + b"]"


def nearest_answer(
    index: StationIndex,
    hits: Sequence[Hit],
    *,
    crs: Crs,
    at: datetime,
    now: float,
) -> bytes:
    opened = OpenStates(index, at, now)
    results = nearest_results(index, hits, crs=crs, opened=opened, now=now)
    return b'{"at":%s,"crs":"%s","count":%d,"results":%s}' % (
        orjson.dumps(instant_text(at)),
        crs.name.encode(),
        len(hits),
        results,
    )


def _number(value: float, digits: int) -> bytes:
    return repr(round(value, digits)).encode()
