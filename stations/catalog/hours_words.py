"""Opening hours in words for the coming days, in the station's own time zone.

``Mo-Fr 08:30-12:00,13:30-18:00; PH off`` means little to a rider; "周三 7月15日
08:30–12:00、13:30–18:00" does. Each day lists the open spans that start that day
(a span running past midnight says so: "22:00–次日06:00"); the first day also lists
the span it is already in at midnight. Days come from evaluating the expression, so
public holidays (``PH off``), lunch breaks and overnight spans are as the parser says.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import opening_hours

from stations.catalog import hours

WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def week_in_words(
    text: str | None,
    *,
    time_zone: str,
    country: str | None,
    start: datetime,
    days: int = 7,
) -> list[dict[str, Any]]:
    """One entry per local day from ``start``'s day: open spans and a sentence in zh and en."""
    zone = hours.zone(time_zone)
    first_day = start.astimezone(zone).date()
    out = []
    expression = None
    if text is not None:
        try:
            expression = hours.compiled(text, time_zone, country)
        except Exception:  # stored hours that no longer parse read as "not known"
            expression = None
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        out.append(_day(expression, day, zone, include_running=offset == 0))
    return out


def _day(
    expression: opening_hours.OpeningHours | None, day: date, zone: Any, *, include_running: bool
) -> dict[str, Any]:
    begin = datetime.combine(day, time(0, 0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone)
    entry: dict[str, Any] = {
        "date": day.isoformat(),
        "weekday": WEEKDAYS_EN[day.weekday()],
        "open": [],
        "all_day": False,
        "unknown": expression is None,
        "comments": [],
    }
    if expression is not None:
        spans: list[dict[str, Any]] = []
        comments: list[str] = []
        unknown = False
        # Look a day either side: the parser clips spans to the window it is asked about,
        # and a span must show where it really starts and ends.
        window = _merged(expression, begin - timedelta(days=1), end + timedelta(days=1))
        for s_from, s_to, state, comment in window:
            if s_to <= begin:
                continue
            if s_from >= end:
                break
            if comment and comment not in comments:
                comments.append(comment)
            if state == opening_hours.State.UNKNOWN:
                unknown = True
                continue
            if state != opening_hours.State.OPEN:
                continue
            if s_from <= begin and s_to >= end:
                entry["all_day"] = True
                spans = []
                break
            if s_from < begin and not include_running:
                continue  # shown on the day it started ("22:00–次日06:00")
            spans.append(
                {
                    "from": _hhmm(max(s_from, begin)),
                    "to": "24:00"
                    if s_to == end or s_to >= end + timedelta(days=1)
                    else _hhmm(s_to),
                    "ends_next_day": s_to > end,
                }
            )
        entry["open"] = spans
        entry["unknown"] = unknown and not spans and not entry["all_day"]
        entry["comments"] = comments
    entry["text_zh"] = _text_zh(day, entry)
    entry["text_en"] = _text_en(day, entry)
    return entry


def _merged(
    expression: opening_hours.OpeningHours, begin: datetime, end: datetime
) -> list[tuple[datetime, datetime, Any, str]]:
    """The parser's intervals with touching ones of the same state joined (it cuts at midnight)."""
    out: list[tuple[datetime, datetime, Any, str]] = []
    for s_from, s_to, state, comment in expression.intervals(begin, end):
        if out and out[-1][1] == s_from and out[-1][2] == state and out[-1][3] == comment:
            out[-1] = (out[-1][0], s_to, state, comment)
        else:
            out.append((s_from, s_to, state, comment))
    return out


def _span_zh(span: dict[str, Any]) -> str:
    return f"{span['from']}–{'次日' if span['ends_next_day'] else ''}{span['to']}"


def _span_en(span: dict[str, Any]) -> str:
    return f"{span['from']}–{span['to']}{' (next day)' if span['ends_next_day'] else ''}"


def _text_zh(day: date, entry: dict[str, Any]) -> str:
    head = f"{WEEKDAYS_ZH[day.weekday()]} {day.month}月{day.day}日"
    if entry["all_day"]:
        body = "全天开放"
    elif entry["open"]:
        body = "、".join(_span_zh(s) for s in entry["open"])
    elif entry["unknown"]:
        body = "开放时间未知"
    else:
        body = "不开放"
    note = f"（{'；'.join(entry['comments'])}）" if entry["comments"] else ""
    return f"{head}：{body}{note}"


def _text_en(day: date, entry: dict[str, Any]) -> str:
    head = f"{WEEKDAYS_EN[day.weekday()]} {day.day} {MONTHS_EN[day.month - 1]}"
    if entry["all_day"]:
        body = "open 24 hours"
    elif entry["open"]:
        body = ", ".join(_span_en(s) for s in entry["open"])
    elif entry["unknown"]:
        body = "hours not known"
    else:
        body = "closed"
    note = f" ({'; '.join(entry['comments'])})" if entry["comments"] else ""
    return f"{head}: {body}{note}"
