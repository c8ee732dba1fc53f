"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.errors import problem
from api.responses import JSONResponse
from stations.db import migrations

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers, PostGIS is there, the schema is current")
async def readyz(request: Request) -> JSONResponse:
    try:
        async with request.app.state.pool.acquire(timeout=5) as conn:
            ready, info = await migrations.readiness(conn)
    except (OSError, TimeoutError) as exc:
        ready, info = False, {"detail": f"database unreachable: {exc}"}
    if not ready:
        detail = info.pop("detail", "not ready")
        return problem(request, "not_ready", detail, {"status": "not ready", **info})
    return JSONResponse({"status": "ready", **info})
