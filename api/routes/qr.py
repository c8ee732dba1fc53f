"""Station QR codes: the poster image for operators, and the page the code opens."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from api.auth import StationWriterDep, ensure_station_access
from api.deps import ConnDep, SettingsDep
from api.routes import rider
from api.routes.ids import StationId
from stations.errors import InvalidCode, NotFound
from stations.visits import posters, presence, qr

router = APIRouter(tags=["qr"])


class ScannedStation(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    presence_required: bool = Field(
        description="a campaign running here today needs the rotating presence code its "
        "screen shows (`presence_code`)"
    )
    how_to: str


async def _station_url(conn: ConnDep, settings: SettingsDep, station_id: StationId) -> str:
    station = await posters.station_for_poster(conn, station_id=station_id)
    return qr.poster_url(
        station["code"], security=settings.security, base_url=settings.api.public_base_url
    )


@router.get(
    "/v1/stations/{station_id}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
    summary="The station's signed QR code as SVG (its operator or an administrator)",
)
async def qr_svg(
    station_id: StationId, principal: StationWriterDep, conn: ConnDep, settings: SettingsDep
) -> Response:
    await ensure_station_access(conn, principal, station_id)
    url = await _station_url(conn, settings, station_id)
    return Response(qr.render_svg(url), media_type="image/svg+xml")


@router.get(
    "/v1/stations/{station_id}/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
    summary="The station's signed QR code as PNG (its operator or an administrator)",
)
async def qr_png(
    station_id: StationId, principal: StationWriterDep, conn: ConnDep, settings: SettingsDep
) -> Response:
    await ensure_station_access(conn, principal, station_id)
    url = await _station_url(conn, settings, station_id)
    return Response(qr.render_png(url), media_type="image/png")


class PresenceOut(BaseModel):
    station_id: int
    station_code: str
    station_name: str
    code: str = Field(description="six digits: what a claim or check-in sends as presence_code")
    step_s: int = Field(description="seconds each code is shown (a code is accepted one more step)")
    changes_at: datetime = Field(description="when the next code replaces this one")
    seconds_left: float = Field(
        description="seconds until then, by the service's clock (a screen whose own clock "
        "is wrong still asks again in time)"
    )
    qr_text: str = Field(
        description="the presence QR code's text: the station's signed poster URL plus "
        "`p=<code>`; opened by a phone's camera it leads the rider page to the station "
        "with the code filled in, and a claim or check-in sending it as `code` needs no "
        "separate presence_code"
    )
    qr_svg: str = Field(description="that QR code drawn as SVG")


@router.get(
    "/v1/stations/{station_id}/presence",
    response_model=PresenceOut,
    summary="The station's rotating presence code now, and its QR code (its operator)",
    description="For the screen at the counter (the console's presence page asks again at "
    "every step; the station's secret never leaves the service). A code changes every "
    f"{presence.STEP_S} s (TOTP, RFC 6238 style, HMAC-SHA-256, six digits) and is accepted "
    "during its step and the next one; a code of another station or two steps old is "
    "refused as `presence_code_invalid`. Campaigns with `presence_required` grant water "
    "only to claims that carry it.",
)
async def presence_code(
    station_id: StationId, principal: StationWriterDep, conn: ConnDep, settings: SettingsDep
) -> PresenceOut:
    await ensure_station_access(conn, principal, station_id)
    station = await posters.station_for_poster(conn, station_id=station_id)
    now = presence.current_code(station["code"], security=settings.security)
    poster = qr.poster_url(
        station["code"], security=settings.security, base_url=settings.api.public_base_url
    )
    text = presence.presence_url(poster, now)
    return PresenceOut(
        station_id=station_id,
        station_code=station["code"],
        station_name=station["name"],
        code=now.code,
        step_s=presence.STEP_S,
        changes_at=datetime.fromtimestamp(now.changes_at, UTC),
        seconds_left=round(now.seconds_left, 3),
        qr_text=text,
        qr_svg=qr.render_svg(text, scale=6).decode(),
    )


@router.get(
    "/v1/stations/{station_id}/poster.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="The station's printable QR poster (its operator or an administrator)",
    description="The page `stations qr posters` prints for this station: A5 or A4.",
)
async def poster_pdf(
    station_id: StationId,
    principal: StationWriterDep,
    conn: ConnDep,
    settings: SettingsDep,
    size: Annotated[Literal["a5", "a4"], Query(description="paper size")] = "a5",
) -> Response:
    await ensure_station_access(conn, principal, station_id)
    station = await posters.station_for_poster(conn, station_id=station_id)
    pdf = await asyncio.to_thread(
        posters.render_pdf,
        [station],
        security=settings.security,
        base_url=settings.api.public_base_url,
        page_size=size,
    )
    filename = f"poster-{station['code']}-{size}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.get(
    "/s/{station_code}",
    response_model=ScannedStation,
    responses={200: {"content": {"text/html": {}}}},
    summary="What a poster's QR code opens: the verified station and what to do next",
    description="A browser (asking for HTML) gets the rider page, which shows the station "
    "with its claim or check-in button; anyone else gets the verified station as JSON.",
)
async def scanned(
    station_code: str,
    request: Request,
    response: Response,
    conn: ConnDep,
    settings: SettingsDep,
    k: Annotated[str, Query(max_length=8)] = "",
    sig: Annotated[str, Query(max_length=32)] = "",
    p: Annotated[
        str,
        Query(
            max_length=20,
            description="the rotating presence code, when the QR code is the one the "
            "station's screen shows (the rider page fills it in)",
        ),
    ] = "",
) -> ScannedStation | Response:
    if rider.wants_page(request):
        return rider.page_response(request)
    response.headers["Vary"] = "Accept"
    verified = qr.verify_parts(station_code, k, sig, security=settings.security)
    try:
        station = await posters.station_by_code(conn, code=verified.station_code)
    except NotFound:
        raise InvalidCode(
            "invalid_code", f"no station has the code {verified.station_code} any more"
        ) from None
    return ScannedStation(
        id=station["id"],
        code=station["code"],
        name=station["name"],
        kind=station["kind"],
        presence_required=await presence.required_at(conn, station_id=station["id"]),
        how_to=(
            "Union members: claim water with POST /v1/claims or check in with "
            "POST /v1/checkins, sending this page's full URL as `code` and your position."
        ),
    )
