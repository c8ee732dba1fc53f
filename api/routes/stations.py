"""Finding stations: nearest, batch nearest, along a route, search, one station, its history.

``GET /v1/stations/nearest`` is the hot path. It reads its query string directly and
answers pre-assembled JSON: no validation models, no dependency chain. Its parameters
are documented below (``NEAREST_PARAMETERS``) and checked by the same parsers as
everywhere else (:mod:`stations.search.filters`). :func:`install` also puts a plain
ASGI route to the same function ahead of the app's routers, because going through
FastAPI's router and request/response objects costs about 30 µs per request — a fifth
of the whole budget.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import numpy as np
import orjson
from fastapi import APIRouter, FastAPI, Header, Path, Query, Request
from fastapi.responses import Response

from api import schemas
from api.auth import AdminDep, StationWriterDep, ensure_station_access
from api.deps import ConnDep
from api.lean import serve_first
from api.responses import GeoJSONResponse, JSONResponse
from stations.catalog import writes as catalog
from stations.errors import InvalidInput
from stations.geo.crs import Crs, to_wgs84
from stations.search import filters as params
from stations.search import lookup, render, words
from stations.search.route import stations_along_route
from stations.search.service import IndexService

router = APIRouter(prefix="/v1/stations", tags=["stations"])

GEOJSON = "application/geo+json"
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    422: {"model": schemas.Problem, "description": "A parameter is malformed or out of range"},
}
_BODY_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.Problem, "description": "The body is not JSON"},
    **_PROBLEMS,
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": schemas.Problem, "description": "No such station"},
    **_PROBLEMS,
}


def _array(name: str, items: dict[str, Any], description: str, example: list[str]) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "style": "form",
        "explode": True,
        "description": description,
        "schema": {"type": "array", "items": items},
        "example": example,
    }


_KINDS = {"type": "string", "enum": list(params.KIND_VALUES)}
_AMENITIES = {"type": "string", "enum": list(params.AMENITY_VALUES)}
_ACCESS = {
    "type": "string",
    "enum": [*params.ACCESS_VALUES, *(f"-{a}" for a in params.ACCESS_VALUES)],
}
_CRS_PARAM = {
    "name": "crs",
    "in": "query",
    "required": False,
    "description": "CRS of the asked point and of every coordinate in the answer "
    "(GCJ-02 for Amap/Tencent/WeChat, BD-09 for Baidu)",
    "schema": {"type": "string", "enum": ["wgs84", "gcj02", "bd09"], "default": "wgs84"},
    "example": "gcj02",
}
_FILTER_PARAMETERS: list[dict[str, Any]] = [
    _array(
        "kind", _KINDS, "Any of these kinds (repeat, or separate with commas).", ["water_point"]
    ),
    _array(
        "amenity",
        _AMENITIES,
        "All of these amenities (repeat, or separate with commas).",
        ["drinking_water", "restroom"],
    ),
    _array(
        "access",
        _ACCESS,
        "Access rules accepted (any of); '-rule' excludes one, e.g. access=-customers_only.",
        ["-customers_only"],
    ),
    {
        "name": "open_now",
        "in": "query",
        "required": False,
        "description": "Only stations open now (in each station's time zone). Stations whose "
        "hours are not known are left out.",
        "schema": {"type": "boolean", "default": False},
        "example": True,
    },
    {
        "name": "open_at",
        "in": "query",
        "required": False,
        "description": "Only stations open at this instant: ISO 8601 with its UTC offset. "
        "Not together with open_now.",
        "schema": {"type": "string", "format": "date-time"},
        "example": "2026-07-15T04:00:00+08:00",
    },
    {
        "name": "min_rating",
        "in": "query",
        "required": False,
        "description": "Minimum mean stars (1–5). Stations without ratings have no rating at "
        "or above any threshold, so this excludes them.",
        "schema": {"type": "number", "minimum": 1, "maximum": 5},
        "example": 4,
    },
    _CRS_PARAM,
]
NEAREST_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "lat",
        "in": "query",
        "required": True,
        "description": "Latitude of the rider, degrees (in `crs`).",
        "schema": {"type": "number", "minimum": -90, "maximum": 90},
        "example": 33.9556,
    },
    {
        "name": "lng",
        "in": "query",
        "required": True,
        "description": "Longitude of the rider, degrees (in `crs`).",
        "schema": {"type": "number", "minimum": -180, "maximum": 180},
        "example": 116.7983,
    },
    {
        "name": "k",
        "in": "query",
        "required": False,
        "description": f"How many stations, 1–{params.MAX_K}.",
        "schema": {"type": "integer", "minimum": 1, "maximum": params.MAX_K, "default": 5},
        "example": 5,
    },
    {
        "name": "radius_m",
        "in": "query",
        "required": False,
        "description": "Only stations within this geodesic distance (metres). None within it: "
        "an empty list.",
        "schema": {"type": "number", "minimum": 0, "maximum": params.MAX_RADIUS_M},
        "example": 2000,
    },
    *_FILTER_PARAMETERS,
]
_NEAREST_EXAMPLE = {
    "at": "2026-07-15T06:00:00Z",
    "crs": "wgs84",
    "count": 1,
    "results": [
        {
            "id": 1024,
            "code": "7K3M9Q",
            "name": "相山公园爱心驿站",
            "name_en": None,
            "kind": "love_station",
            "amenities": ["drinking_water", "restroom", "seating", "air_conditioning"],
            "access": "open_to_all",
            "opening_hours": "Mo-Su 07:00-21:00",
            "time_zone": "Asia/Shanghai",
            "address": "淮北市相山区人民路 12 号",
            "verified_at": "2026-06-01T08:00:00Z",
            "position": {"lat": 33.9561, "lng": 116.8002},
            "open": {"is_open": True, "next_change": "2026-07-15T21:00:00+08:00"},
            "verified_days_ago": 44,
            "rating": None,
            "water_today": None,
            "distance_m": 185.42,
            "bearing_deg": 72.3,
        }
    ],
}


def _service(request: Request) -> IndexService:
    service: IndexService = request.app.state.search
    return service


_FILTER_NAMES = frozenset(("kind", "amenity", "access", "open_now", "open_at", "min_rating"))


def _last(values: list[str] | None) -> str | None:
    """A repeated single-valued parameter: the last one counts."""
    return values[-1] if values else None


def _point_to_wgs84(
    lat: float, lng: float, crs: Crs, *, field: str = "lat/lng"
) -> tuple[float, float]:
    if crs.is_wgs84:
        return lat, lng
    w_lat, w_lng = to_wgs84(lat, lng, crs)
    out_lat, out_lng = float(w_lat), float(w_lng)
    if not (math.isfinite(out_lat) and math.isfinite(out_lng) and -90 <= out_lat <= 90):
        raise InvalidInput(
            f"{field}: the point has no WGS84 equivalent in {crs.name}; send it in wgs84",
            field=field,
        )
    return out_lat, (out_lng + 180.0) % 360.0 - 180.0


@router.get(
    "/nearest",
    summary="The k nearest stations, filtered before the limit",
    description="Exact k nearest by geodesic distance on the WGS84 ellipsoid (ties by id); "
    "every filter is applied before counting k. Each station says whether it is open at the "
    "asked time and when that changes next. No station within `radius_m`: an empty list.",
    response_class=Response,
    responses={
        200: {
            "model": schemas.NearestAnswer,
            "content": {"application/json": {"example": _NEAREST_EXAMPLE}},
        },
        **_PROBLEMS,
    },
    openapi_extra={"parameters": NEAREST_PARAMETERS},
)
async def nearest(request: Request) -> Response:
    body = nearest_body(_service(request), request.scope["query_string"])
    return Response(body, media_type="application/json")


def _query_values(raw: bytes) -> dict[str, list[str]]:
    """The query string as name → values; the plain ``lat=…&lng=…`` case without unquoting."""
    text = raw.decode("latin-1")
    if "%" in text or "+" in text:
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace")
    else:
        pairs = [
            (item[: item.index("=")], item[item.index("=") + 1 :]) if "=" in item else (item, "")
            for item in text.split("&")
            if item
        ]
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        found = values.get(key)
        if found is None:
            values[key] = [value]
        else:
            found.append(value)
    return values


def nearest_body(service: IndexService, query_string: bytes) -> bytes:
    """The JSON answer of ``GET /v1/stations/nearest`` for a raw query string."""
    values = _query_values(query_string)
    get = values.get
    lat = params.parse_lat(_last(get("lat")))
    lng = params.parse_lng(_last(get("lng")))
    k = params.parse_k(_last(get("k")))
    radius = params.parse_radius(_last(get("radius_m")))
    crs = params.parse_named_crs(_last(get("crs")))
    now = time.time()
    now_dt = datetime.fromtimestamp(now, UTC)
    if _FILTER_NAMES.isdisjoint(values):
        search = params.NO_FILTERS
    else:
        search = params.build_filters(
            kind=get("kind"),
            amenity=get("amenity"),
            access=get("access"),
            open_now=_last(get("open_now")),
            open_at=_last(get("open_at")),
            min_rating=_last(get("min_rating")),
            now=now_dt,
        )
    if not crs.is_wgs84:
        lat, lng = _point_to_wgs84(lat, lng, crs)
    index = service.index
    hits = index.nearest(lat, lng, k=k, filters=search, now=now, radius_m=radius)
    return render.nearest_answer(index, hits, crs=crs, at=search.open_at or now_dt, now=now)


class _LeanNearest:
    """``GET /v1/stations/nearest`` as a bare ASGI app: no request or response objects.

    Errors propagate as exceptions to the app's handlers, like any route's.
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = nearest_body(scope["app"].state.search, scope["query_string"])
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(body)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _body_filters(body: schemas.SearchFilters, now: datetime) -> params.Filters:
    return params.build_filters(
        kind=body.kind,
        amenity=body.amenity,
        access=body.access,
        open_now=body.open_now,
        open_at=body.open_at,
        min_rating=body.min_rating,
        now=now,
    )


