"""Time zones and countries of stations: found from positions, and what they imply.

A station's opening hours are read in its IANA time zone, and public holidays are
those of its country; both are found from the position when a source does not say.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from stations.catalog import hours


def localise(value: datetime | None, zone: str) -> datetime | None:
    """A naive date-time is read as the station's local time; aware ones stay as they are."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=hours.zone(zone))


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
