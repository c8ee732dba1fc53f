"""Claiming water by scanning a station's QR code; hand-over by the station's staff."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field

from api.auth import (
    ClaimantTokenDep,
    PrincipalDep,
    StationWriterDep,
    branch_of,
    ensure_station_access,
    operated_stations,
)
from api.deps import ConnDep
from api.responses import JSONResponse
from api.routes.ids import StationQuery
from api.schemas import Input
from stations.errors import Forbidden, InvalidInput
from stations.settings import Settings
from stations.visits import claims, qr

router = APIRouter(prefix="/v1/claims", tags=["claims"])


class ClaimIn(Input):
    code: str = Field(max_length=500, description="the text of the scanned QR code (a URL)")
    lat: float = Field(ge=-90, le=90, description="the member's latitude")
    lng: float = Field(ge=-180, le=180, description="the member's longitude")
    crs: Literal["wgs84", "gcj02", "bd09"] = Field(
        "wgs84", description="gcj02 for Amap/Tencent/WeChat positions, bd09 for Baidu"
    )
    presence_code: str | None = Field(
        None,
        max_length=20,
        description="the six-digit rotating code the station's screen shows (proof of "
        "presence; blanks are ignored). Needed when the campaign requires presence "
        "(`presence_code_required`); a code of another station or two 30-second steps old "
        "is `presence_code_invalid`. Left out, the `p` parameter of a scanned presence QR "
        "code (`code`) is used.",
    )


class HandoverIn(Input):
    qr: str | None = Field(
        None,
        max_length=100,
        description="the text of the claim's QR code scanned from the member's phone "
        "(`CODE.TAG`, as `GET /v1/claims/{code}/qr.svg` draws it)",
    )
    member_digits: str | None = Field(
        None,
        max_length=10,
        description="the last four characters of the member's number, as the member says "
        "them (for a member whose phone cannot show the claim)",
    )


class StationRef(BaseModel):
    id: int
    code: str
    name: str


class CampaignRef(BaseModel):
    id: int
    name: str


class ClaimGranted(BaseModel):
    claim_code: str = Field(description="read it out or show it to the staff")
    station: StationRef
    campaign: CampaignRef
    local_day: date
    claimed_at: datetime
    prize: str | None
    remaining_stock: int
    daily_quota: int
    claims_today: int


class ClaimOut(BaseModel):
    claim_code: str
    station: StationRef
    campaign: CampaignRef | None = None
    local_day: date
    claimed_at: datetime
    handed_over_at: datetime | None
    prize: str | None


class HandoverOut(ClaimOut):
    confirmed_now: bool = Field(
        description="this request confirmed it; false: it had been confirmed before"
    )


@router.post(
    "",
    status_code=201,
    summary="Claim a bottle at the scanned station",
    response_model=ClaimGranted,
    responses={
        403: {
            "description": "member_suspended, outside_geofence, presence_code_required "
            "(the campaign needs the station's rotating code) or presence_code_invalid"
        },
        409: {"description": "quota_used, out_of_stock, station_not_open, campaign_closed, ..."},
        422: {"description": "invalid_code, code_retired, idempotency_key_reused, ..."},
    },
)
async def claim_water(
    body: ClaimIn,
    token_digest: ClaimantTokenDep,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="unique per claim attempt; resend it unchanged when retrying",
        ),
    ] = None,
) -> JSONResponse:
    return await answer_claim(request, body, token_digest, idempotency_key)


async def answer_claim(
    request: Request, body: ClaimIn, token_digest: bytes, idempotency_key: str | None
) -> JSONResponse:
    """The answer of ``POST /v1/claims``, for the documented and the lean route alike."""
    settings: Settings = request.app.state.settings
    desk: claims.ClaimDesk = request.app.state.claims
    result = await desk.claim_scanned(
        token_digest=token_digest,
        idempotency_key=idempotency_key,
        code=body.code,
        lat=body.lat,
        lng=body.lng,
        crs=body.crs,
        security=settings.security,
        visit_resolution=settings.h3.visit_location,
        presence_code=body.presence_code,
    )
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return JSONResponse(result.body, status_code=201, headers=headers)


@router.get(
    "",
    response_model=list[ClaimOut],
    summary="A member's own claims; today's claims at an operator's stations",
)
async def list_claims(
    principal: PrincipalDep,
    conn: ConnDep,
    station_id: StationQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    if principal.role == "member":
        assert principal.member_id is not None
        return await claims.member_claims(conn, member_id=principal.member_id, limit=limit)
    if principal.role not in ("operator", "admin"):
        raise Forbidden(
            f"this needs the role member, operator or admin; you are {principal.role}",
            code="role_required",
            roles=["member", "operator", "admin"],
            role=principal.role,
        )
    if station_id is not None:
        await ensure_station_access(conn, principal, station_id)
        ids = [station_id]
    else:
        allowed = operated_stations(principal)
        if allowed is None:
            raise InvalidInput(
                "station_id: name the station whose claims to list", field="station_id"
            )
        ids = sorted(allowed)
    return await claims.station_claims_today(conn, station_ids=ids, limit=limit)


@router.post(
    "/{code}/handover",
    response_model=HandoverOut,
    summary="Staff confirm the bottle was handed over (operator of that station)",
    description="The typed claim code alone is not enough: send the member's proof, "
    "either `qr` (the claim's QR code scanned from the member's signed-in page: the code "
    "plus a tag bound to the claim and its member) or `member_digits` (the last four "
    "characters of the member number). None: 422 `handover_proof_required`; a forged QR "
    "code: 403 `handover_qr_invalid`; wrong digits: 403 `handover_digits_wrong`. Wrong "
    "proofs are throttled per claim (three free, then waits, locked for an hour at six) "
    "and per staff account: 429 `too_many_attempts` with `Retry-After`.",
    responses={
        403: {"description": "handover_qr_invalid, handover_digits_wrong, not_station_operator"},
        422: {"description": "handover_proof_required"},
        429: {"description": "too_many_attempts (wrong proofs for this claim or account)"},
    },
)
async def confirm_handover(
    code: str,
    principal: StationWriterDep,
    conn: ConnDep,
    request: Request,
    body: HandoverIn | None = None,
) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    return await claims.confirm_handover(
        conn,
        code=code,
        station_ids=operated_stations(principal),
        actor=principal.subject,
        security=settings.security,
        qr=body.qr if body else None,
        member_digits=body.member_digits if body else None,
        branch=branch_of(principal),
    )


@router.get(
    "/{code}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
    summary="A claim's code as a QR code, for the station's staff to scan (its member)",
    description="The QR code holds `CODE.TAG`: the claim code and a tag (an HMAC under the "
    "server's key, bound to the claim and its member) that `POST /v1/claims/{code}/handover` "
    "takes as `qr`, so a code read out or guessed is not enough to collect the bottle. Only "
    "the member who claimed (and the station's operators) can read it; anyone else gets "
    "`claim_not_found`.",
)
async def claim_qr(code: str, principal: PrincipalDep, conn: ConnDep, request: Request) -> Response:
    settings: Settings = request.app.state.settings
    shown = await claims.claim_shown_to(
        conn,
        code=code,
        member_id=principal.member_id,
        station_ids=principal.station_ids if principal.role == "operator" else frozenset(),
        security=settings.security,
    )
    return Response(
        qr.render_claim_svg(shown),
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=86400"},
    )
