"""Domain errors to HTTP statuses, in one table; bodies are always ``{"detail": …}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from api.responses import JSONResponse
from stations import errors

STATUS: dict[type[errors.StationsError], int] = {
    errors.InvalidInput: 422,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.DatabaseUnavailable: 503,
    errors.SetupError: 503,
}


def status_for(exc: errors.StationsError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _describe(error: dict[str, Any]) -> str:
    """One readable sentence per validation error: which parameter, what is wrong."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid" and loc[:1] == ("body",):
        near = f" near character {loc[1]}" if len(loc) > 1 else ""
        return f"body: not valid JSON{near}; send a JSON object with the fields documented"
    if error.get("type") == "missing" and loc == ("body",):
        return "body: missing; send a JSON object with the fields documented"
    sections = ("query", "body", "path", "header")
    where = [str(part) for part in error.get("loc", ()) if part not in sections]
    name = ".".join(where) or "request"
    message = error.get("msg", "is invalid")
    context = error.get("ctx") or {}
    expected = context.get("expected")
    if expected:
        return f"{name}: {message}; allowed values: {expected}"
    return f"{name}: {message}"


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.StationsError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, errors.Unauthorized) else None
    return JSONResponse({"detail": exc.detail}, status_code=status_for(exc), headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = list(exc.errors())
    detail = "; ".join(_describe(e) for e in problems) or "invalid request"
    return JSONResponse({"detail": detail}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.StationsError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
