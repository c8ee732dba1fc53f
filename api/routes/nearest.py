"""Nearest stations from the in-process index: one point, many points, along a route.

``GET /v1/stations/nearest`` is the hot path. Its parameters are described by one
model, :class:`NearestQuery`, whose fields are checked by the same parsers as every
other entry point (:mod:`stations.search.filters`); the documented route below and the
lean route of :mod:`api.hotpath` (matched first, without FastAPI's router) both
validate a request through it and answer with :func:`nearest_body`, which assembles
pre-rendered JSON.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

import numpy as np
import orjson
from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from api import schemas
from api.deps import IndexDep, SettingsDep, json_body, parse_body, validate_body
from api.heavy import HeavyCallerDep, run_heavy
from api.schemas import AmenityName
from stations.errors import InvalidInput
from stations.geo.crs import (
    NAMED,
    Crs,
    parse_named_crs,
    position_to_wgs84,
    positions_to_wgs84,
)
from stations.plaintext import find_control
from stations.search import batch, render
from stations.search import filters as params
from stations.search import route as corridor
from stations.search.route import stations_along_route
from stations.search.service import IndexService

router = APIRouter(prefix="/v1/stations", tags=["stations"])


_KIND_TEXT = "Any of these kinds (repeat, or separate with commas)."
_ACCESS_TEXT = "Access rules accepted (any of); '-rule' excludes one, e.g. access=-customers_only."
_CRS_TEXT = (
    "CRS of the asked point and of every coordinate in the answer "
    "(GCJ-02 for Amap/Tencent/WeChat, BD-09 for Baidu)"
)


def _array_schema(values: list[str] | tuple[str, ...], text: str, example: list[str]) -> Any:
    """How a repeatable parameter is documented (repeats are allowed: no uniqueItems)."""
    return WithJsonSchema(
        {
            "type": "array",
            "items": {"type": "string", "enum": list(values)},
            "description": text,
            "examples": [example],
        }
    )


class NearestQuery(BaseModel):
    """The parameters of ``GET /v1/stations/nearest``, checked by the search's parsers.

    Filters are applied before counting ``k``. List parameters may be repeated or
    comma-separated.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    lat: Annotated[
        float,
        Field(
            ge=-90,
            le=90,
            description="Latitude of the rider, degrees (in `crs`).",
            examples=[33.9556],
        ),
        BeforeValidator(params.parse_lat),
    ]
    lng: Annotated[
        float,
        Field(
            ge=-180,
            le=180,
            description="Longitude of the rider, degrees (in `crs`).",
            examples=[116.7983],
        ),
        BeforeValidator(params.parse_lng),
    ]
    k: Annotated[
        int,
        Field(
            ge=1, le=params.MAX_K, description=f"How many stations, 1–{params.MAX_K}.", examples=[5]
        ),
        BeforeValidator(params.parse_k),
    ] = params.DEFAULT_K
    radius_m: Annotated[
        float | None,
        Field(
            ge=0,
            le=params.MAX_RADIUS_M,
            description="Only stations within this geodesic "
            "distance (metres). None within it: an empty list.",
            examples=[2000],
        ),
        BeforeValidator(params.parse_radius),
    ] = None
    kind: Annotated[
        frozenset[str] | None,
        Field(description=_KIND_TEXT),
        _array_schema(params.KIND_VALUES, _KIND_TEXT, ["water_point"]),
        BeforeValidator(params.parse_kinds),
    ] = None
    amenity: Annotated[
        tuple[AmenityName, ...],
        Field(
            description="All of these amenities (repeat, or separate with commas).",
            examples=[["drinking_water", "restroom"]],
        ),
        BeforeValidator(params.parse_amenities),
    ] = ()
    access: Annotated[
        frozenset[str] | None,
        Field(description=_ACCESS_TEXT),
        _array_schema(
            [*params.ACCESS_VALUES, *(f"-{a}" for a in params.ACCESS_VALUES)],
            _ACCESS_TEXT,
            ["-customers_only"],
        ),
        BeforeValidator(params.parse_access),
    ] = None
    open_now: Annotated[
        bool,
        Field(
            description="Only stations open now (in each station's time zone). Stations "
            "whose hours are not known are left out.",
            examples=[True],
        ),
        BeforeValidator(lambda value: params.parse_bool(value, field="open_now")),
    ] = False
    open_at: Annotated[
        datetime | None,
        Field(
            description="Only stations open at this instant: ISO 8601 with its UTC offset. "
            "Not together with open_now.",
            examples=["2026-07-15T04:00:00+08:00"],
        ),
        BeforeValidator(params.parse_instant),
    ] = None
    min_rating: Annotated[
        float | None,
        Field(
            ge=params.MIN_RATING,
            le=params.MAX_RATING,
            description="Minimum mean stars "
            "(1–5). Stations without ratings have no rating at or above any threshold, so "
            "this excludes them.",
            examples=[4],
        ),
        BeforeValidator(params.parse_min_rating),
    ] = None
    water_now: Annotated[
        bool,
        Field(
            description="Only stations with water now: bottles of today's stock left, in "
            "each station's local day (`water_today.remaining` > 0).",
            examples=[True],
        ),
        BeforeValidator(lambda value: params.parse_bool(value, field="water_now")),
    ] = False
    crs: Annotated[
        Crs,
        Field(description=_CRS_TEXT, validate_default=True),
        WithJsonSchema(
            {
                "type": "string",
                "enum": list(NAMED),
                "default": "wgs84",
                "description": _CRS_TEXT,
                "examples": ["gcj02"],
            }
        ),
        BeforeValidator(parse_named_crs),
    ] = "wgs84"  # type: ignore[assignment]  # the validator makes it a Crs

    @model_validator(mode="before")
    @classmethod
    def _position_given(cls, values: Any) -> Any:
        """A missing lat or lng gets its parser's own answer, as on every entry point."""
        if isinstance(values, dict) and ("lat" not in values or "lng" not in values):
            params.parse_lat(values.get("lat"))  # lat first, as the fields are checked
            params.parse_lng(values.get("lng"))
        return values

    def filters(self, now: datetime) -> params.Filters:
        """The filters asked for; :data:`~stations.search.filters.NO_FILTERS` when none."""
        if _FILTER_NAMES.isdisjoint(self.model_fields_set):
            return params.NO_FILTERS
        if self.open_now and self.open_at is not None:
            raise InvalidInput(
                "open_at: give either open_now=true or open_at=<time>, not both", field="open_at"
            )
        return params.Filters(
            kinds=self.kind,
            amenities=self.amenity,
            access=self.access,
            open_at=self.open_at or (now if self.open_now else None),
            min_rating=self.min_rating,
            water_now=self.water_now,
        )

    @classmethod
    def from_query_string(cls, raw: bytes) -> NearestQuery:
        """Validate a raw query string exactly as FastAPI validates the documented route."""
        values: dict[str, Any] = {}
        for key, value in _query_pairs(raw):
            if key in _LIST_NAMES:
                values.setdefault(key, []).append(value)
            else:
                values[key] = value  # a repeated single-valued parameter: the last counts
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            errors = [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
            raise RequestValidationError(errors) from None


_FILTER_NAMES = frozenset(
    ("kind", "amenity", "access", "open_now", "open_at", "min_rating", "water_now")
)
_LIST_NAMES = frozenset(("kind", "amenity", "access"))


def _query_pairs(raw: bytes) -> list[tuple[str, str]]:
    """The query string's pairs; the plain ``lat=…&lng=…`` case without unquoting."""
    text = raw.decode("latin-1")
    if "%" in text or "+" in text:
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace")
    return [
        (item[: item.index("=")], item[item.index("=") + 1 :]) if "=" in item else (item, "")
        for item in text.split("&")
        if item
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
        **schemas.PROBLEMS,
    },
)
async def nearest(service: IndexDep, query: Annotated[NearestQuery, Query()]) -> Response:
    return Response(nearest_body(service, query), media_type="application/json")


