"""Dependencies shared by routers: settings, a pooled connection, the station index,
and the parameters every router parses the same way (the CRS of coordinates)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, TypeVar

import asyncpg
import orjson
from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from api.schemas import inline_schema
from stations.db import connection as dbconn
from stations.errors import InvalidInput
from stations.geo.crs import Crs, parse_crs, parse_named_crs
from stations.search.service import IndexService
from stations.settings import Settings


async def get_settings(request: Request) -> Settings:
    # async: FastAPI runs a plain ``def`` dependency in a thread pool on every request.
    return request.app.state.settings


async def get_conn(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the primary: writes, claims, sign-in, reads of one's own writes."""
    async with _request_conn(request, request.app.state.pool) as conn:
        yield conn


async def get_read_conn(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """A connection for reads that may be a moment behind: the read replica's, if any.

    Search, tiles, OGC API and coverage read through it. A replica that cannot be
    reached answers 503 with Retry-After, as the primary does: reads never fall back to
    the primary, whose connections the claims need (see README, "Read replica").
    """
    async with _request_conn(request, request.app.state.read_pool) as conn:
        yield conn


@asynccontextmanager
async def _request_conn(request: Request, pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """One connection of ``pool`` per request, however many dependencies ask for it.

    Without a replica the read pool is the primary's pool: a route that needs both a
    connection and a read connection gets the same one rather than holding two of one
    pool (which, with every connection held by such requests, would wait for ever).
    """
    held: dict[int, asyncpg.Connection] = request.scope.setdefault("stations.conns", {})
    shared = held.get(id(pool))
    if shared is not None:
        yield shared
        return
    timeout = request.app.state.settings.db.pool_acquire_timeout_s
    async with dbconn.pooled(pool, timeout) as conn:
        held[id(pool)] = conn
        try:
            yield conn
        finally:
            held.pop(id(pool), None)


async def get_index(request: Request) -> IndexService:
    """The in-process station index (loaded in the lifespan, kept current by LISTEN)."""
    service: IndexService = request.app.state.search
    return service


async def named_crs(
    crs: Annotated[
        Literal["wgs84", "gcj02", "bd09"],
        Query(
            description="CRS of coordinates in and out (GCJ-02: Amap/Tencent/WeChat, BD-09: Baidu)"
        ),
    ] = "wgs84",
) -> Crs:
    """The ``crs`` query parameter where positions are latitude/longitude of a map app."""
    return parse_named_crs(crs)


async def geographic_crs(
    crs: Annotated[
        str | None,
        Query(description="wgs84 (default), gcj02, bd09 or a geographic EPSG code (EPSG:4490)"),
    ] = None,
) -> Crs:
    """The ``crs`` query parameter where any geographic CRS will do (coverage output)."""
    parsed = parse_crs(crs)
    if not parsed.is_geographic:
        raise InvalidInput(
            f"crs: {parsed} is projected; this answers in degrees: use wgs84, gcj02 or bd09",
            field="crs",
        )
    return parsed


ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_body(model: type[ModelT], raw: bytes) -> ModelT:
    """Validate a JSON body as FastAPI would, raising the same errors it raises.

    For routes that read their body themselves: the lean hot paths, and the expensive
    routes that parse a large body in a worker thread instead of on the event loop.
    """
    if not raw.strip():
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required"}]
        )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}],
            body=raw,
        ) from None
    return validate_body(model, data, raw)


def validate_body(model: type[ModelT], data: Any, raw: bytes) -> ModelT:
    """``data`` (a parsed body) as ``model``, refused as FastAPI refuses a body."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors, body=raw) from None


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body a route reads itself (see parse_body)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(model)}},
        }
    }


SettingsDep = Annotated[Settings, Depends(get_settings)]
IndexDep = Annotated[IndexService, Depends(get_index)]
NamedCrsDep = Annotated[Crs, Depends(named_crs)]
GeographicCrsDep = Annotated[Crs, Depends(geographic_crs)]
ConnDep = Annotated[asyncpg.Connection, Depends(get_conn)]
ReadConnDep = Annotated[asyncpg.Connection, Depends(get_read_conn)]
