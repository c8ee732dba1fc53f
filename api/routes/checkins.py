"""Check-ins: a scan at any station, recorded as a visit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.auth import MemberDep
from api.deps import ConnDep
from api.routes.claims import StationRef
from api.schemas import Input
from stations.settings import Settings
from stations.visits import checkins

router = APIRouter(prefix="/v1/checkins", tags=["checkins"])


class CheckinIn(Input):
    code: str = Field(max_length=500, description="the text of the scanned QR code (a URL)")
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    presence_code: str | None = Field(
        None,
        max_length=20,
        description="the six-digit rotating code the station's screen shows: a verified "
        "visit, whose rating's reports that the listing is wrong reach the review queue. "
        "Needed while a campaign requiring presence runs at the station "
        "(`presence_code_required`); wrong or two 30-second steps old: "
        "`presence_code_invalid`. Left out, the `p` of a scanned presence QR code is used.",
    )


class CheckinOut(BaseModel):
    checkin_id: int
    station: StationRef
    local_day: date
    checked_in_at: datetime
    presence_verified: bool = Field(description="the visit carried the station's valid code")


@router.post(
    "",
    status_code=201,
    response_model=CheckinOut,
    summary="Check in at a station",
    responses={
        403: {
            "description": "member_suspended, outside_geofence, presence_code_required, "
            "presence_code_invalid"
        }
    },
)
async def check_in(
    body: CheckinIn, principal: MemberDep, conn: ConnDep, request: Request
) -> dict[str, Any]:
    assert principal.member_id is not None
    settings: Settings = request.app.state.settings
    return await checkins.check_in(
        conn,
        member_id=principal.member_id,
        code=body.code,
        lat=body.lat,
        lng=body.lng,
        crs=body.crs,
        security=settings.security,
        visit_resolution=settings.h3.visit_location,
        presence_code=body.presence_code,
    )
