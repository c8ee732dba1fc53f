"""The FastAPI app factory: ``uvicorn api.main:create_app --factory``.

The database pool opens in the lifespan and lives on ``app.state``; nothing is created
at import time, so tests build apps with their own settings.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
from fastapi import FastAPI

from api import docs, errors, heavy, hotpath
from api.auth import principal_cache_of
from api.guard import Guard
from api.responses import JSONResponse
from api.routes import (
    accounts,
    applications,
    basemap,
    campaigns,
    checkins,
    claims,
    coverage,
    health,
    maps,
    nearest,
    ogc,
    qr,
    ratings,
    review,
    rider,
    staff,
    stations,
    stock,
    tiles,
    uploads,
)
from api.routes import auth as auth_routes
from stations.db import connection as dbconn
from stations.errors import DatabaseUnavailable
from stations.people.revocations import Revocations
from stations.search.service import IndexService
from stations.settings import Settings, get_settings
from stations.tiles.service import TileService
from stations.visits.claims import ClaimDesk

T = TypeVar("T")


log = logging.getLogger("stations.api")
RETRY_DELAYS_S = (1.0, 2.0, 4.0, 5.0)
"""Waits between attempts to reach the database at start (the last one repeats)."""


async def wait_for_database(settings: Settings) -> asyncpg.Pool:
    """The pool, once the database answers: a server started before it waits for it.

    A process manager starting the service and the database together, or a database
    restarting, must not leave the service exited: every failed attempt says why and
    when the next one comes, and the attempts go on until the database answers.
    """
    return await _retrying("connecting to the database", dbconn.create_pool, settings.db)


async def wait_for_read_replica(settings: Settings, primary: asyncpg.Pool) -> asyncpg.Pool:
    """The read pool: the replica's (once it answers) with DATABASE_READ_URL, else ``primary``."""
    if not settings.db.has_replica:
        return primary
    connect = functools.partial(dbconn.create_pool, replica=True)
    return await _retrying("connecting to the read replica", connect, settings.db)


async def _retrying(what: str, attempt: Callable[..., Awaitable[T]], *args: Any) -> T:
    for n in itertools.count():
        try:
            return await attempt(*args)
        except (DatabaseUnavailable, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if not isinstance(exc, DatabaseUnavailable) and not dbconn.is_unavailable(exc):
                raise
            delay = RETRY_DELAYS_S[min(n, len(RETRY_DELAYS_S) - 1)]
            detail = exc.detail if isinstance(exc, DatabaseUnavailable) else f"{exc}"
            log.warning("%s failed (%s); trying again in %g s", what, detail, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await wait_for_database(settings)
        # Reads that may be a moment behind (search, tiles, OGC API, coverage, the index)
        # use this pool; it is the primary's own pool when there is no replica.
        app.state.read_pool = await wait_for_read_replica(settings, app.state.pool)
        app.state.claims = ClaimDesk(
            app.state.pool,
            max_batch=settings.api.claim_batch_max,
            in_flight=settings.api.claim_batches_in_flight,
            acquire_timeout_s=settings.db.pool_acquire_timeout_s,
        )
        # The nearest-station index: loaded now, kept current by LISTEN/NOTIFY. When
        # stations change, claims read their opening hours again.
        app.state.search = IndexService(settings.db, app.state.pool, app.state.read_pool)
        app.state.search.on_change.append(app.state.claims.hours.forget)
        await _retrying("loading the station index", app.state.search.start)
        # Who a token belongs to is cached per worker for a few seconds; every
        # revocation empties that cache in every worker at once.
        cache = principal_cache_of(app)
        app.state.revocations = Revocations(settings.db, cache.clear)
        cache.current = lambda: app.state.revocations.listening
        await app.state.revocations.start()
        app.state.tiles = TileService(
            app.state.read_pool,
            app.state.search,
            settings.vector_tiles,
            acquire_timeout_s=settings.db.pool_acquire_timeout_s,
        )
        try:
            yield
        finally:
            # Claims first: a batch holding a connection would keep the pool's close waiting.
            await app.state.claims.close()
            await app.state.search.close()
            await app.state.revocations.close()
            if app.state.read_pool is not app.state.pool:
                await app.state.read_pool.close()
            await app.state.pool.close()

    app = FastAPI(
        title="Love Stations",
        summary="Rest stations and free-water points for outdoor workers (爱心驿站).",
        version="0.1.0",
        default_response_class=JSONResponse,
        lifespan=lifespan,
        # FastAPI's own pages load their scripts from a CDN: api/docs.py serves /docs.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    errors.install(app)
    heavy.install(app, settings)
    # The edge rules (header and body limits, control characters in the path and query)
    # wrap every route, the lean ones included.
    app.add_middleware(
        Guard,
        settings=settings.api,
        tiles_source=rider.tiles_source(settings.tiles.url),
        body_limits={uploads.PATH: uploads.body_limit(settings)},
    )
    # Routes are matched in the order they are included, router by router: the hot
    # paths (probes, claims, station search) come first so they do not pay for walking
    # the others; hotpath.install puts the lean routes in front of all.
    app.include_router(health.router)
    app.include_router(claims.router)
    app.include_router(nearest.router)  # before stations: /nearest is not a station id
    app.include_router(stations.router)
    for router_module in (auth_routes, campaigns, stock, checkins, ratings, review, qr, staff):
        app.include_router(router_module.router)
    app.include_router(uploads.router)  # the administrator's imports
    app.include_router(campaigns.choices_router)
    app.include_router(accounts.router)
    app.include_router(applications.router)
    app.include_router(coverage.router)
    app.include_router(maps.router)
    app.include_router(tiles.router)
    basemap.install(app)
    app.include_router(ogc.router)
    rider.install(app)
    maps.mount_static(app)
    docs.install(app, settings)
    hotpath.install(app)
    return app
