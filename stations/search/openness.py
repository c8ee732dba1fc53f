"""Open or closed, per distinct opening-hours expression, cached until it next changes.

A million stations share a few hundred distinct (expression, time zone, country)
triples; each gets a small integer *key*. For "now" the state of every key is kept in
a numpy array together with the instant it stops being valid (its next change, capped
at an hour so calendars far ahead are re-read), so ``open_now`` on a candidate set is
one array lookup. For another instant (``open_at``) states are computed per key on
demand with the compiled-parser cache of :mod:`stations.catalog.hours`.

Expressions that do not parse, or a zone that does not exist, give the state
*unknown*: such a station is never reported open.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

import numpy as np
import orjson

from stations.catalog import hours

log = logging.getLogger(__name__)

OPEN, CLOSED, UNKNOWN = 1, 0, -1
_RECHECK_S = 3600.0
_UNKNOWN_FRAGMENT = b'{"is_open":null,"next_change":null}'

Spec = tuple[str | None, str, str | None]


def _evaluate(spec: Spec, at: datetime) -> tuple[int, datetime | None]:
    text, time_zone, country = spec
    if text is None:
        return UNKNOWN, None
    try:
        state = hours.state_at(text, time_zone=time_zone, country=country, at=at)
    except Exception:  # a malformed row must not break the search (see module docstring)
        log.debug("opening hours %r in %s cannot be evaluated", text, time_zone, exc_info=True)
        return UNKNOWN, None
    if state.is_open is None:
        return UNKNOWN, state.next_change
    return (OPEN if state.is_open else CLOSED), state.next_change


def _fragment(state: int, next_change: datetime | None) -> bytes:
    return orjson.dumps(
        {
            "is_open": None if state == UNKNOWN else state == OPEN,
            "next_change": next_change.isoformat() if next_change is not None else None,
        }
    )


class OpeningStates:
    """The registry of hours keys and their cached state "now"."""

    def __init__(self) -> None:
        self._keys: dict[Spec, int] = {}
        self.specs: list[Spec] = []
        self._capacity = 64
        self._state = np.full(self._capacity, UNKNOWN, dtype=np.int8)
        self._until = np.zeros(self._capacity, dtype=float)
        self._fragments: list[bytes] = []
        self._min_until = 0.0
        self.generation = 0  # moves whenever a cached state may have changed
        self.key_for(None, "UTC", None)  # key 0: hours not known

    def __len__(self) -> int:
        return len(self.specs)

    def key_for(self, text: str | None, time_zone: str, country: str | None) -> int:
        spec: Spec = (text, time_zone, country) if text is not None else (None, "UTC", None)
        key = self._keys.get(spec)
        if key is not None:
            return key
        key = len(self.specs)
        if key >= self._capacity:
            self._capacity *= 2
            self._state = np.resize(self._state, self._capacity)
            self._until = np.resize(self._until, self._capacity)
        self._keys[spec] = key
        self.specs.append(spec)
        self._state[key] = UNKNOWN
        self._until[key] = 0.0  # stale: evaluated on the next refresh
        self._fragments.append(_UNKNOWN_FRAGMENT)
        self._min_until = 0.0
        self.generation += 1
        return key

    def refresh(self, now: float) -> None:
        """Re-evaluate the keys whose cached state expired at ``now`` (epoch seconds)."""
        if now < self._min_until:
            return
        count = len(self.specs)
        stale = np.flatnonzero(self._until[:count] <= now)
        if len(stale):
            self.generation += 1
            at = datetime.fromtimestamp(now, UTC)
            for key in stale.tolist():
                state, next_change = _evaluate(self.specs[key], at)
                until = now + _RECHECK_S
                if next_change is not None:
                    until = min(until, next_change.timestamp())
                self._state[key] = state
                self._until[key] = max(until, now + 1e-3)
                self._fragments[key] = _fragment(state, next_change)
        self._min_until = float(self._until[:count].min()) if count else math.inf

    def states_now(self, now: float) -> np.ndarray:
        """State per key at ``now`` (OPEN, CLOSED or UNKNOWN); index it with hours keys."""
        self.refresh(now)
        return self._state

    def open_specs_now(self, now: float) -> list[Spec]:
        """The (expression, time zone, country) triples that are open at ``now``."""
        states = self.states_now(now)
        return [spec for key, spec in enumerate(self.specs) if states[key] == OPEN]

    def fragment_now(self, key: int) -> bytes:
        """``{"is_open": …, "next_change": …}`` for ``key`` as of the last refresh."""
        return self._fragments[key]

    def open_fraction_now(self, now: float, counts: np.ndarray) -> float:
        """Share of stations open now, given how many stations use each key."""
        states = self.states_now(now)
        size = min(len(counts), len(self.specs))
        total = float(counts[:size].sum())
        if total <= 0:
            return 1.0
        return float(counts[:size][states[:size] == OPEN].sum()) / total


class StatesAt:
    """States at one arbitrary instant, computed per key on first use (one request)."""

    def __init__(self, registry: OpeningStates, at: datetime) -> None:
        self._registry = registry
        self._at = at
        self._cache: dict[int, tuple[int, bytes]] = {}

    def state(self, key: int) -> int:
        return self._get(key)[0]

    def fragment(self, key: int) -> bytes:
        return self._get(key)[1]

    def states(self, keys: np.ndarray) -> np.ndarray:
        return np.fromiter((self._get(k)[0] for k in keys.tolist()), dtype=np.int8, count=len(keys))

    def _get(self, key: int) -> tuple[int, bytes]:
        found = self._cache.get(key)
        if found is None:
            state, next_change = _evaluate(self._registry.specs[key], self._at)
            found = (state, _fragment(state, next_change))
            self._cache[key] = found
        return found
