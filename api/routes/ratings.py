"""One-tap ratings after a visit, and a station's rating summary."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.auth import MemberDep
from api.deps import ConnDep
from api.routes.ids import StationId
from api.schemas import Input
from stations.errors import StationNotFound
from stations.visits import ratings

router = APIRouter(prefix="/v1/stations", tags=["ratings"])


class RatingIn(Input):
    multiline_fields = frozenset({"comment"})

    stars: int = Field(ge=1, le=5)
    tags: list[str] = Field(default_factory=list, max_length=20)
    comment: str | None = Field(None, max_length=2000, description="at most 280 characters")


class RatingOut(BaseModel):
    id: int
    station_id: int
    local_day: date
    stars: int
    tags: list[str]
    comment: str | None
    visit: str
    visit_verified: bool = Field(
        description="a granted claim or a check-in with the station's presence code in the "
        "last 24 hours: only then do `closed_when_listed_open` and `no_water` count toward "
        "the review queue"
    )
    created_at: datetime
    updated_at: datetime


class SummaryOut(BaseModel):
    ratings: int
    mean_stars: float | None
    score: float = Field(description="Bayesian average, pulled towards 3.5 while ratings are few")
    tag_counts: dict[str, int]


class RatedOut(BaseModel):
    replaced: bool = Field(description="true when it replaced today's earlier rating")
    rating: RatingOut
    summary: SummaryOut


class StationRatingOut(BaseModel):
    station_id: int
    ratings: int
    mean_stars: float | None
    score: float
    tag_counts: dict[str, int]
    top_tags: list[str]
    freshness: float
    reporters: int


class VisitOut(BaseModel):
    kind: Literal["claim", "checkin"]
    at: datetime
    rate_until: datetime = Field(description="ratings are accepted until then")


class TodayRating(BaseModel):
    stars: int
    tags: list[str]


class EligibilityOut(BaseModel):
    station_id: int
    can_rate: bool
    reason: Literal["no_recent_visit", "member_suspended"] | None = Field(
        description="why not, as the refusal of a rating would name it"
    )
    detail: str | None = Field(description="the refusal a rating would get now")
    visit: VisitOut | None = Field(description="the latest visit that allows rating")
    today: TodayRating | None = Field(description="today's rating (rating again replaces it)")


@router.get(
    "/{station_id}/ratings/eligibility",
    response_model=EligibilityOut,
    summary="Whether the signed-in member may rate the station now, and why not",
)
async def rating_eligibility(
    station_id: StationId, principal: MemberDep, conn: ConnDep
) -> dict[str, Any]:
    assert principal.member_id is not None
    return await ratings.rating_eligibility(
        conn, member_id=principal.member_id, station_id=station_id
    )


@router.post(
    "/{station_id}/ratings",
    status_code=201,
    response_model=RatedOut,
    summary="Rate a station visited in the last 24 hours (again today: replaces)",
)
async def rate_station(
    station_id: StationId, body: RatingIn, principal: MemberDep, conn: ConnDep, request: Request
) -> dict[str, Any]:
    assert principal.member_id is not None
    rated = await ratings.rate(
        conn,
        member_id=principal.member_id,
        station_id=station_id,
        stars=body.stars,
        tags=body.tags,
        comment=body.comment,
    )
    # The rater's next search shows the new rating (other workers poll within seconds).
    await request.app.state.search.refresh_live(conn, [station_id])
    return rated


@router.get(
    "/{station_id}/ratings",
    response_model=StationRatingOut,
    summary="A station's rating summary and freshness",
)
async def station_rating(station_id: StationId, conn: ConnDep) -> StationRatingOut:
    found = await ratings.rating_summaries(conn, [station_id])
    if station_id not in found:
        raise StationNotFound(station_id)
    s = found[station_id]
    return StationRatingOut(**s.__dict__)
