"""What a rider can ask of a search, parsed and checked once for every entry point.

The same parsers serve query strings (``GET /v1/stations/nearest``) and JSON bodies
(``nearest:batch``, ``along-route``), so the same mistake gets the same answer: an
:class:`~stations.errors.InvalidInput` whose detail names the parameter and the values
it accepts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from stations.catalog.vocab import AMENITIES, AMENITY_BITS, Access, Kind
from stations.errors import InvalidInput

MAX_K = 100
DEFAULT_K = 5
MAX_RADIUS_M = 20_000_000.0  # about half the equator: "anywhere"
MAX_RATING = 5.0
MIN_RATING = 1.0
# Opening hours are evaluated for instants a rider or planner can mean.
OPEN_AT_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))

KIND_VALUES = tuple(k.value for k in Kind)
ACCESS_VALUES = tuple(a.value for a in Access)
AMENITY_VALUES = tuple(AMENITIES)


@dataclass(frozen=True)
class Filters:
    """Filters applied before the limit. ``None`` means "no restriction"."""

    kinds: frozenset[str] | None = None
    amenities: tuple[str, ...] = ()
    access: frozenset[str] | None = None
    open_at: datetime | None = None  # the instant to be open at (already resolved from "now")
    min_rating: float | None = None
    water_now: bool = False  # bottles left today, in the station's local day

    @property
    def amenity_mask(self) -> int:
        mask = 0
        for name in self.amenities:
            mask |= AMENITY_BITS[name]
        return mask

    @property
    def static_signature(self) -> tuple:
        """The part that does not depend on time or live data (for cached selectivity)."""
        return (self.kinds, self.amenity_mask, self.access)


NO_FILTERS = Filters()
"""The filters of a request that asks for none (the common case; compared by identity)."""


def _split(values: Iterable[str] | None) -> list[str]:
    """Repeated parameters and comma-separated lists mean the same thing.

    Empty items are kept (and refused by the callers as unknown values): ``amenity=``
    is a mistake to report, not a filter to drop silently.
    """
    out: list[str] = []
    for value in values or ():
        out.extend(part.strip() for part in str(value).split(","))
    return out


def parse_kinds(values: Iterable[str] | None, *, field: str = "kind") -> frozenset[str] | None:
    names = _split(values)
    if not names:
        return None
    for name in names:
        if name not in KIND_VALUES:
            raise InvalidInput(
                f"{field}: unknown kind {name!r}; allowed values: {', '.join(KIND_VALUES)}",
                field=field,
            )
    return frozenset(names)


def parse_amenities(values: Iterable[str] | None, *, field: str = "amenity") -> tuple[str, ...]:
    names = _split(values)
    for name in names:
        if name not in AMENITY_BITS:
            raise InvalidInput(
                f"{field}: unknown amenity {name!r}; allowed values: {', '.join(AMENITY_VALUES)}",
                field=field,
            )
    return tuple(sorted(set(names), key=AMENITY_VALUES.index))


def parse_access(values: Iterable[str] | None, *, field: str = "access") -> frozenset[str] | None:
    """Access rules to accept; ``-rule`` excludes one (``access=-customers_only``)."""
    names = _split(values)
    if not names:
        return None
    include: set[str] = set()
    exclude: set[str] = set()
    for name in names:
        negated = name.startswith(("-", "!"))
        bare = name[1:] if negated else name
        if bare not in ACCESS_VALUES:
            raise InvalidInput(
                f"{field}: unknown access rule {name!r}; allowed values: "
                f"{', '.join(ACCESS_VALUES)} (prefix one with '-' to exclude it)",
                field=field,
            )
        (exclude if negated else include).add(bare)
    allowed = (include or set(ACCESS_VALUES)) - exclude
    return frozenset(allowed)


def parse_float(
    value: str | float | None,
    *,
    field: str,
    low: float,
    high: float,
    what: str = "a number",
    low_open: bool = False,
) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    too_low = number <= low if low_open else number < low
    if not math.isfinite(number) or too_low or number > high:
        bound = f"greater than {low:g}" if low_open else f"from {low:g}"
        raise InvalidInput(
            f"{field}: must be {what} {bound} to {high:g} (got {value!r})", field=field
        )
    return number


def parse_int(value: str | int | None, *, field: str, low: int, high: int) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)  # type: ignore[arg-type]
        if isinstance(value, float) and value != number:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(
            f"{field}: must be an integer from {low} to {high} (got {value!r})", field=field
        ) from None
    if number < low or number > high:
        raise InvalidInput(
            f"{field}: must be an integer from {low} to {high} (got {value!r})", field=field
        )
    return number


def parse_lat(value: str | float | None, *, field: str = "lat") -> float:
    return parse_float(value, field=field, low=-90.0, high=90.0, what="a latitude in degrees")


def parse_lng(value: str | float | None, *, field: str = "lng") -> float:
    return parse_float(value, field=field, low=-180.0, high=180.0, what="a longitude in degrees")


def parse_k(value: str | int | None, *, field: str = "k", maximum: int = MAX_K) -> int:
    if value is None:
        return DEFAULT_K
    return parse_int(value, field=field, low=1, high=maximum)


def parse_radius(value: str | float | None, *, field: str = "radius_m") -> float | None:
    if value is None:
        return None
    return parse_float(
        value, field=field, low=0.0, high=MAX_RADIUS_M, what="a distance in metres", low_open=False
    )


def parse_min_rating(value: str | float | None, *, field: str = "min_rating") -> float | None:
    if value is None:
        return None
    return parse_float(value, field=field, low=MIN_RATING, high=MAX_RATING, what="a star rating")


def parse_bool(value: str | bool | None, *, field: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise InvalidInput(f"{field}: must be true or false (got {value!r})", field=field)


def parse_instant(value: str | datetime, *, field: str = "open_at") -> datetime:
    """An ISO 8601 instant with its UTC offset, e.g. ``2026-07-15T14:00:00+08:00``."""
    if isinstance(value, datetime):
        at = value
    else:
        try:
            at = datetime.fromisoformat(value.strip())
        except (ValueError, AttributeError):
            raise InvalidInput(
                f"{field}: {value!r} is not an ISO 8601 time; send e.g. 2026-07-15T14:00:00+08:00",
                field=field,
            ) from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(
            f"{field}: give the time with its UTC offset, e.g. 2026-07-15T14:00:00+08:00 "
            "or 2026-07-15T06:00:00Z",
            field=field,
        )
    try:
        in_range = OPEN_AT_RANGE[0] <= at <= OPEN_AT_RANGE[1]
    except OverflowError:
        in_range = False
    if not in_range:
        raise InvalidInput(f"{field}: must be between 1970 and 2200 (got {value!r})", field=field)
    return at


def parse_open(
    open_now: str | bool | None, open_at: str | datetime | None, *, now: datetime
) -> datetime | None:
    """The instant stations must be open at, or None when neither filter is asked."""
    wants_now = parse_bool(open_now, field="open_now")
    if open_at is not None:
        if wants_now:
            raise InvalidInput(
                "open_at: give either open_now=true or open_at=<time>, not both", field="open_at"
            )
        return parse_instant(open_at)
    return now if wants_now else None


def build_filters(
    *,
    kind: Iterable[str] | None = None,
    amenity: Iterable[str] | None = None,
    access: Iterable[str] | None = None,
    open_now: str | bool | None = None,
    open_at: str | datetime | None = None,
    min_rating: str | float | None = None,
    water_now: str | bool | None = None,
    now: datetime,
) -> Filters:
    return Filters(
        kinds=parse_kinds(kind),
        amenities=parse_amenities(amenity),
        access=parse_access(access),
        open_at=parse_open(open_now, open_at, now=now),
        min_rating=parse_min_rating(min_rating),
        water_now=parse_bool(water_now, field="water_now"),
    )