@router.post(
    "/nearest:batch",
    summary="Nearest stations for up to 10,000 points at once",
    description="For planners and for riders' apps filling an offline cache: the same "
    "answer as `GET /v1/stations/nearest` for each point, in input order.",
    response_class=Response,
    responses={200: {"model": schemas.BatchAnswer}, **_BODY_PROBLEMS},
)
async def nearest_batch(request: Request, body: schemas.BatchRequest) -> Response:
    now = time.time()
    now_dt = datetime.fromtimestamp(now, UTC)
    search = _body_filters(body, now_dt)
    crs = params.parse_named_crs(body.crs)
    count = len(body.points)
    lats = np.fromiter((p.lat for p in body.points), float, count)
    lngs = np.fromiter((p.lng for p in body.points), float, count)
    if not crs.is_wgs84:
        lats, lngs = to_wgs84(lats, lngs, crs)
        if not (np.all(np.isfinite(lats)) and np.all(np.abs(lats) <= 90)):
            raise InvalidInput(f"points: some points have no WGS84 equivalent in {crs.name}")
        lngs = (lngs + 180.0) % 360.0 - 180.0
    index = _service(request).index
    answers = index.nearest_many(
        lats, lngs, k=body.k, filters=search, now=now, radius_m=body.radius_m
    )
    opened = render.OpenStates(index, search.open_at or now_dt, now)
    parts = [
        render.nearest_results(index, hits, crs=crs, opened=opened, now=now) for hits in answers
    ]
    head = b'{"at":%s,"crs":"%s","count":%d,"answers":[' % (
        orjson.dumps(render.instant_text(search.open_at or now_dt)),
        crs.name.encode(),
        count,
    )
    return Response(head + b",".join(parts) + b"]}", media_type="application/json")


