"""Water campaigns: administrators create and change them; staff and planners read them.

Administrators and planners reach the campaigns of their union branch and the branches
under it; operators read the campaigns their stations take part in.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.auth import AdminDep, Principal, branch_of, operated_stations, require_roles
from api.deps import ConnDep
from api.routes.ids import CampaignId, Id
from api.schemas import Input
from stations.errors import Forbidden
from stations.visits import campaigns

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])

_readers = Depends(require_roles("admin", "operator", "planner"))


class PrizeIn(Input):
    name: str = Field(min_length=1, max_length=100, examples=["夏日清凉礼包"])
    total: int = Field(ge=1, le=10_000_000)
    probability: float = Field(gt=0, le=1, description="chance per granted claim")


class CampaignIn(Input):
    name: str = Field(min_length=1, max_length=200, examples=["2025 夏季送清凉"])
    starts_on: date
    ends_on: date
    daily_start: str = Field("00:00", description="local time HH:MM")
    daily_end: str = Field("24:00", description="local time HH:MM (24:00 = midnight)")
    daily_quota: int = Field(campaigns.DEFAULT_QUOTA, ge=1, le=20)
    geofence_m: int = Field(campaigns.DEFAULT_GEOFENCE_M, ge=10, le=5000)
    station_ids: list[Id] = Field(default_factory=list, max_length=100_000)
    all_water_stations: bool = Field(
        False, description="add every water point and every station with drinking water"
    )
    prizes: list[PrizeIn] = Field(default_factory=list, max_length=20)
    daily_allocation: int | None = Field(
        None,
        ge=0,
        le=1_000_000,
        description="default bottles per station and local day, when nobody sets the day",
    )


class CampaignPatch(Input):
    name: str | None = Field(None, min_length=1, max_length=200)
    starts_on: date | None = None
    ends_on: date | None = None
    daily_start: str | None = None
    daily_end: str | None = None
    daily_quota: int | None = Field(None, ge=1, le=20)
    geofence_m: int | None = Field(None, ge=10, le=5000)
    status: Literal["active", "cancelled"] | None = None
    daily_allocation: int | None = Field(
        None, ge=0, le=1_000_000, description="null removes the default"
    )


class StationsChange(Input):
    add: list[Id] = Field(default_factory=list, max_length=100_000)
    remove: list[Id] = Field(default_factory=list, max_length=100_000)


class PrizeOut(BaseModel):
    id: int
    name: str
    total: int
    remaining: int
    probability: float


class CampaignOut(BaseModel):
    id: int
    name: str
    starts_on: date
    ends_on: date
    daily_start: str
    daily_end: str
    daily_quota: int
    geofence_m: int
    daily_allocation: int | None
    branch: str | None = Field(description="the union branch running it; null: national")
    status: str
    stations: int
    prizes: list[PrizeOut]
    created_at: datetime
    updated_at: datetime


@router.post("", status_code=201, response_model=CampaignOut, summary="Create a campaign")
async def create_campaign(body: CampaignIn, principal: AdminDep, conn: ConnDep) -> dict[str, Any]:
    return await campaigns.create_campaign(
        conn,
        name=body.name,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        daily_start=body.daily_start,
        daily_end=body.daily_end,
        daily_quota=body.daily_quota,
        geofence_m=body.geofence_m,
        station_ids=body.station_ids,
        all_water_stations=body.all_water_stations,
        prizes=[campaigns.PrizeSpec(p.name, p.total, p.probability) for p in body.prizes],
        daily_allocation=body.daily_allocation,
        branch=branch_of(principal),
    )


@router.get("", response_model=list[CampaignOut], summary="The campaigns you reach, newest first")
async def list_campaigns(conn: ConnDep, principal: Principal = _readers) -> list[dict[str, Any]]:
    return await campaigns.list_campaigns(
        conn, branch=branch_of(principal), station_ids=operated_stations(principal)
    )


@router.get("/{campaign_id}", response_model=CampaignOut, summary="One campaign")
async def get_campaign(
    campaign_id: CampaignId, conn: ConnDep, principal: Principal = _readers
) -> dict[str, Any]:
    if principal.role == "operator":
        ours = await campaigns.list_campaigns(conn, station_ids=principal.station_ids)
        found = next((c for c in ours if c["id"] == campaign_id), None)
        if found is None:
            raise Forbidden(
                f"none of your stations takes part in campaign {campaign_id}",
                code="forbidden",
            )
        return found
    return await campaigns.get_campaign(conn, campaign_id=campaign_id, branch=branch_of(principal))


@router.patch("/{campaign_id}", response_model=CampaignOut, summary="Change a campaign")
async def update_campaign(
    campaign_id: CampaignId, body: CampaignPatch, principal: AdminDep, conn: ConnDep
) -> dict[str, Any]:
    return await campaigns.update_campaign(
        conn,
        campaign_id=campaign_id,
        branch=branch_of(principal),
        **body.model_dump(exclude_unset=True),
    )


@router.post(
    "/{campaign_id}/stations",
    response_model=list[int],
    summary="Add or remove participating stations; returns the stations taking part",
)
async def change_stations(
    campaign_id: CampaignId, body: StationsChange, principal: AdminDep, conn: ConnDep
) -> list[int]:
    return await campaigns.set_stations(
        conn,
        campaign_id=campaign_id,
        add=body.add,
        remove=body.remove,
        branch=branch_of(principal),
    )
