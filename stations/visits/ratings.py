"""One-tap ratings after a visit, per-station aggregates, freshness and the review queue.

Who may rate: a member with a visit (a granted claim or a check-in) at the station in
the last 24 hours. One rating per member, station and local day; rating again the same
day replaces the first. The database function ``rate_station`` writes the rating and
updates ``station_rating_summary`` in the same transaction.

The score is a Bayesian average, ``(C·m + Σstars) / (C + n)`` with prior mean
:data:`PRIOR_MEAN` and weight :data:`PRIOR_WEIGHT`: a station with two 5-star ratings
scores (5·3.5 + 10) / 7 ≈ 3.93, not 5, so a handful of ratings cannot top the list.

Reports that a listing is wrong (``closed_when_listed_open``, ``no_water``) from at
least :data:`REVIEW_THRESHOLD` distinct members within :data:`REVIEW_WINDOW` put the
station on its operator's review queue; each distinct reporter halves the station's
freshness (1.0 = nothing reported). Marking the station reviewed clears both.

Only reports from **verified visits** count there (migration 0025): the rating's member
had, in the 24 hours before it, a granted claim at the station (checked against its
campaign's geofence and hours, and its presence code when the campaign requires one)
or a check-in that carried the station's rotating presence code
(:mod:`stations.visits.presence`). A check-in by position alone can be sent from
anywhere, so its reports are kept with the rating (tag counts) but put nothing on the
queue: a rival five kilometres away can no longer bury a station under ``no_water``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from stations.catalog.vocab import RATING_TAGS, REVIEW_TAGS
from stations.db import connection as dbconn
from stations.db.integrity import translating
from stations.errors import Ineligible, InvalidInput, StationNotFound
from stations.sql import load

SQL = load("visits")

PRIOR_MEAN = Decimal("3.5")
PRIOR_WEIGHT = Decimal("5")
REVIEW_WINDOW = timedelta(hours=72)
RATING_WINDOW = timedelta(hours=24)
"""How long after a visit a member may rate (``rate_station()`` in migration 0003 says
``interval '24 hours'``; tests keep the two in step)."""
REVIEW_THRESHOLD = 2
REVIEW_REASON = "reviewed on the review queue"
COMMENT_MAX = 280
TOP_TAGS = 3


@dataclass(frozen=True)
class RatingSummary:
    """What the search shows per station."""

    station_id: int
    ratings: int
    mean_stars: float | None
    score: float  # Bayesian; PRIOR_MEAN when there are no ratings
    tag_counts: dict[str, int]
    freshness: float  # 1.0 = no recent reports that the listing is wrong
    reporters: int  # distinct members reporting it wrong within REVIEW_WINDOW
    top_tags: list[str] = field(default_factory=list)


def validate_tags(tags: list[str]) -> list[str]:
    seen: list[str] = []
    for tag in tags:
        if tag not in RATING_TAGS:
            raise InvalidInput(
                f"tags: {tag!r} is not a rating tag; use {', '.join(RATING_TAGS)}", field="tags"
            )
        if tag not in seen:
            seen.append(tag)
    return seen


def validate_comment(comment: str | None) -> str | None:
    if comment is None:
        return None
    text = comment.strip()
    if len(text) > COMMENT_MAX:
        raise InvalidInput(f"comment: at most {COMMENT_MAX} characters", field="comment")
    return text or None


async def rate(
    conn: asyncpg.Connection,
    *,
    member_id: int,
    station_id: int,
    stars: int,
    tags: list[str],
    comment: str | None,
) -> dict[str, Any]:
    """Rate a visited station; returns the rating, whether it replaced one, the summary."""
    if not 1 <= stars <= 5:
        raise InvalidInput("stars: 1 to 5", field="stars")
    with translating():
        result = await conn.fetchval(
            SQL.rate_station,
            member_id,
            station_id,
            stars,
            validate_tags(tags),
            validate_comment(comment),
            PRIOR_MEAN,
            PRIOR_WEIGHT,
        )
    outcome = result.pop("outcome")
    if outcome == "unknown_station":
        raise StationNotFound(station_id)
    if outcome in REFUSALS:
        raise Ineligible(outcome, REFUSALS[outcome])
    return result


REFUSALS = {
    "member_suspended": "your union membership is suspended; ask your union branch to reinstate it",
    "no_recent_visit": "you can rate a station within 24 hours of a visit; scan its QR code "
    "(check in or claim water) first",
}
"""Why a member may not rate, by reason: the words :func:`rate` refuses with."""


async def rating_eligibility(
    conn: asyncpg.Connection, *, member_id: int, station_id: int
) -> dict[str, Any]:
    """Whether :func:`rate` would accept a rating now, and why not, without writing.

    Same rules as ``rate_station()``: an active member with a claim or check-in at the
    station within :data:`RATING_WINDOW`. Also says until when the visit allows
    rating and what the member rated today (a new rating replaces it).
    """
    row = await conn.fetchrow(SQL.rating_eligibility, member_id, station_id, RATING_WINDOW)
    if row is None:
        raise StationNotFound(station_id)
    reason = None
    if row["member_status"] != "active":
        reason = "member_suspended"
    elif row["visited_at"] is None:
        reason = "no_recent_visit"
    visit = None
    if row["visited_at"] is not None:
        visit = {
            "kind": row["visit_kind"],
            "at": row["visited_at"],
            "rate_until": row["visited_at"] + RATING_WINDOW,
        }
    today = None
    if row["stars"] is not None:
        today = {"stars": row["stars"], "tags": list(row["tags"])}
    return {
        "station_id": station_id,
        "can_rate": reason is None,
        "reason": reason,
        "detail": None if reason is None else f"{reason}: {REFUSALS[reason]}",
        "visit": visit,
        "today": today,
    }


def _freshness(reporters: int) -> float:
    return 0.5**reporters


async def rating_summaries(
    conn: asyncpg.Connection, station_ids: list[int], *, at: datetime | None = None
) -> dict[int, RatingSummary]:
    """Rating count, mean, score, tag counts and freshness per station (for search)."""
    rows = await conn.fetch(SQL.rating_summaries, station_ids)
    moment = at or datetime.now().astimezone()
    reports = {
        r["station_id"]: r["reporters"]
        for r in await conn.fetch(
            SQL.recent_reports, station_ids, moment, REVIEW_WINDOW, sorted(REVIEW_TAGS)
        )
    }
    out: dict[int, RatingSummary] = {}
    for r in rows:
        counts: dict[str, int] = dict(r["tag_counts"])
        reporters = reports.get(r["station_id"], 0)
        out[r["station_id"]] = RatingSummary(
            station_id=r["station_id"],
            ratings=r["ratings"],
            mean_stars=float(r["mean_stars"]) if r["mean_stars"] is not None else None,
            score=float(r["score"] if r["score"] is not None else PRIOR_MEAN),
            tag_counts=counts,
            freshness=_freshness(reporters),
            reporters=reporters,
            top_tags=[t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][
                :TOP_TAGS
            ],
        )
    return out


async def review_queue(
    conn: asyncpg.Connection, *, station_ids: frozenset[int] | None, branch: str | None = None
) -> list[dict[str, Any]]:
    """Stations reported wrong by several members recently (``None``: all stations) of
    a union branch (``None``: all branches)."""
    rows = await conn.fetch(
        SQL.review_queue,
        sorted(station_ids) if station_ids is not None else None,
        REVIEW_WINDOW,
        sorted(REVIEW_TAGS),
        REVIEW_THRESHOLD,
        branch,
    )
    return [
        {**dict(r), "freshness": _freshness(r["reporters"]), "tags": dict(r["tags"] or {})}
        for r in rows
    ]


async def mark_reviewed(
    conn: asyncpg.Connection, *, station_id: int, actor: str, note: str | None
) -> dict[str, Any]:
    """Reports up to now stop counting (the operator checked and fixed the listing).

    Checking the listing verifies the station: its ``verified_at`` becomes the review's
    time, recorded in its history as a change by ``actor`` with the note as reason.
    """
    if note is not None and len(note) > 500:
        raise InvalidInput("note: at most 500 characters", field="note")
    reason = REVIEW_REASON + (f": {note}" if note else "")
    async with dbconn.transaction(conn, actor=actor, reason=reason):
        if await conn.fetchrow(SQL.station_exists, station_id) is None:
            raise StationNotFound(station_id)
        return dict(await conn.fetchrow(SQL.mark_reviewed, station_id, actor, note))
