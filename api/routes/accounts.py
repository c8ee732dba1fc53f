"""Staff accounts for administrators in the console: create, disable, one-time links.

The list is ``GET /v1/accounts`` (:mod:`api.routes.staff`). Here an administrator creates
an account under their union branch (an operator with stations of the branch, or a
planner or administrator of the branch or one below), disables one (its tokens and
sessions end at once), and gets a one-time link with which its owner sets their
password — the link ``stations accounts invite`` prints, from the same domain function.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from api.auth import AdminDep, branch_of
from api.deps import ConnDep
from api.routes.ids import MAX_ID, Id
from api.routes.staff import AccountOut
from api.schemas import Input
from stations.errors import InvalidInput
from stations.people import accounts, passwords

router = APIRouter(prefix="/v1/accounts", tags=["staff console"])

AccountId = Annotated[int, Path(ge=1, le=MAX_ID, description="the account's id")]


class AccountIn(Input):
    name: str = Field(min_length=1, max_length=100, examples=["人民路派水点"])
    role: accounts.StaffRole
    contact: str | None = Field(None, max_length=200)
    station_ids: list[Id] = Field(default_factory=list, max_length=1000)
    station_codes: list[str] = Field(
        default_factory=list, max_length=1000, description="or the stations' poster codes"
    )
    branch: str | None = Field(
        None, max_length=6, description="planners and administrators: default your branch"
    )


class PasswordLink(BaseModel):
    path: str = Field(description="the console's set-password page with the token")
    url: str = Field(description="the same under STATIONS_API_PUBLIC_BASE_URL")
    expires_at: datetime


async def _view(conn: Any, account_id: int, branch: str | None) -> dict[str, Any]:
    listed = await accounts.list_accounts(conn, branch=branch)
    return next(a for a in listed if a["id"] == account_id)


@router.post("", status_code=201, response_model=AccountOut, summary="Create a staff account")
async def create_account(body: AccountIn, principal: AdminDep, conn: ConnDep) -> dict[str, Any]:
    branch = branch_of(principal)
    codes = [c for c in body.station_codes if c.strip()]
    if any(len(c) > 20 for c in codes):
        raise InvalidInput(
            "station_codes: a station code has at most 20 characters", field="station_codes"
        )
    ids = list(body.station_ids) + (
        await accounts.station_ids_for_codes(conn, codes) if codes else []
    )
    account = await accounts.add_branch_account(
        conn,
        by_branch=branch,
        role=body.role,
        name=body.name,
        contact=body.contact,
        station_ids=ids,
        branch=body.branch,
    )
    return await _view(conn, account["id"], branch)


@router.post(
    "/{account_id}/disable",
    response_model=AccountOut,
    summary="Disable an account: its tokens, sessions and links stop working at once",
)
async def disable(account_id: AccountId, principal: AdminDep, conn: ConnDep) -> dict[str, Any]:
    branch = branch_of(principal)
    row = await accounts.reachable_account(conn, account_id=account_id, branch=branch)
    if principal.account_id == account_id:
        raise InvalidInput(
            "you cannot disable your own account; ask another administrator", code="invalid_input"
        )
    await accounts.disable_account(conn, name=row["name"])
    return await _view(conn, account_id, branch)


@router.post(
    "/{account_id}/password-link",
    status_code=201,
    response_model=PasswordLink,
    summary="A one-time link to set the account's password (replaces an unused one)",
)
async def password_link(
    account_id: AccountId, request: Request, principal: AdminDep, conn: ConnDep
) -> dict[str, Any]:
    settings = request.app.state.settings
    row = await accounts.reachable_account(conn, account_id=account_id, branch=branch_of(principal))
    token, expires_at = await passwords.create_link(
        conn, name=row["name"], hours=settings.staff.link_hours
    )
    url = passwords.link_url(settings.api.public_base_url, token)
    return {"path": url[url.index("/staff/") :], "url": url, "expires_at": expires_at}
