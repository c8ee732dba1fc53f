"""Hot paths served ahead of FastAPI's router: every bypass route, installed in one place.

FastAPI resolves a route's dependencies and parameters with per-request introspection
and walks included routers in order; for the two paths that carry the load (a rider's
nearest search, a water claim) that costs more than the work itself. Such a path keeps
its documented ``APIRoute`` (the OpenAPI document describes it, and any other method on
the path still reaches it) and gets a lean Starlette route in front of every other route
that validates the request the same way and answers with the same function. Errors
raise the same exceptions, so the app's handlers shape them exactly as for any route;
``tests/api/test_lean_routes.py`` proves the answers equal the documented routes'.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import bearer_token, claimant_digest
from api.deps import parse_body
from api.routes import claims, nearest


def install(app: FastAPI) -> None:
    """Put every lean route in front of the app's routes."""
    serve_first(app, "/v1/stations/nearest", _Nearest(), methods=["GET"])
    serve_first(app, "/v1/claims", _claim_water, methods=["POST"])


def serve_first(app: FastAPI, path: str, endpoint: Any, *, methods: list[str]) -> None:
    """Answer ``methods`` on ``path`` with ``endpoint`` before any other route is tried.

    ``endpoint`` is a Starlette endpoint (``async def f(request) -> Response``) or a bare
    ASGI app; it must behave exactly like the documented route it stands in front of.
    """
    app.router.routes.insert(0, Route(path, endpoint, methods=methods, include_in_schema=False))


class _Nearest:
    """``GET /v1/stations/nearest`` as a bare ASGI app: no request or response objects.

    (A class instance, not a function: Starlette treats a plain function as a
    request/response endpoint.)
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        query = nearest.NearestQuery.from_query_string(scope["query_string"])
        body = nearest.nearest_body(scope["app"].state.search, query)
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


async def _claim_water(request: Request) -> Response:
    """``POST /v1/claims``: the same checks and the same answer as the documented route."""
    body = parse_body(claims.ClaimIn, await request.body())
    headers = request.headers
    token_digest = claimant_digest(request, bearer_token(headers.get("authorization")))
    return await claims.answer_claim(request, body, token_digest, headers.get("idempotency-key"))
