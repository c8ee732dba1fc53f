"""Today's water stock at a station: read, set, top up (its operator or an administrator)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, Field

from api.auth import StationWriterDep, ensure_station_access
from api.deps import ConnDep
from api.routes.ids import StationId
from api.schemas import Input
from stations.visits import stock
from stations.visits.claims import validate_idempotency_key

router = APIRouter(prefix="/v1/stations", tags=["stock"])


class CampaignDefault(BaseModel):
    id: int
    name: str
    daily_allocation: int | None


class StockOut(BaseModel):
    station_id: int
    local_day: date
    allocated: int
    remaining: int
    handed_out: int
    updated_at: datetime | None
    from_default: bool = Field(
        description="nobody set this day yet: the numbers are its default allocation"
    )
    default_allocation: int | None = Field(
        description="what a day nobody sets starts with: the station's own default, else "
        "its campaign's (null: none; claims are refused out_of_stock until stock is set)"
    )
    station_default: int | None = Field(description="the station's own default, if any")
    campaign: CampaignDefault | None = Field(description="the campaign running that day")
    replayed: bool = Field(
        default=False,
        description="a top-up sent again with its Idempotency-Key: nothing was added",
    )


class AllocationIn(Input):
    allocated: int = Field(ge=0, le=1_000_000, description="bottles for the day")
    day: date | None = Field(None, description="the station's local date; default today")


class DefaultIn(Input):
    daily_allocation: int | None = Field(
        ge=0,
        le=1_000_000,
        description="bottles each local day nobody sets; null to follow the campaign's default",
    )


class TopUpIn(Input):
    count: int = Field(ge=1, le=1_000_000, description="bottles to add")
    day: date | None = None


@router.get("/{station_id}/stock", response_model=StockOut, summary="The day's water stock")
async def get_stock(
    station_id: StationId,
    principal: StationWriterDep,
    conn: ConnDep,
    day: Annotated[date | None, Query(description="default: the station's today")] = None,
) -> dict[str, Any]:
    await ensure_station_access(conn, principal, station_id)
    return await stock.get_stock(conn, station_id=station_id, day=day)


@router.put("/{station_id}/stock", response_model=StockOut, summary="Set the day's allocation")
async def set_stock(
    station_id: StationId, body: AllocationIn, principal: StationWriterDep, conn: ConnDep
) -> dict[str, Any]:
    await ensure_station_access(conn, principal, station_id)
    return await stock.set_allocation(
        conn, station_id=station_id, allocated=body.allocated, day=body.day
    )


@router.post("/{station_id}/stock/top-up", response_model=StockOut, summary="Add bottles")
async def top_up(
    station_id: StationId,
    body: TopUpIn,
    principal: StationWriterDep,
    conn: ConnDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="a new unique value (e.g. a UUID) per top-up, the same on a retry: "
            "the retry adds nothing",
        ),
    ] = None,
) -> dict[str, Any]:
    await ensure_station_access(conn, principal, station_id)
    if idempotency_key is not None:
        validate_idempotency_key(idempotency_key)
    return await stock.top_up(
        conn,
        station_id=station_id,
        count=body.count,
        day=body.day,
        idempotency_key=idempotency_key,
    )


@router.put(
    "/{station_id}/stock/default",
    response_model=StockOut,
    summary="Set the station's default daily allocation (overrides its campaign's)",
    description="Each local day that nobody sets starts with this many bottles, on days a "
    "campaign runs at the station: the day's first claim creates the day's stock from it. "
    "`null` follows the campaign's default again.",
)
async def set_default(
    station_id: StationId, body: DefaultIn, principal: StationWriterDep, conn: ConnDep
) -> dict[str, Any]:
    await ensure_station_access(conn, principal, station_id)
    return await stock.set_default(
        conn,
        station_id=station_id,
        daily_allocation=body.daily_allocation,
        actor=principal.subject,
    )
