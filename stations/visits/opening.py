"""Whether a station's opening hours let it hand out water at the moment of a claim.

Opening hours are OpenStreetMap expressions that only Python evaluates
(:mod:`stations.catalog.hours`), and a claim is decided by one database function,
``claim_water_batch``. So the hours are evaluated here, just before a batch goes to the
database, and each claim carries the result (closed now or not, and when the station
opens next); the function applies it as a rule after the stored answer of a retried
claim is looked up, so a retry still gets its first answer, and after the station's
own status (``station_closed``). Hours that are missing, unknown or do not parse say
nothing about now and refuse nothing: the campaign's daily hours still apply.

A claim desk keeps each station's hours by code for :data:`KEEP_S` seconds, so the
hot path spends no round trip on them; a batch reads the codes it has not seen in one
query on its own connection. The owner of the desk forgets them whenever stations
change (:meth:`StationHours.forget`; the API calls it on the station index's change
notifications), so new hours apply to the next claim.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from stations.catalog import hours
from stations.sql import load

SQL = load("visits")
log = logging.getLogger(__name__)

KEEP_S = 60.0
"""How long a desk trusts the hours it read, when no change notification clears them."""

Spec = tuple[str, str, str | None]  # opening_hours, time zone, country


@dataclass(frozen=True)
class Opening:
    """A station's hours at a claim: ``closed`` now, and ``next_open`` (ISO 8601, in the
    station's zone; None when the hours name no next opening)."""

    closed: bool
    next_open: str | None = None


OPEN = Opening(closed=False)


def opening_at(spec: Spec | None, at: datetime) -> Opening:
    """The hours of ``spec`` at the instant ``at``; ``OPEN`` unless they say closed."""
    if spec is None:
        return OPEN
    text, time_zone, country = spec
    try:
        state = hours.state_at(text, time_zone=time_zone, country=country, at=at)
        if state.is_open is not False:
            return OPEN
        reopens = hours.next_open(text, time_zone=time_zone, country=country, at=at)
    except Exception:  # stored hours that no longer parse say nothing about now
        log.debug("opening hours %r in %s cannot be evaluated", text, time_zone, exc_info=True)
        return OPEN
    return Opening(closed=True, next_open=reopens.isoformat() if reopens else None)


class StationHours:
    """Stations' opening hours by code, read on first use and kept :data:`KEEP_S`."""

    def __init__(self, keep_s: float = KEEP_S) -> None:
        self.keep_s = keep_s
        self._specs: dict[str, tuple[float, Spec | None]] = {}

    def forget(self) -> None:
        """Read every station's hours again on its next claim (stations changed)."""
        self._specs.clear()

    async def openings(
        self, conn: asyncpg.Connection, codes: Sequence[str], at: datetime
    ) -> list[Opening]:
        """The opening of each code's station at ``at``, in order (``OPEN`` when unknown)."""
        now = time.monotonic()
        specs: dict[str, Spec | None] = {}
        missing: list[str] = []
        for code in set(codes):
            entry = self._specs.get(code)
            if entry is None or entry[0] < now:
                missing.append(code)
            else:
                specs[code] = entry[1]
        if missing:
            found = {
                r["code"]: (r["opening_hours"], r["time_zone"], r["country_code"])
                for r in await conn.fetch(SQL.station_hours, sorted(missing))
                if r["opening_hours"] is not None
            }
            for code in missing:
                specs[code] = found.get(code)
                self._specs[code] = (now + self.keep_s, specs[code])
        return [opening_at(specs[code], at) for code in codes]
