"""Stations from PostGIS: text/bbox search, one station, its history, and catalog writes.

Nearest searches from the in-process index live in :mod:`api.routes.nearest`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from api import schemas
from api.auth import (
    AdminDep,
    OptionalPrincipalDep,
    StationWriterDep,
    branch_of,
    ensure_station_access,
)
from api.deps import ConnDep, IndexDep, NamedCrsDep, ReadConnDep
from api.responses import GeoJSONResponse, JSONResponse
from api.routes.ids import StationId
from stations.catalog import writes as catalog
from stations.catalog.hours_words import week_in_words
from stations.errors import InvalidInput
from stations.geo.crs import WGS84
from stations.search import lookup, render
from stations.search.filters import parse_bool
from stations.search.service import IndexService

router = APIRouter(prefix="/v1/stations", tags=["stations"])

GEOJSON = "application/geo+json"
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": schemas.Problem, "description": "No such station"},
    **schemas.PROBLEMS,
}


def _wants_geojson(request: Request, f: str | None) -> bool:
    if f is not None:
        return f == "geojson"
    return GEOJSON in request.headers.get("accept", "")


def _feature(item: dict[str, Any]) -> dict[str, Any]:
    position = item["position"]
    properties = {k: v for k, v in item.items() if k != "position"}
    return {
        "type": "Feature",
        "id": item["id"],
        "geometry": {"type": "Point", "coordinates": [position["lng"], position["lat"]]},
        "properties": properties,
    }


_FORMAT = Query(
    pattern="^(json|geojson)$",
    description="`geojson` for GeoJSON (same as `Accept: application/geo+json`)",
)


@router.get(
    "",
    summary="Search stations by text, box and attributes",
    description="`q` matches every word as part of the name, English name or address "
    "(in any case or width; two-character Chinese words work, e.g. `q=驿站`). Each station "
    "carries today's water (`water_today`). Results in id order, a page at a time: "
    "follow `next`. GeoJSON with `Accept: application/geo+json` or `f=geojson`. Closed "
    "stations appear only when asked for with `status=closed`.",
    response_class=Response,
    responses={
        200: {
            "model": schemas.SearchPage,
            "content": {GEOJSON: {"schema": schemas.inline_schema(schemas.FeatureCollection)}},
        },
        **schemas.PROBLEMS,
    },
)
async def search_stations(
    request: Request,
    service: IndexDep,
    conn: ReadConnDep,
    out_crs: NamedCrsDep,
    q: Annotated[
        str | None,
        Query(
            max_length=lookup.MAX_Q_LENGTH,
            description="words of a name or address",
            examples=["驿站"],
        ),
    ] = None,
    bbox: Annotated[
        str | None,
        Query(
            description="west,south,east,north in degrees (in `crs`)",
            examples=["116.7,33.9,116.9,34.0"],
        ),
    ] = None,
    kind: Annotated[
        list[str] | None, Query(description="any of: love_station, water_point")
    ] = None,
    amenity: Annotated[
        list[str] | None, Query(description="all of these amenities", examples=[["drinking_water"]])
    ] = None,
    status: Annotated[
        list[str] | None,
        Query(description="any of: active, temporarily_closed, closed (default: the first two)"),
    ] = None,
    district: Annotated[
        str | None, Query(max_length=100, description="district name or code", examples=["相山区"])
    ] = None,
    water_now: Annotated[
        str | None,
        Query(
            description="`true`: only stations with bottles of today's stock left "
            "(`water_today.remaining` > 0, in each station's local day)",
            examples=["true"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=lookup.MAX_LIMIT)] = lookup.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200, description="from a `next` link")] = None,
    f: Annotated[str | None, _FORMAT] = None,
) -> Response:
    query = lookup.build_query(
        q=q, bbox=bbox, crs=out_crs, kind=kind, amenity=amenity, status=status, district=district
    )
    if parse_bool(water_now, field="water_now"):
        query = replace(query, station_ids=service.live.ids_with_water())
    after = lookup.decode_cursor(cursor)
    rows = await lookup.search_stations(conn, query, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [lookup.station_dict(r, out_crs) for r in rows]
    for item in items:
        item["water_today"] = orjson.loads(service.live.water_fragment(item["id"]))
    next_link = None
    if more and rows:
        pairs = [
            (key, value) for key, value in request.query_params.multi_items() if key != "cursor"
        ]
        pairs.append(("cursor", lookup.encode_cursor(rows[-1]["id"])))
        next_link = str(request.url.replace(query=urlencode(pairs)))
    if _wants_geojson(request, f):
        links = [] if next_link is None else [{"rel": "next", "href": next_link, "type": GEOJSON}]
        return GeoJSONResponse(
            {
                "type": "FeatureCollection",
                "features": [_feature(i) for i in items],
                "numberReturned": len(items),
                "links": links,
            }
        )
    return JSONResponse(
        {"crs": out_crs.name, "count": len(items), "items": items, "next": next_link}
    )


@router.get(
    "/{station_id}",
    summary="One station, with its opening hours in words for the next 7 days",
    response_class=Response,
    responses={
        200: {
            "model": schemas.StationDetail,
            "content": {GEOJSON: {"schema": schemas.inline_schema(schemas.Feature)}},
        },
        **_NOT_FOUND,
    },
)
async def get_station(
    request: Request,
    service: IndexDep,
    conn: ConnDep,
    out_crs: NamedCrsDep,
    station_id: StationId,
    f: Annotated[str | None, _FORMAT] = None,
) -> Response:
    row = await catalog.get_station(conn, station_id)
    now = datetime.now(UTC)
    item = lookup.station_dict(row, out_crs)
    state = render.OpenStates(service.index, now, now.timestamp())
    key = service.states.key_for(row["opening_hours"], row["time_zone"], row["country_code"])
    item["open"] = orjson.loads(state.fragment(key))
    item["hours_next_7_days"] = week_in_words(
        row["opening_hours"], time_zone=row["time_zone"], country=row["country_code"], start=now
    )
    item["rating"] = orjson.loads(service.live.rating_fragment(station_id))
    item["water_today"] = orjson.loads(service.live.water_fragment(station_id))
    etag = {"ETag": f'"{row["version"]}"'}
    if _wants_geojson(request, f):
        return GeoJSONResponse(_feature(item), headers=etag)
    return JSONResponse(item, headers=etag)


@router.get(
    "/{station_id}/history",
    summary="Every change to a station: who, when, what changed (newest first)",
    description="Staff (operators, planners, administrators) see who made each change "
    "(`operator:黄山路驿站`); everyone else sees only the role (`operator`).",
    response_class=Response,
    responses={200: {"model": schemas.HistoryPage}, **_NOT_FOUND},
)
async def get_station_history(
    request: Request,
    conn: ConnDep,
    principal: OptionalPrincipalDep,
    station_id: StationId,
    limit: Annotated[int, Query(ge=1, le=lookup.MAX_LIMIT)] = lookup.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200, description="from a `next` link")] = None,
) -> Response:
    before = lookup.decode_cursor(cursor) or lookup.MAX_ID
    rows = await lookup.station_history(conn, station_id, before=before, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_link = None
    if more:
        pairs = [
            (key, value) for key, value in request.query_params.multi_items() if key != "cursor"
        ]
        pairs.append(("cursor", lookup.encode_cursor(rows[-1]["id"])))
        next_link = str(request.url.replace(query=urlencode(pairs)))
    staff = principal is not None and principal.role in ("admin", "operator", "planner")
    items = [lookup.history_dict(r, names=staff) for r in rows]
    return JSONResponse({"count": len(items), "items": items, "next": next_link})


_WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"model": schemas.Problem, "description": "No or bad bearer token"},
    403: {
        "model": schemas.Problem,
        "description": "Not an administrator or this station's operator",
    },
    409: {"model": schemas.Problem, "description": "Stale version or a duplicate station"},
    **schemas.BODY_PROBLEMS,
}


async def _written(
    service: IndexService, conn: Any, row: Any, *, status_code: int = 200
) -> Response:
    """Apply a committed write to this process's index, then answer with the station."""
    await service.refresh(conn, [row["id"]])
    item = lookup.station_dict(row, WGS84)
    return JSONResponse(item, status_code=status_code, headers={"ETag": f'"{row["version"]}"'})


