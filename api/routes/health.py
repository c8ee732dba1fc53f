"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.errors import RETRY_AFTER_S, problem
from api.responses import JSONResponse
from stations.db import migrations, replication
from stations.db.connection import is_unavailable

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database answers, PostGIS is there, the schema is current",
    description="`read` says where the reads that may lag go: `primary`, or the read "
    "replica (`DATABASE_READ_URL`) with whether it is a standby and how far it has "
    "replayed. A replica that cannot be reached makes the service not ready.",
)
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    try:
        async with state.pool.acquire(timeout=5) as conn:
            ready, info = await migrations.readiness(conn)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        ready, info = False, {"detail": f"database unreachable: {type(exc).__name__}: {exc}"}
    if ready:
        info["read"] = "primary"
        if state.read_pool is not state.pool:
            ready, info["read"], detail = await _replica_readiness(state.read_pool)
            if detail:
                info["detail"] = detail
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


async def _replica_readiness(read_pool: Any) -> tuple[bool, dict[str, Any], str | None]:
    """Whether the read replica answers as a standby, and how far it has replayed."""
    try:
        async with read_pool.acquire(timeout=5) as conn:
            server = await replication.server_state(conn)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        detail = f"read replica unreachable: {type(exc).__name__}: {exc}"
        return False, {"replica": True, "reachable": False}, detail
    return True, {"replica": True, "reachable": True, **server.as_dict()}, None
