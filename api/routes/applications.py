"""Membership applications (扫码入会): riders apply from the rider page without an
account; administrators of the branch that owns the district decide in the console.

``POST /v1/applications`` and ``POST /v1/applications/lookup`` are anonymous and
counted per client address (429 ``too_many_attempts``); the list and the decisions need
an administrator of a branch the district is under (403 ``outside_branch`` otherwise).
See :mod:`stations.people.applications` for what is kept and why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from api.auth import AdminDep
from api.deps import ConnDep, SettingsDep
from api.routes.auth import _client_address
from api.routes.ids import MAX_ID
from api.schemas import Input
from stations.errors import InvalidInput
from stations.people import applications

router = APIRouter(prefix="/v1/applications", tags=["membership applications"])
ApplicationId = Annotated[int, Path(ge=1, le=MAX_ID, description="the application's id")]


class ApplicationIn(Input):
    name: str = Field(max_length=200, description="as on the applicant's ID card")
    phone: str = Field(max_length=40, description="mainland mobile number")
    occupation: str = Field(max_length=40, description="courier, food_delivery, …")
    employer: str | None = Field(default=None, max_length=400, description="platform or employer")
    district_code: str = Field(max_length=20, description="6-digit district code (GB/T 2260)")
    consent: bool = Field(description="the applicant agreed to the consent text")


class ApplicationSent(BaseModel):
    reference: str = Field(description="to look the application up, with the phone")
    status: str
    district_code: str
    merged: bool = Field(description="an open application of this phone was updated")
    submissions: int
    created_at: datetime
    updated_at: datetime


@router.post(
    "",
    status_code=201,
    response_model=ApplicationSent,
    summary="Apply to join the union (anonymous; counted per client address)",
    description="One open application per phone: a second one updates it (`merged`). "
    "Text with control characters (NUL …) is refused with 422 naming the field; "
    "`consent` must be true.",
)
async def submit_application(
    body: ApplicationIn, request: Request, conn: ConnDep, settings: SettingsDep
) -> dict[str, Any]:
    if body.consent is not True:
        raise InvalidInput(
            "consent: the application needs the applicant's consent to what is kept",
            field="consent",
        )
    application = applications.parse(
        name=body.name,
        phone=body.phone,
        occupation=body.occupation,
        employer=body.employer,
        district_code=body.district_code,
    )
    return await applications.submit(
        conn,
        application=application,
        address=_client_address(request),
        security=settings.security,
    )


class LookupIn(Input):
    reference: str = Field(max_length=40)
    phone: str = Field(max_length=40)


class ApplicationState(BaseModel):
    reference: str
    status: Literal["open", "approved", "declined"]
    district_code: str
    member_no: str | None = Field(description="once approved: sign in with it and the phone")
    decline_reason: str | None
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None


@router.post(
    "/lookup",
    response_model=ApplicationState,
    summary="An applicant looks their application up (reference and phone)",
)
async def look_up_application(
    body: LookupIn, request: Request, conn: ConnDep, settings: SettingsDep
) -> dict[str, Any]:
    return await applications.look_up(
        conn,
        reference=body.reference,
        phone=body.phone,
        address=_client_address(request),
        security=settings.security,
    )


class DistrictOut(BaseModel):
    district: str
    district_code: str
    branch_name: str | None


@router.get(
    "/districts",
    response_model=list[DistrictOut],
    summary="The districts a rider may apply in, with the union branch of each",
)
async def application_districts(conn: ConnDep) -> list[dict[str, Any]]:
    return await applications.districts(conn)


class ApplicationOut(BaseModel):
    id: int
    reference: str
    callback_phone: str | None = Field(description="only while open")
    name: str
    occupation: str
    employer: str | None
    district_code: str
    branch_name: str | None
    status: str
    decline_reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    member_no: str | None
    submissions: int
    created_at: datetime
    updated_at: datetime


@router.get(
    "",
    response_model=list[ApplicationOut],
    summary="Applications of your branch's districts (open ones first)",
)
async def list_applications(
    principal: AdminDep,
    conn: ConnDep,
    status: Annotated[str | None, Query(description="open, approved or declined")] = None,
) -> list[dict[str, Any]]:
    return await applications.list_applications(conn, branch=principal.branch, status=status)


class Decision(BaseModel):
    id: int
    status: str
    member_no: str | None = None
    decline_reason: str | None = None


@router.post(
    "/{application_id}/approve",
    response_model=Decision,
    summary="Approve: the applicant becomes a member and may sign in at once",
)
async def approve_application(
    application_id: ApplicationId, principal: AdminDep, conn: ConnDep, settings: SettingsDep
) -> dict[str, Any]:
    return await applications.approve(
        conn,
        application_id=application_id,
        branch=principal.branch,
        actor=principal.actor,
        security=settings.security,
    )


class DeclineIn(Input):
    multiline_fields = frozenset({"reason"})

    reason: str = Field(max_length=1000, description="the applicant sees it")


@router.post(
    "/{application_id}/decline",
    response_model=Decision,
    summary="Decline with a reason the applicant sees",
)
async def decline_application(
    application_id: ApplicationId, body: DeclineIn, principal: AdminDep, conn: ConnDep
) -> dict[str, Any]:
    return await applications.decline(
        conn,
        application_id=application_id,
        branch=principal.branch,
        reason=body.reason,
        actor=principal.actor,
    )
