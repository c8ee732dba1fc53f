"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.errors import RETRY_AFTER_S, problem
from api.responses import JSONResponse
from stations.db import migrations
from stations.db.connection import is_unavailable

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers, PostGIS is there, the schema is current")
async def readyz(request: Request) -> JSONResponse:
    try:
        async with request.app.state.pool.acquire(timeout=5) as conn:
            ready, info = await migrations.readiness(conn)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        ready, info = False, {"detail": f"database unreachable: {type(exc).__name__}: {exc}"}
    if not ready:
        detail = info.pop("detail", "not ready")
        return problem(
            request,
            "not_ready",
            detail,
            {"status": "not ready", **info},
            headers={"Retry-After": RETRY_AFTER_S},
        )
    return JSONResponse({"status": "ready", **info})