@router.post(
    "/along-route",
    summary="Stations along a route, in the order the rider meets them",
    description="Stations within `max_detour_m` of a GeoJSON LineString ([lng, lat] positions "
    "in `crs`), ordered by distance along the route, each with its geodesic distance off the "
    "route and its distance along it. The same filters as nearest.",
    response_class=Response,
    responses={200: {"model": schemas.RouteAnswer}, **_BODY_PROBLEMS},
)
async def along_route(request: Request, body: schemas.RouteRequest) -> Response:
    now = time.time()
    now_dt = datetime.fromtimestamp(now, UTC)
    search = _body_filters(body, now_dt)
    crs = params.parse_named_crs(body.crs)
    lats, lngs = _route_vertices(body.route.coordinates, crs)
    index = _service(request).index
    answer = stations_along_route(
        index,
        lat=lats,
        lng=lngs,
        max_detour_m=body.max_detour_m,
        filters=search,
        now=now,
        limit=body.limit,
    )
    at = search.open_at or now_dt
    opened = render.OpenStates(index, at, now)
    places = render.heads(index, [(h.in_delta, h.pos) for h in answer.hits], crs)
    results = [
        b'%s,"distance_off_route_m":%.2f,"distance_along_route_m":%.2f}'
        % (
            render.station_json(index, h.in_delta, h.pos, head, opened, now),
            h.off_route_m,
            h.along_route_m,
        )
        for h, head in zip(answer.hits, places, strict=True)
    ]
    body_bytes = (
        b'{"at":%s,"crs":"%s","route_length_m":%s,"count":%d,"total":%d,"results":[%s]}'
        % (
            orjson.dumps(render.instant_text(at)),
            crs.name.encode(),
            repr(round(answer.length_m, 2)).encode(),
            len(answer.hits),
            answer.total,
            b",".join(results),
        )
    )
    return Response(body_bytes, media_type="application/json")


