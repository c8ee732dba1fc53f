"""The FastAPI app factory: ``uvicorn api.main:create_app --factory``.

The database pool opens in the lifespan and lives on ``app.state``; nothing is created
at import time, so tests build apps with their own settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors, hotpath
from api.responses import JSONResponse
from api.routes import (
    accounts,
    campaigns,
    checkins,
    claims,
    coverage,
    health,
    maps,
    nearest,
    qr,
    ratings,
    review,
    rider,
    staff,
    stations,
    stock,
    uploads,
)
from api.routes import auth as auth_routes
from stations.db import connection as dbconn
from stations.search.service import IndexService
from stations.settings import Settings, get_settings
from stations.visits.claims import ClaimDesk


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await dbconn.create_pool(settings.db)
        app.state.claims = ClaimDesk(
            app.state.pool,
            max_batch=settings.api.claim_batch_max,
            in_flight=settings.api.claim_batches_in_flight,
            acquire_timeout_s=settings.db.pool_acquire_timeout_s,
        )
        # The nearest-station index: loaded now, kept current by LISTEN/NOTIFY. When
        # stations change, claims read their opening hours again.
        app.state.search = IndexService(settings.db, app.state.pool)
        app.state.search.on_change.append(app.state.claims.hours.forget)
        await app.state.search.start()
        try:
            yield
        finally:
            # Claims first: a batch holding a connection would keep the pool's close waiting.
            await app.state.claims.close()
            await app.state.search.close()
            await app.state.pool.close()

    app = FastAPI(
        title="Love Stations",
        summary="Rest stations and free-water points for outdoor workers (爱心驿站).",
        version="0.1.0",
        default_response_class=JSONResponse,
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
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
    app.include_router(coverage.router)
    app.include_router(maps.router)
    rider.install(app)
    maps.mount_static(app)
    hotpath.install(app)
    return app