def _fields(body: schemas.StationFields) -> tuple[dict[str, Any], str | None]:
    fields = body.model_dump(exclude_unset=True)
    reason = fields.pop("reason", None)
    return fields, reason


@router.post(
    "",
    summary="Create a station (administrators)",
    description="Checked by the importer's rules; recorded in the station's history; "
    "searchable by this server as soon as it answers.",
    status_code=201,
    response_class=Response,
    responses={201: {"model": schemas.StationOut}, **_WRITE_PROBLEMS},
)
async def create_station(
    service: IndexDep, conn: ConnDep, principal: AdminDep, body: schemas.StationFields
) -> Response:
    fields, reason = _fields(body)
    row = await catalog.create_station(
        conn, fields, actor=principal.actor, reason=reason, branch=branch_of(principal)
    )
    return await _written(service, conn, row, status_code=201)


@router.patch(
    "/{station_id}",
    summary="Change some fields of a station (administrators, its operators)",
    description='Send only what changes. With `If-Match: "<version>"` (the ETag of the '
    "station) the change applies only to that version, else 409.",
    response_class=Response,
    responses={200: {"model": schemas.StationOut}, 404: _NOT_FOUND[404], **_WRITE_PROBLEMS},
)
async def update_station(
    service: IndexDep,
    conn: ConnDep,
    principal: StationWriterDep,
    station_id: StationId,
    body: schemas.StationFields,
    if_match: Annotated[
        str | None, Header(description='the version to change, e.g. "3"', examples=['"3"'])
    ] = None,
) -> Response:
    await ensure_station_access(conn, principal, station_id)
    expected = None
    if if_match is not None:
        text = if_match.strip().removeprefix("W/").strip('"')
        if not text.isdigit() or len(text) > 9:
            raise InvalidInput(
                f'If-Match: {if_match!r} is not a station version; send the ETag, e.g. "3"',
                field="If-Match",
            )
        expected = int(text)
    fields, reason = _fields(body)
    row = await catalog.update_station(
        conn,
        station_id,
        fields,
        actor=principal.actor,
        expected_version=expected,
        reason=reason,
        branch=branch_of(principal),
    )
    return await _written(service, conn, row)


