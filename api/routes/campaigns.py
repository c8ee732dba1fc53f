"""Water campaigns: administrators create and change them; staff and planners read them.

Administrators and planners reach the campaigns of their union branch and the branches
under it; operators read the campaigns their stations take part in.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from api.auth import AdminDep, Principal, branch_of, operated_stations, require_roles
from api.deps import ConnDep
from api.routes.ids import CampaignId, Id
from api.schemas import Input
from stations import tables
from stations.errors import Forbidden
from stations.visits import campaigns, reports

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])
choices_router = APIRouter(tags=["campaigns"])

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
    presence_required: bool = Field(
        False,
        description="claims and check-ins at its stations need the rotating presence code the "
        "station's screen shows (`GET /v1/stations/{id}/presence`); without one: "
        "`presence_code_required`",
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
    presence_required: bool | None = Field(
        None,
        description="claims and check-ins at its stations need the rotating presence code the "
        "station's screen shows (`GET /v1/stations/{id}/presence`); without one: "
        "`presence_code_required`",
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
    presence_required: bool = Field(
        description="claims and check-ins need the station's rotating presence code"
    )
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
        presence_required=body.presence_required,
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


@router.get(
    "/{campaign_id}/stations",
    response_model=list[int],
    summary="The stations taking part (administrators of its branch)",
)
async def list_stations(campaign_id: CampaignId, principal: AdminDep, conn: ConnDep) -> list[int]:
    return await campaigns.station_ids(conn, campaign_id=campaign_id, branch=branch_of(principal))


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


# --- the report -------------------------------------------------------------------------


class ReportCampaign(BaseModel):
    id: int
    name: str
    starts_on: date
    ends_on: date
    branch: str | None
    status: str


class ReportTotals(BaseModel):
    claims: int = Field(description="granted claims in the range: one bottle each")
    handed_over: int = Field(description="of those, bottles whose hand-over staff confirmed")
    members: int = Field(description="distinct members who claimed in the range")
    prizes: int = Field(description="prizes won in the range")
    stations: int = Field(description="stations taking part now")
    stations_with_claims: int
    claims_today: int = Field(description="claims of each station's local today")
    handed_over_today: int
    members_today: int


class ReportPrize(BaseModel):
    id: int
    name: str
    total: int
    remaining: int
    awarded: int = Field(description="awarded since the campaign began")
    awarded_in_range: int


class ReportStockOut(BaseModel):
    station_id: int
    code: str
    name: str
    district: str | None
    days_out: int
    last_day_out: date
    out_today: bool


class ReportSilent(BaseModel):
    station_id: int
    code: str
    name: str
    district: str | None
    last_claim_day: date | None = Field(description="null: no claim in the campaign yet")
    days_silent: int


class ReportRatings(BaseModel):
    station_id: int
    code: str
    name: str
    district: str | None
    ratings: int = Field(description="members' ratings on days of the range")
    mean_stars: float
    no_water: int = Field(description="ratings reporting no water")
    closed_when_listed_open: int = Field(
        description="ratings reporting it closed while listed open"
    )


class CampaignReport(BaseModel):
    campaign: ReportCampaign
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    silent_days: int
    totals: ReportTotals
    groups: dict[str, list[dict[str, Any]]] = Field(
        description="each group asked for: its rows with claims, handed_over and members "
        "(day: `day`; station: `station_id`, `code`, `name`, `district`, `district_code`, "
        "`last_claim_day`; district: `district_code`, `district`, `stations`; occupation: "
        "`occupation`, `label_zh`, `label_en`)"
    )
    prizes: list[ReportPrize]
    stock_out: list[ReportStockOut]
    silent: list[ReportSilent]
    ratings: list[ReportRatings] = Field(
        description="ratings of the campaign's stations in the range, most reports first"
    )


_REPORT_FORMATS = {"json": "application/json", "csv": "text/csv", "xlsx": tables.XLSX_MEDIA_TYPE}


def _report_format(request: Request, format: str | None) -> str:
    if format is not None:
        return format
    accept = request.headers.get("accept", "")
    for name in ("xlsx", "csv"):
        if _REPORT_FORMATS[name] in accept:
            return name
    return "json"


@router.get(
    "/{campaign_id}/report",
    response_model=CampaignReport,
    response_model_by_alias=True,
    summary="A campaign's report: bottles, hand-overs and members reached, per group",
    description="Administrators of the branch running the campaign (or above it). Claims "
    "are counted by their station's local day, `from` to `to` included (by default the "
    "campaign's first day up to its last or today). `group`: one or more of day, station, "
    "district, occupation, comma-separated. JSON by default; `format=csv` (or `Accept: "
    "text/csv`) gives the group tables, `format=xlsx` (or the XLSX media type) a workbook "
    "with the summary, the group tables, prizes, stations out of stock and silent "
    "stations. Cells that a spreadsheet would take for a formula are written with a "
    "leading apostrophe.",
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                tables.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
async def campaign_report(
    campaign_id: CampaignId,
    request: Request,
    principal: AdminDep,
    conn: ConnDep,
    group: Annotated[
        str,
        Query(
            max_length=100,
            description="day, station, district, occupation (comma-separated)",
            examples=["day,occupation"],
        ),
    ] = "day",
    from_: Annotated[date | None, Query(alias="from", description="first local day")] = None,
    to: Annotated[date | None, Query(description="last local day")] = None,
    silent_days: Annotated[
        int, Query(ge=1, le=365, description="list stations without a claim this many days")
    ] = reports.DEFAULT_SILENT_DAYS,
    format: Annotated[Literal["json", "csv", "xlsx"] | None, Query()] = None,
    lang: Annotated[Literal["zh", "en"], Query(description="headers of CSV and XLSX")] = "zh",
) -> Any:
    report = await reports.campaign_report(
        conn,
        campaign_id=campaign_id,
        groups=reports.parse_groups(group),
        from_day=from_,
        to_day=to,
        silent_days=silent_days,
        branch=branch_of(principal),
    )
    kind = _report_format(request, format)
    if kind == "json":
        return report
    name = f"campaign-{campaign_id}-report-{report['from']}-{report['to']}.{kind}"
    if kind == "csv":
        body = tables.csv_bytes(reports.report_tables(report, lang=lang, summary=False))
        media = tables.CSV_MEDIA_TYPE
    else:
        body = await asyncio.to_thread(tables.xlsx_bytes, reports.report_tables(report, lang=lang))
        media = tables.XLSX_MEDIA_TYPE
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


# --- choosing stations -------------------------------------------------------------------


class StationChoice(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    status: str


class DistrictChoice(BaseModel):
    district_code: str | None
    district: str | None
    stations: list[StationChoice]


class StationChoices(BaseModel):
    districts: list[DistrictChoice]
    truncated: bool = Field(
        description=f"more than {campaigns.CHOICES_MAX} stations: use all_water_stations"
    )


@choices_router.get(
    "/v1/campaign-stations",
    response_model=StationChoices,
    summary="Stations a campaign of your union branch can take part with, by district",
)
async def station_choices(principal: AdminDep, conn: ConnDep) -> dict[str, Any]:
    return await campaigns.station_choices(conn, branch=branch_of(principal))
