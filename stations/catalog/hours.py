"""Opening hours in OpenStreetMap ``opening_hours`` syntax, evaluated in a station's zone.

Parsing and evaluation are done by ``opening_hours`` (the Rust ``opening-hours``
crate), a real parser of the OSM specification including public holidays (``PH``)
for the station's country. Parsed expressions are cached: a catalog of a million
stations uses a few hundred distinct expressions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import opening_hours

from stations.errors import InvalidInput

MAX_LENGTH = 255  # OSM's own limit for a tag value


@dataclass(frozen=True)
class HoursState:
    """Whether a station is open at an instant and when that changes next.

    ``is_open`` is None when the expression says ``unknown`` (or there is none);
    ``next_change`` is None when the state never changes (``24/7``, ``closed``).
    """

    is_open: bool | None
    next_change: datetime | None
    comment: str = ""


def validate_opening_hours(text: str | None, *, field: str = "opening_hours") -> str | None:
    """Return the expression trimmed, or raise InvalidInput saying where it fails to parse."""
    if text is None:
        return None
    value = " ".join(text.split())
    if not value:
        return None
    if len(value) > MAX_LENGTH:
        raise InvalidInput(
            f"{field}: longer than {MAX_LENGTH} characters; shorten the expression",
            field=field,
        )
    try:
        opening_hours.OpeningHours(value)
    except (SyntaxError, opening_hours.ParserError) as exc:  # type: ignore[attr-defined]
        where, expected = _parser_position(str(exc))
        hint = f" at character {where}" if where else ""
        said = f" (the parser expected {expected})" if expected else ""
        raise InvalidInput(
            f"{field}: {value!r} is not valid OpenStreetMap opening_hours{hint}{said}; "
            "write it like 'Mo-Fr 08:30-18:00; Sa 09:00-12:00' or '24/7'",
            field=field,
        ) from exc
    return value


def _parser_position(message: str) -> tuple[int | None, str | None]:
    """Column and expectation from the parser's report ("--> 1:18", "= expected …")."""
    column = re.search(r"-->\s*\d+:(\d+)", message)
    expected = re.search(r"=\s*expected\s+(.+)", message)
    return (
        int(column.group(1)) if column else None,
        expected.group(1).strip() if expected else None,
    )


def validate_time_zone(name: str, *, field: str = "time_zone") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"{field}: {name!r} is not an IANA time zone; use a name like 'Asia/Shanghai'",
            field=field,
        ) from exc
    return name


@lru_cache(maxsize=4096)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=16384)
def compiled(text: str, time_zone: str, country: str | None) -> opening_hours.OpeningHours:
    """The parsed expression for a station's zone and country (for ``PH`` rules)."""
    return opening_hours.OpeningHours(
        text,
        timezone=zone(time_zone),
        country=country,
        auto_country=False,
        auto_timezone=False,
    )


def state_at(text: str | None, *, time_zone: str, country: str | None, at: datetime) -> HoursState:
    """Evaluate an expression at an aware instant, in the station's own zone."""
    if text is None:
        return HoursState(is_open=None, next_change=None)
    if at.tzinfo is None:
        raise ValueError("state_at needs an aware datetime")
    local = at.astimezone(zone(time_zone))
    expression = compiled(text, time_zone, country)
    state, comment = expression.state(local)
    if state == opening_hours.State.OPEN:
        is_open: bool | None = True
    elif state == opening_hours.State.CLOSED:
        is_open = False
    else:
        is_open = None
    return HoursState(is_open=is_open, next_change=expression.next_change(local), comment=comment)


def next_open(
    text: str | None, *, time_zone: str, country: str | None, at: datetime, within_days: int = 400
) -> datetime | None:
    """When the station opens next after ``at`` (in its zone); None within ``within_days``.

    The start of the first open interval, so a spell of ``unknown`` in between is passed
    over; ``at`` itself when it is open then.
    """
    if text is None:
        return None
    local = at.astimezone(zone(time_zone))
    end = local + timedelta(days=within_days)
    for start, _, state, _ in compiled(text, time_zone, country).intervals(local, end):
        if state == opening_hours.State.OPEN:
            return max(start, local)
    return None