def _route_vertices(coordinates: list[list[float]], crs: Crs) -> tuple[np.ndarray, np.ndarray]:
    lngs = []
    lats = []
    for n, position in enumerate(coordinates):
        if len(position) not in (2, 3) or not all(math.isfinite(v) for v in position):
            raise InvalidInput(
                f"route.coordinates.{n}: a position is [lng, lat] (or [lng, lat, altitude]) "
                "in degrees",
                field="route",
            )
        lng, lat = position[0], position[1]
        if not (-180 <= lng <= 180 and -90 <= lat <= 90):
            raise InvalidInput(
                f"route.coordinates.{n}: [lng, lat] must have lng from -180 to 180 and lat from "
                f"-90 to 90 (got {position[:2]}); GeoJSON puts longitude first",
                field="route",
            )
        lngs.append(lng)
        lats.append(lat)
    lat_arr = np.asarray(lats, dtype=float)
    lng_arr = np.asarray(lngs, dtype=float)
    if not crs.is_wgs84:
        lat_arr, lng_arr = to_wgs84(lat_arr, lng_arr, crs)
        if not (np.all(np.isfinite(lat_arr)) and np.all(np.abs(lat_arr) <= 90)):
            raise InvalidInput(f"route: some positions have no WGS84 equivalent in {crs.name}")
        lng_arr = (lng_arr + 180.0) % 360.0 - 180.0
    return lat_arr, lng_arr


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
    "(two-character Chinese words work, e.g. `q=驿站`). Results in id order, a page at a time: "
    "follow `next`. GeoJSON with `Accept: application/geo+json` or `f=geojson`. Closed "
    "stations appear only when asked for with `status=closed`.",
    response_class=Response,
    responses={
        200: {
            "model": schemas.SearchPage,
            "content": {GEOJSON: {"schema": schemas.inline_schema(schemas.FeatureCollection)}},
        },
        **_PROBLEMS,
    },
)
async def search_stations(
    request: Request,
    conn: ConnDep,
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
    limit: Annotated[int, Query(ge=1, le=lookup.MAX_LIMIT)] = lookup.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200, description="from a `next` link")] = None,
    crs: Annotated[schemas.CrsName, Query(description="CRS of bbox and of the answer")] = "wgs84",
    f: Annotated[str | None, _FORMAT] = None,
) -> Response:
    out_crs = params.parse_named_crs(crs)
    query = lookup.build_query(
        q=q, bbox=bbox, crs=out_crs, kind=kind, amenity=amenity, status=status, district=district
    )
    after = lookup.decode_cursor(cursor)
    rows = await lookup.search_stations(conn, query, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [lookup.station_dict(r, out_crs) for r in rows]
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


StationId = Annotated[int, Path(ge=1, le=lookup.MAX_ID, description="station id", examples=[1024])]


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
    conn: ConnDep,
    station_id: StationId,
    crs: Annotated[schemas.CrsName, Query(description="CRS of the answer")] = "wgs84",
    f: Annotated[str | None, _FORMAT] = None,
) -> Response:
    out_crs = params.parse_named_crs(crs)
    row = await catalog.get_station(conn, station_id)
    service = _service(request)
    now = datetime.now(UTC)
    item = lookup.station_dict(row, out_crs)
    state = render.OpenStates(service.index, now, now.timestamp())
    key = service.states.key_for(row["opening_hours"], row["time_zone"], row["country_code"])
    item["open"] = orjson.loads(state.fragment(key))
    item["hours_next_7_days"] = words.week_in_words(
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
    response_class=Response,
    responses={200: {"model": schemas.HistoryPage}, **_NOT_FOUND},
)
async def get_station_history(
    request: Request,
    conn: ConnDep,
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
    items = [lookup.history_dict(r) for r in rows]
    return JSONResponse({"count": len(items), "items": items, "next": next_link})


_WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"model": schemas.Problem, "description": "No or bad bearer token"},
    403: {
        "model": schemas.Problem,
        "description": "Not an administrator or this station's operator",
    },
    409: {"model": schemas.Problem, "description": "Stale version or a duplicate station"},
    **_BODY_PROBLEMS,
}