def nearest_body(service: IndexService, query: NearestQuery) -> bytes:
    """The JSON answer of ``GET /v1/stations/nearest``."""
    now = time.time()
    now_dt = datetime.fromtimestamp(now, UTC)
    search = query.filters(now_dt)
    lat, lng = query.lat, query.lng
    if not query.crs.is_wgs84:
        lat, lng = position_to_wgs84(lat, lng, query.crs)
    index = service.index
    hits = index.nearest(lat, lng, k=query.k, filters=search, now=now, radius_m=query.radius_m)
    return render.nearest_answer(index, hits, crs=query.crs, at=search.open_at or now_dt, now=now)


def _body_filters(body: schemas.SearchFilters, now: datetime) -> params.Filters:
    return params.build_filters(
        kind=body.kind,
        amenity=body.amenity,
        access=body.access,
        open_now=body.open_now,
        open_at=body.open_at,
        min_rating=body.min_rating,
        water_now=body.water_now,
        now=now,
    )


@router.post(
    "/nearest:batch",
    summary="Nearest stations for up to 10,000 points at once",
    description="For planners and for riders' apps filling an offline cache: the same "
    "answer as `GET /v1/stations/nearest` for each point, in input order.",
    response_class=Response,
    responses={200: {"model": schemas.BatchAnswer}, **schemas.HEAVY_PROBLEMS},
    openapi_extra=json_body(schemas.BatchRequest),
)
async def nearest_batch(
    request: Request, service: IndexDep, _caller: HeavyCallerDep, settings: SettingsDep
) -> Response:
    # The body (up to 10,000 points) is parsed and checked in the worker thread too: on
    # the event loop, that alone would hold up every other request.
    raw = await request.body()
    budget = settings.api.batch_max_results
    content = await run_heavy(request, _batch_answer, service.index, raw, budget)
    return Response(content, media_type="application/json")


def _batch_answer(index: Any, raw: bytes, budget: int) -> bytes:
    body, lats, lngs = _batch_request(raw)
    asked = len(lats) * body.k
    if asked > budget:
        raise InvalidInput(
            f"points: {len(lats):,} points × k={body.k} is {asked:,} results, more "
            f"than the {budget:,} one request may ask; send fewer points or a smaller k",
            code="over_budget",
            parameter="points",
            limit=budget,
            asked=asked,
        )
    return _batch_body(index, body, lats, lngs)


