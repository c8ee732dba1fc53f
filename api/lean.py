"""Hot paths served ahead of FastAPI's router.

FastAPI resolves a route's dependencies and parameters with per-request introspection
and walks included routers in order; for the two paths that carry the load (a rider's
nearest search, a water claim) that costs more than the work itself. Such a path
keeps its documented ``APIRoute`` (the OpenAPI document describes it, and any other
method on the path still reaches it) and gets a lean Starlette route in front of every
other route that answers the same requests with the same function. Errors raise the
same exceptions, so the app's handlers shape them exactly as for any route.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.routing import Route

ModelT = TypeVar("ModelT", bound=BaseModel)


def serve_first(app: FastAPI, path: str, endpoint: Any, *, methods: list[str]) -> None:
    """Answer ``methods`` on ``path`` with ``endpoint`` before any other route is tried.

    ``endpoint`` is a Starlette endpoint (``async def f(request) -> Response``) or a bare
    ASGI app; it must behave exactly like the documented route it stands in front of.
    """
    app.router.routes.insert(0, Route(path, endpoint, methods=methods, include_in_schema=False))


def parse_body(model: type[ModelT], raw: bytes) -> ModelT:
    """Validate a JSON body as FastAPI would, raising the same errors it raises."""
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
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors, body=raw) from None
