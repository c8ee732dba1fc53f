"""Signing in: members exchange member number + phone for a bearer token; staff sign in
to the console with name and password and get a session cookie.

The staff session lives in an ``HttpOnly``, ``SameSite=Strict`` cookie, ``Secure`` when
the request came over TLS (the scheme uvicorn reports: behind a proxy it believes
``X-Forwarded-Proto`` only from ``STATIONS_API_TRUSTED_PROXIES``). Every answer that
starts a session names its CSRF token, which the console sends back in
``X-CSRF-Token`` with every change (:mod:`api.auth`).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.auth import SESSION_COOKIE, PrincipalDep, principal_cache
from api.deps import ConnDep, SettingsDep
from api.schemas import Input
from stations.errors import Unauthorized
from stations.people import branches, members, passwords, sessions, tokens
from stations.settings import Settings
from stations.sql import load

router = APIRouter(prefix="/v1/auth", tags=["auth"])
SQL = load("staff")


class MemberSignIn(Input):
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
    failed_attempts: int = Field(
        0, description="wrong sign-ins with this member number since its last sign-in"
    )
    last_failed_at: datetime | None = Field(None, description="when the last of them was")


class WhoAmI(BaseModel):
    role: str
    subject: str
    station_ids: list[int]


@router.post(
    "/member",
    status_code=201,
    response_model=TokenOut,
    summary="Member sign-in",
    description="Failed attempts are counted by member number and by client address; after "
    "a few, each next attempt waits longer (429 `too_many_attempts` with `Retry-After`), and "
    "many lock the number for a while. The answer says how many wrong attempts were made "
    "with the number since its last sign-in (`failed_attempts`, `last_failed_at`).",
)
async def member_sign_in(
    body: MemberSignIn, request: Request, conn: ConnDep, settings: SettingsDep
) -> TokenOut:
    session = await members.sign_in(
        conn,
        member_no=body.member_no,
        phone=body.phone,
        security=settings.security,
        address=_client_address(request),
        limits=settings.member_sign_in,
    )
    return TokenOut(
        token=session.token,
        expires_at=session.expires_at,
        member=MemberInfo(**session.member),
        failed_attempts=session.failed_attempts,
        last_failed_at=session.last_failed_at,
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


# --- staff in a browser ------------------------------------------------------------------


class StaffSignIn(Input):
    name: str = Field(min_length=1, max_length=100, description="the staff account's name")
    password: str = Field(min_length=1, max_length=passwords.MAX_LENGTH)


class PasswordLinkIn(Input):
    token: str = Field(max_length=100, description="from the one-time link's `token`")
    password: str = Field(max_length=passwords.MAX_LENGTH)


class PasswordChangeIn(Input):
    current_password: str = Field(max_length=passwords.MAX_LENGTH)
    new_password: str = Field(max_length=passwords.MAX_LENGTH)


class StationBrief(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    status: str


class BranchBrief(BaseModel):
    code: str | None = Field(description="district code prefix; null: the national root")
    name: str | None
    level: str


class StaffSession(BaseModel):
    name: str
    role: str
    branch: BranchBrief
    stations: list[StationBrief] = Field(description="the stations an operator runs")
    csrf_token: str = Field(description="send it as `X-CSRF-Token` with every change")
    expires_at: datetime = Field(description="the session ends then at the latest")
    idle_minutes: float = Field(description="the session ends after this long without use")


class PasswordSet(BaseModel):
    name: str
    role: str


def _set_cookie(response: Response, request: Request, started: sessions.Started) -> None:
    settings: Settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        started.token,
        max_age=int(settings.staff.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


async def _session_body(conn: asyncpg.Connection, request: Request, token: str) -> StaffSession:
    """What the console knows of a session: account, branch, stations, CSRF token."""
    settings: Settings = request.app.state.settings
    session = await sessions.resolve(
        conn, token=token, idle_minutes=settings.staff.session_idle_minutes
    )
    assert session is not None  # the caller holds a live session's token
    stations = await conn.fetch(SQL.stations_brief, sorted(session.station_ids))
    branch = session.branch
    named = await branches.get_branch(conn, branch) if branch is not None else None
    return StaffSession(
        name=session.name,
        role=session.role,
        branch=BranchBrief(
            code=branch, name=named["name"] if named else None, level=branches.level(branch)
        ),
        stations=[StationBrief(**dict(r)) for r in stations],
        csrf_token=sessions.csrf_token(token),
        expires_at=session.expires_at,
        idle_minutes=settings.staff.session_idle_minutes,
    )


async def _started(
    conn: asyncpg.Connection, request: Request, response: Response, started: sessions.Started
) -> StaffSession:
    _set_cookie(response, request, started)
    return await _session_body(conn, request, started.token)


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/staff",
    status_code=201,
    response_model=StaffSession,
    summary="Staff sign-in for the console: sets the session cookie",
    description="Failed attempts are counted by account name and by client address; after "
    "a few, each next attempt waits longer (429 `too_many_attempts` with `Retry-After`), "
    "and many lock the name for a while.",
)
async def staff_sign_in(
    body: StaffSignIn, request: Request, response: Response, conn: ConnDep, settings: SettingsDep
) -> StaffSession:
    started = await sessions.sign_in(
        conn,
        name=body.name,
        password=body.password,
        address=_client_address(request),
        staff=settings.staff,
        secret=settings.security.pii_hash_key.get_secret_value().encode(),
    )
    return await _started(conn, request, response, started)


@router.get(
    "/staff",
    response_model=StaffSession,
    summary="The console's session: who is signed in, their stations, the CSRF token",
)
async def staff_session(principal: PrincipalDep, request: Request, conn: ConnDep) -> StaffSession:
    if principal.session_token is None:
        raise Unauthorized("this is the console's session; sign in at /staff/")
    return await _session_body(conn, request, principal.session_token)


@router.post("/staff/logout", status_code=204, summary="Sign out of the console")
async def staff_sign_out(principal: PrincipalDep, conn: ConnDep) -> Response:
    response = Response(status_code=204)
    if principal.session_token is not None:
        await sessions.end(conn, token=principal.session_token)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post(
    "/staff/password",
    response_model=PasswordSet,
    summary="Set a password with a one-time link (`stations accounts invite`)",
    description="The link works once and expires; a password that breaks the rules "
    "(at least 10 characters, not the account's name) leaves it unused.",
)
async def set_password_with_link(body: PasswordLinkIn, conn: ConnDep) -> PasswordSet:
    account = await passwords.set_password_with_link(conn, token=body.token, password=body.password)
    return PasswordSet(name=account["name"], role=account["role"])


@router.put(
    "/staff/password",
    response_model=StaffSession,
    summary="Change your own password (console); every other session of yours ends",
)
async def change_password(
    body: PasswordChangeIn,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    conn: ConnDep,
    settings: SettingsDep,
) -> StaffSession:
    if principal.session_token is None:
        raise Unauthorized("change a password from the console's session; sign in at /staff/")
    name = principal.subject.split(":", 1)[1]
    started = await sessions.change_password(
        conn,
        name=name,
        current=body.current_password,
        new=body.new_password,
        address=_client_address(request),
        staff=settings.staff,
        secret=settings.security.pii_hash_key.get_secret_value().encode(),
    )
    return await _started(conn, request, response, started)
