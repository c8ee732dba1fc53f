"""Station QR codes: the poster image for operators, and the page the code opens."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from api.auth import StationWriterDep, ensure_station_access
from api.deps import ConnDep, SettingsDep
from api.routes import rider
from api.routes.ids import StationId
from stations.errors import InvalidCode, NotFound
from stations.visits import posters, qr

router = APIRouter(tags=["qr"])


class ScannedStation(BaseModel):
    id: int
    code: str
    name: str
    kind: str
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
        how_to=(
            "Union members: claim water with POST /v1/claims or check in with "
            "POST /v1/checkins, sending this page's full URL as `code` and your position."
        ),
    )
