"""Today's water stock at a station: read, set, top up (its operator or an administrator)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import StationWriterDep, ensure_station_access
from api.deps import ConnDep
from api.routes.ids import StationId
from stations.visits import stock

router = APIRouter(prefix="/v1/stations", tags=["stock"])


class StockOut(BaseModel):
    station_id: int
    local_day: date
    allocated: int
    remaining: int
    handed_out: int
    updated_at: datetime | None


class AllocationIn(BaseModel):
    allocated: int = Field(ge=0, le=1_000_000, description="bottles for the day")
    day: date | None = Field(None, description="the station's local date; default today")


class TopUpIn(BaseModel):
    count: int = Field(ge=1, le=1_000_000, description="bottles to add")
    day: date | None = None


@router.get("/{station_id}/stock", response_model=StockOut, summary="The day's water stock")
async def get_stock(
    station_id: StationId,
    principal: StationWriterDep,
    conn: ConnDep,
    day: Annotated[date | None, Query(description="default: the station's today")] = None,
) -> dict[str, Any]:
    ensure_station_access(principal, station_id)
    return await stock.get_stock(conn, station_id=station_id, day=day)


@router.put("/{station_id}/stock", response_model=StockOut, summary="Set the day's allocation")
async def set_stock(
    station_id: StationId, body: AllocationIn, principal: StationWriterDep, conn: ConnDep
) -> dict[str, Any]:
    ensure_station_access(principal, station_id)
    return await stock.set_allocation(
        conn, station_id=station_id, allocated=body.allocated, day=body.day
    )


@router.post("/{station_id}/stock/top-up", response_model=StockOut, summary="Add bottles")
async def top_up(
    station_id: StationId, body: TopUpIn, principal: StationWriterDep, conn: ConnDep
) -> dict[str, Any]:
    ensure_station_access(principal, station_id)
    return await stock.top_up(conn, station_id=station_id, count=body.count, day=body.day)
