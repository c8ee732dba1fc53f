"""What the staff console reads besides the station, stock and claim endpoints.

A station's day at a glance (its operator's first screen), a preview of opening hours
in words before they are saved, and the accounts and union branches an administrator
reaches. Programs can use them as the console does: same tokens, same error codes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import AdminDep, PlannerDep, StationWriterDep, branch_of, ensure_station_access
from api.deps import ConnDep
from api.routes.ids import StationId
from api.routes.stock import StockOut
from stations.catalog import hours
from stations.catalog.hours_words import week_in_words
from stations.people import accounts, branches
from stations.visits import today

router = APIRouter(tags=["staff console"])


class StationGlance(BaseModel):
    id: int
    code: str
    name: str
    name_en: str | None
    kind: str
    status: str
    opening_hours: str | None
    time_zone: str
    country_code: str | None
    amenities: list[str]
    contact: str | None
    address: str | None
    version: int
    local_day: date


class OpenNow(BaseModel):
    is_open: bool | None = Field(description="open now: its hours say so and it is not paused")
    hours_say_open: bool | None = Field(description="what the hours alone say (null: unknown)")
    next_change: datetime | None = Field(description="when the hours change state next")


class ClaimCounts(BaseModel):
    granted: int
    waiting: int = Field(description="granted today, bottle not handed over yet")
    handed_over: int


class ReviewState(BaseModel):
    reporters: int
    last_report_at: datetime
    tags: dict[str, int]


class StationToday(BaseModel):
    station: StationGlance
    open: OpenNow
    hours_next_7_days: list[dict[str, Any]]
    stock: StockOut
    claims: ClaimCounts
    review: ReviewState | None = Field(description="members reported the listing as wrong")


@router.get(
    "/v1/stations/{station_id}/today",
    response_model=StationToday,
    summary="A station's day at a glance (its operators, administrators of its branch)",
)
async def station_today(
    station_id: StationId, principal: StationWriterDep, conn: ConnDep
) -> dict[str, Any]:
    await ensure_station_access(conn, principal, station_id)
    return await today.station_today(conn, station_id=station_id, at=datetime.now(UTC))


class HoursPreview(BaseModel):
    opening_hours: str | None = Field(description="the expression as it would be saved")
    open_now: bool | None
    next_change: datetime | None
    days: list[dict[str, Any]] = Field(description="the next 7 days in words (zh and en)")


@router.get(
    "/v1/opening-hours/preview",
    response_model=HoursPreview,
    summary="Opening hours in words for the next 7 days, without saving anything",
    description="Checked by the same OpenStreetMap `opening_hours` parser as station "
    "writes: an expression that does not parse is a 422 `invalid_parameter` naming "
    "`opening_hours`, with where the parser stopped.",
)
async def preview_hours(
    opening_hours: Annotated[str, Query(max_length=1000, examples=["Mo-Fr 08:30-18:00"])],
    time_zone: Annotated[str, Query(max_length=64)] = "Asia/Shanghai",
    country: Annotated[str | None, Query(pattern="^[A-Z]{2}$")] = "CN",
) -> HoursPreview:
    zone = hours.validate_time_zone(time_zone)
    text = hours.validate_opening_hours(opening_hours)
    now = datetime.now(UTC)
    state = hours.state_at(text, time_zone=zone, country=country, at=now)
    return HoursPreview(
        opening_hours=text,
        open_now=state.is_open,
        next_change=state.next_change,
        days=week_in_words(text, time_zone=zone, country=country, start=now),
    )


class AccountOut(BaseModel):
    id: int
    role: str
    name: str
    contact: str | None
    branch: str | None
    has_password: bool
    disabled_at: datetime | None
    created_at: datetime
    station_codes: list[str]


@router.get(
    "/v1/accounts",
    response_model=list[AccountOut],
    summary="Staff accounts of your union branch and the branches under it",
)
async def list_accounts(principal: AdminDep, conn: ConnDep) -> list[dict[str, Any]]:
    return await accounts.list_accounts(conn, branch=principal.branch)


class BranchOut(BaseModel):
    code: str
    name: str
    level: str
    parent: str | None
    created_at: datetime


@router.get(
    "/v1/branches",
    response_model=list[BranchOut],
    summary="Your union branch and the branches under it",
)
async def list_branches(principal: PlannerDep, conn: ConnDep) -> list[dict[str, Any]]:
    return await branches.list_branches(conn, under=branch_of(principal))