async def _written(request: Request, conn: Any, row: Any, *, status_code: int = 200) -> Response:
    """Apply a committed write to this process's index, then answer with the station."""
    await _service(request).refresh(conn, [row["id"]])
    item = lookup.station_dict(row, params.parse_named_crs(None))
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
    request: Request, conn: ConnDep, principal: AdminDep, body: schemas.StationFields
) -> Response:
    fields, reason = _fields(body)
    row = await catalog.create_station(conn, fields, actor=principal.actor, reason=reason)
    return await _written(request, conn, row, status_code=201)


@router.patch(
    "/{station_id}",
    summary="Change some fields of a station (administrators, its operators)",
    description='Send only what changes. With `If-Match: "<version>"` (the ETag of the '
    "station) the change applies only to that version, else 409.",
    response_class=Response,
    responses={200: {"model": schemas.StationOut}, 404: _NOT_FOUND[404], **_WRITE_PROBLEMS},
)
async def update_station(
    request: Request,
    conn: ConnDep,
    principal: StationWriterDep,
    station_id: StationId,
    body: schemas.StationFields,
    if_match: Annotated[
        str | None, Header(description='the version to change, e.g. "3"', examples=['"3"'])
    ] = None,
) -> Response:
    ensure_station_access(principal, station_id)
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
        conn, station_id, fields, actor=principal.actor, expected_version=expected, reason=reason
    )
    return await _written(request, conn, row)


async def _set_status(
    request: Request, conn: Any, principal: Any, station_id: int, status: str, reason: str
) -> Response:
    ensure_station_access(principal, station_id)
    row = await catalog.set_station_status(
        conn, station_id, status, actor=principal.actor, reason=reason
    )
    return await _written(request, conn, row)


@router.post(
    "/{station_id}:close",
    summary="Close a station for a while, or for good (administrators, its operators)",
    response_class=Response,
    responses={200: {"model": schemas.StationOut}, 404: _NOT_FOUND[404], **_WRITE_PROBLEMS},
)
async def close_station(
    request: Request,
    conn: ConnDep,
    principal: StationWriterDep,
    station_id: StationId,
    body: schemas.StatusChange,
) -> Response:
    status = "closed" if body.permanently else "temporarily_closed"
    return await _set_status(request, conn, principal, station_id, status, body.reason)


@router.post(
    "/{station_id}:reopen",
    summary="Reopen a station (administrators, its operators)",
    response_class=Response,
    responses={200: {"model": schemas.StationOut}, 404: _NOT_FOUND[404], **_WRITE_PROBLEMS},
)
async def reopen_station(
    request: Request,
    conn: ConnDep,
    principal: StationWriterDep,
    station_id: StationId,
    body: schemas.StatusChange,
) -> Response:
    return await _set_status(request, conn, principal, station_id, "active", body.reason)


def install(app: FastAPI) -> None:
    """Add the station endpoints to ``app``; nearest is matched first, on a lean route.

    The documented ``APIRoute`` of nearest stays in the router (it is what the OpenAPI
    document describes); the lean route in front calls the same function.
    """
    app.include_router(router)
    serve_first(app, "/v1/stations/nearest", _LeanNearest(), methods=["GET"])
