"""The review queue: stations several members reported as closed or without water."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import StationWriterDep, branch_of, ensure_station_access, operated_stations
from api.deps import ConnDep, IndexDep
from api.routes.ids import StationId
from api.schemas import Input
from stations.visits import ratings

router = APIRouter(prefix="/v1/review-queue", tags=["review"])


class ReviewItem(BaseModel):
    station_id: int
    code: str
    name: str
    status: str
    operator: str | None
    reporters: int = Field(description="distinct members reporting it within the window")
    last_report_at: datetime
    tags: dict[str, int]
    freshness: float


class ReviewedIn(Input):
    multiline_fields = frozenset({"note"})

    note: str | None = Field(None, max_length=500)


class ReviewedOut(BaseModel):
    station_id: int
    reviewed_at: datetime
    reviewed_by: str
    note: str | None


@router.get(
    "",
    response_model=list[ReviewItem],
    summary="Stations to check: your stations (operators) or all (administrators)",
)
async def review_queue(principal: StationWriterDep, conn: ConnDep) -> list[dict[str, Any]]:
    return await ratings.review_queue(
        conn, station_ids=operated_stations(principal), branch=branch_of(principal)
    )


@router.post(
    "/{station_id}/reviewed",
    response_model=ReviewedOut,
    summary="The listing was checked: reports so far stop counting",
    description="The body (a `note`) is optional. The station counts as verified at the "
    "review's time (`verified_at`, recorded in its history with the note as reason).",
)
async def mark_reviewed(
    station_id: StationId,
    principal: StationWriterDep,
    conn: ConnDep,
    service: IndexDep,
    body: ReviewedIn | None = None,
) -> dict[str, Any]:
    await ensure_station_access(conn, principal, station_id)
    reviewed = await ratings.mark_reviewed(
        conn, station_id=station_id, actor=principal.subject, note=body.note if body else None
    )
    await service.refresh(conn, [station_id])  # searches show it verified at once
    return reviewed