# Validating 10,000 points as pydantic models holds the interpreter for 50–300 ms in one
# call, and the event loop with it. A well-formed list of points is checked here in
# plain Python and numpy (the loop gets its turns), and the rest of the body by the
# model; anything irregular goes through the model whole, for its exact messages.


def _batch_request(raw: bytes) -> tuple[schemas.BatchRequest, np.ndarray, np.ndarray]:
    data = _json_object(raw)
    points = data.get("points") if data is not None else None
    found = _plain_numbers(points, ("lat", "lng"), max_items=schemas.MAX_BATCH_POINTS)
    if data is None or found is None or find_control(points) is not None:
        body = parse_body(schemas.BatchRequest, raw)
        lats = np.fromiter((p.lat for p in body.points), float, len(body.points))
        lngs = np.fromiter((p.lng for p in body.points), float, len(body.points))
        return body, lats, lngs
    lats, lngs = found
    if not (np.all(np.abs(lats) <= 90) and np.all(np.abs(lngs) <= 180)):
        body = parse_body(schemas.BatchRequest, raw)  # names the first point out of range
    light = {**data, "points": [{"lat": 0.0, "lng": 0.0}]}
    body = validate_body(schemas.BatchRequest, light, raw)
    return body, lats, lngs


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _plain_numbers(
    items: Any, keys: tuple[str, str], *, max_items: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Two arrays from a list of ``{keys[0]: number, keys[1]: number}`` (floats or
    ints, never true/false) with finite values; None when the list is anything else."""
    if not isinstance(items, list) or not 1 <= len(items) <= max_items:
        return None
    first, second = keys
    try:
        pairs = [(item[first], item[second]) for item in items]
    except (KeyError, TypeError, IndexError):
        return None
    if any(type(a) not in (float, int) or type(b) not in (float, int) for a, b in pairs):
        return None
    values = np.asarray(pairs, dtype=float)
    if not np.all(np.isfinite(values)):
        return None
    return values[:, 0], values[:, 1]


def _batch_body(index: Any, body: schemas.BatchRequest, lats: Any, lngs: Any) -> bytes:
    """The batch's answer (CPU work: run in a thread, see api/heavy.py)."""
    now = time.time()
    now_dt = datetime.fromtimestamp(now, UTC)
    search = _body_filters(body, now_dt)
    crs = parse_named_crs(body.crs)
    count = len(lats)
    lats, lngs = positions_to_wgs84(lats, lngs, crs, field="points")
    answers = batch.nearest_many(
        index, lats, lngs, k=body.k, filters=search, now=now, radius_m=body.radius_m
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
    return head + b",".join(parts) + b"]}"


@router.post(
    "/along-route",
    summary="Stations along a route, in the order the rider meets them",
    description="Stations within `max_detour_m` of a GeoJSON LineString ([lng, lat] positions "
    "in `crs`), ordered by distance along the route, each with its geodesic distance off the "
    "route and its distance along it. The same filters as nearest.",
    response_class=Response,
    responses={200: {"model": schemas.RouteAnswer}, **schemas.BODY_PROBLEMS},
    openapi_extra=json_body(schemas.RouteRequest),
)
async def along_route(request: Request, service: IndexDep) -> Response:
    raw = await request.body()  # parsed in the worker thread (10,000 vertices)
    content = await run_heavy(request, _route_body, service.index, raw)
    return Response(content, media_type="application/json")


def _route_body(index: Any, raw: bytes) -> bytes:
    """The along-route answer (CPU work: run in a thread, see api/heavy.py)."""
    body = _route_request(raw)
    now = time.time()
    now_dt = datetime.fromtimestamp(now, UTC)
    search = _body_filters(body, now_dt)
    crs = parse_named_crs(body.crs)
    lats, lngs = _route_vertices(body.route.coordinates, crs)
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
    return body_bytes


def _route_request(raw: bytes) -> schemas.RouteRequest:
    """The body, its vertices checked by _route_vertices rather than as 10,000 models
    (see _batch_request); anything irregular goes through the model whole."""
    data = _json_object(raw)
    route = data.get("route") if data is not None else None
    coordinates = route.get("coordinates") if isinstance(route, dict) else None
    if (
        data is None
        or not isinstance(route, dict)
        or not isinstance(coordinates, list)
        or not 2 <= len(coordinates) <= corridor.MAX_VERTICES
        or not all(
            isinstance(p, list) and all(type(v) in (float, int) for v in p) for p in coordinates
        )
        or find_control(data) is not None
    ):
        return parse_body(schemas.RouteRequest, raw)
    light = {**data, "route": {**route, "coordinates": [[0.0, 0.0], [0.0, 0.0]]}}
    body = validate_body(schemas.RouteRequest, light, raw)
    body.route.coordinates = coordinates
    return body


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
    return positions_to_wgs84(
        np.asarray(lats, dtype=float), np.asarray(lngs, dtype=float), crs, field="route"
    )