async def _set_status(
    service: IndexService, conn: Any, principal: Any, station_id: int, status: str, reason: str
) -> Response:
    await ensure_station_access(conn, principal, station_id)
    row = await catalog.set_station_status(
        conn, station_id, status, actor=principal.actor, reason=reason
    )
    return await _written(service, conn, row)


@router.post(
    "/{station_id}:close",
    summary="Close a station for a while, or for good (administrators, its operators)",
    response_class=Response,
    responses={200: {"model": schemas.StationOut}, 404: _NOT_FOUND[404], **_WRITE_PROBLEMS},
)
async def close_station(
    service: IndexDep,
    conn: ConnDep,
    principal: StationWriterDep,
    station_id: StationId,
    body: schemas.StatusChange,
) -> Response:
    status = "closed" if body.permanently else "temporarily_closed"
    return await _set_status(service, conn, principal, station_id, status, body.reason)


@router.post(
    "/{station_id}:reopen",
    summary="Reopen a station (administrators, its operators)",
    response_class=Response,
    responses={200: {"model": schemas.StationOut}, 404: _NOT_FOUND[404], **_WRITE_PROBLEMS},
)
async def reopen_station(
    service: IndexDep,
    conn: ConnDep,
    principal: StationWriterDep,
    station_id: StationId,
    body: schemas.StatusChange,
) -> Response:
    return await _set_status(service, conn, principal, station_id, "active", body.reason)
