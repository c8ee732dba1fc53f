"""Signing in: members exchange member number + phone for a bearer token."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.auth import PrincipalDep, principal_cache
from api.deps import ConnDep, SettingsDep
from stations.people import members, tokens

router = APIRouter(prefix="/v1/auth", tags=["auth"])


class MemberSignIn(BaseModel):
    member_no: str = Field(max_length=64, description="union member number (会员号)")
    phone: str = Field(max_length=32, description="the mobile number registered with the union")


class MemberInfo(BaseModel):
    member_no: str
    name: str | None
    occupation: str
    employer: str | None


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: datetime
    member: MemberInfo


class WhoAmI(BaseModel):
    role: str
    subject: str
    station_ids: list[int]


@router.post("/member", status_code=201, response_model=TokenOut, summary="Member sign-in")
async def member_sign_in(body: MemberSignIn, conn: ConnDep, settings: SettingsDep) -> TokenOut:
    session = await members.sign_in(
        conn, member_no=body.member_no, phone=body.phone, security=settings.security
    )
    return TokenOut(
        token=session.token, expires_at=session.expires_at, member=MemberInfo(**session.member)
    )


@router.get("/me", response_model=WhoAmI, summary="Who this token belongs to")
async def who_am_i(principal: PrincipalDep) -> WhoAmI:
    return WhoAmI(
        role=principal.role, subject=principal.subject, station_ids=sorted(principal.station_ids)
    )


@router.post("/logout", status_code=204, summary="Revoke the token this request carries")
async def logout(principal: PrincipalDep, conn: ConnDep, request: Request) -> Response:
    if principal.token_digest is not None:
        await tokens.revoke(conn, digest=principal.token_digest)
        principal_cache(request).forget(principal.token_digest)
    return Response(status_code=204)
