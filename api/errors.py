"""Errors as problem details (RFC 9457 style): one table of codes, statuses and facts.

Every error answer is one JSON object: ``detail`` for people (a sentence that says what
was wrong and what to send instead), ``code`` for programs (a stable word from
:data:`CODES`), and the facts that code carries, side by side with them::

    {"detail": "outside_geofence: you are 612 m from the station; …",
     "code": "outside_geofence", "distance_m": 612, "radius_m": 300}

:data:`CODES` is the one table: each code's HTTP status, the facts it always carries,
the facts it carries when they are known, and what it means. The handlers take the
status from it; domain errors bring their code and facts (:mod:`stations.errors`),
request validation, unknown routes and other HTTP errors get theirs here. The
``Content-Type`` is ``application/problem+json`` when the request's ``Accept`` names it
and ``application/json`` otherwise (what every client of this API asked for before).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from api.responses import JSONResponse
from stations import errors
from stations.db.connection import is_unavailable

log = logging.getLogger("stations.api")

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Code:
    """One error code: its status, its facts, what it means."""

    status: int
    meaning: str
    facts: tuple[str, ...] = ()
    """Facts every answer with this code carries."""
    optional: tuple[str, ...] = ()
    """Facts it carries when they are known."""


CODES: dict[str, Code] = {
    # --- the request ---------------------------------------------------------------------
    "invalid_parameter": Code(
        422,
        "a parameter, header or body field is malformed or out of range; `field` names it "
        "(the first one when several are)",
        ("field",),
    ),
    "control_character": Code(
        422,
        "a text holds NUL or another control character (`character`, as U+XXXX); only "
        "multi-line texts such as comments may hold tab and line breaks",
        ("field", "character"),
    ),
    "over_budget": Code(
        422,
        "the request asks for more work than one request may (`asked` of `parameter`, "
        "at most `limit`): split it",
        ("parameter", "limit", "asked"),
    ),
    "invalid_body": Code(422, "the body is missing, is not JSON or is not a JSON object"),
    "invalid_input": Code(422, "the request breaks a rule that is not one field's"),
    "bad_query_parameter": Code(
        400,
        "OGC API (`/ogc`): a query parameter is unknown, malformed or out of range; `field` "
        "names it (OGC API – Features answers these with 400 where the rest of the API "
        "answers 422)",
        ("field",),
    ),
    "bad_request": Code(400, "the HTTP request itself could not be read"),
    "body_too_large": Code(
        413, "the body is larger than this endpoint takes (`limit_bytes`)", ("limit_bytes",)
    ),
    "headers_too_large": Code(
        431,
        "too many header fields or too many bytes of them",
        ("max_headers", "max_header_bytes"),
    ),
    "upload_not_found": Code(404, "no upload has this id (or it expired)", ("upload_id",)),
    "upload_confirmed": Code(
        409,
        "this upload was imported already; upload the file again to import it again",
        ("upload_id",),
    ),
    "not_found": Code(404, "no such path, page file or record"),
    "method_not_allowed": Code(405, "the path exists, not with this method (see `Allow`)"),
    "http_error": Code(400, "another HTTP-level refusal; the status says which"),
    # --- who is asking -------------------------------------------------------------------
    "unauthorized": Code(401, "no bearer token, or one expired, revoked or mistyped: sign in"),
    "sign_in_failed": Code(
        401,
        "member number and phone do not match a union member, or a staff account's name and "
        "password do not match (or it has no password yet)",
    ),
    "session_expired": Code(
        401, "the staff session ended (idle too long, too old, or signed out): sign in again"
    ),
    "too_many_attempts": Code(
        429,
        "too many failed sign-ins or hand-over checks from this name, address or claim: wait "
        "(see `Retry-After`)",
        ("retry_after_s",),
    ),
    "password_link_invalid": Code(
        404, "the one-time password link is unknown, used or expired: ask for a new one"
    ),
    "forbidden": Code(403, "the caller may not do this"),
    "csrf_failed": Code(
        403,
        "a state-changing request with the session cookie lacks the session's "
        "`X-CSRF-Token` header (or it is wrong): reload the console",
    ),
    "role_required": Code(403, "this needs another role", ("roles", "role")),
    "not_station_operator": Code(403, "the caller does not operate this station", ("station_id",)),
    "outside_branch": Code(
        403,
        "it belongs to another union branch than the caller's (or is not under it)",
        ("branch",),
        (
            "station_id",
            "station_ids",
            "campaign_id",
            "district_code",
            "account",
            "stations_outside",
        ),
    ),
    # --- the catalog ---------------------------------------------------------------------
    "station_not_found": Code(404, "no station has this id", ("station_id",)),
    "collection_not_found": Code(
        404, "OGC API: no feature collection has this id", ("collection",)
    ),
    "feature_not_found": Code(
        404, "OGC API: the collection holds no feature with this id", ("collection", "feature_id")
    ),
    "conflict": Code(409, "the request collides with what is stored (a duplicate)"),
    "version_conflict": Code(
        409,
        "If-Match named another version: someone changed the station meanwhile",
        ("version", "expected_version"),
    ),
    "near_duplicate": Code(
        409, "a station with the same name stands a few metres away", ("station_code", "distance_m")
    ),
    "source_id_taken": Code(409, "another station has this source id", ("source", "source_id")),
    # --- campaigns, claims, check-ins, ratings -------------------------------------------
    "campaign_not_found": Code(404, "no campaign has this id", ("campaign_id",)),
    "claim_not_found": Code(404, "no claim has this claim code", ("claim_code",)),
    "member_not_found": Code(404, "no member has this number"),
    "account_not_found": Code(404, "no staff account has this name"),
    "branch_not_found": Code(404, "no union branch has this code", ("branch",)),
    "tile_not_found": Code(404, "no such tile in the tile matrix set", ("tile",)),
    "basemap_not_configured": Code(
        404, "no local base map file is set (STATIONS_BASEMAP_FILE); maps draw the reference layer"
    ),
    "basemap_unreadable": Code(
        503, "the configured base map file is missing or not MBTiles/PMTiles", ("path",)
    ),
    "tile_too_large": Code(
        422, "the tile would pass the size limit: ask a deeper zoom", ("bytes", "limit")
    ),
    # --- membership applications (扫码入会) ------------------------------------------------
    "application_not_found": Code(
        404,
        "no application has this id, or this reference and phone",
        (),
        ("application_id",),
    ),
    "application_decided": Code(
        409, "the application was approved or declined already", ("application_id", "status")
    ),
    "already_member": Code(
        409,
        "a member has the applicant's phone already; `member_no` is theirs",
        ("application_id", "member_no"),
    ),
    "quota_used": Code(409, "the member has claimed today's bottles", ("daily_quota",)),
    "out_of_stock": Code(
        409, "no bottle left today; `stock_set` false: the station set no stock", ("stock_set",)
    ),
    "campaign_closed": Code(
        409,
        "no water is handed out here now; with the local daily hours when a campaign runs today",
        (),
        ("daily_start", "daily_end"),
    ),
    "station_not_in_campaign": Code(409, "the station takes no part in today's campaign"),
    "station_not_open": Code(
        409,
        "the station's opening hours say it is closed now; `next_open` is when it opens "
        "next (ISO 8601 in the station's zone; null when its hours name no next opening)",
        ("next_open",),
    ),
    "station_closed": Code(
        409, "the station is closed and hands out no water", ("station_status",)
    ),
    "claim_expired": Code(409, "a claim is good on the day it was made only", ("local_day",)),
    "claim_refused": Code(409, "the claim was refused by a rule without a code of its own"),
    "member_suspended": Code(403, "the member's union membership is suspended"),
    "outside_geofence": Code(
        403,
        "the member is too far from the station (metres, geodesic)",
        ("distance_m", "radius_m"),
    ),
    "no_recent_visit": Code(403, "a rating needs a claim or check-in in the last 24 hours"),
    "presence_code_invalid": Code(
        403,
        "the presence code is not the station's current one: another station's, two or more "
        "30-second steps old, or not six digits",
    ),
    "presence_code_required": Code(
        403, "the campaign at this station needs the rotating presence code its screen shows"
    ),
    "handover_proof_required": Code(
        422,
        "a hand-over needs the claim QR code from the member's page (`qr`) or the last four "
        "characters of the member number (`member_digits`), not the typed code alone",
    ),
    "handover_digits_wrong": Code(
        403, "the last four characters given are not those of the claim's member number"
    ),
    "handover_qr_invalid": Code(
        403, "the scanned claim QR code was not shown by the claim's member's page (forged)"
    ),
    "invalid_code": Code(422, "the scanned text is not a valid, current station code"),
    "code_retired": Code(422, "the poster's code was signed with a retired key"),
    "idempotency_key_reused": Code(422, "this Idempotency-Key answered a different request"),
    # --- the service ---------------------------------------------------------------------
    "database_unavailable": Code(503, "the database cannot be reached; retry (see `Retry-After`)"),
    "not_set_up": Code(503, "the server's environment is missing something"),
    "not_ready": Code(503, "readiness probe: database, PostGIS or schema not ready", ("status",)),
    "internal_error": Code(500, "a fault in the service; it is logged"),
}
"""Every code an error answer can carry."""

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
}
RETRY_AFTER_S = "5"


def status_for(exc: errors.StationsError) -> int:
    """The status of a domain error: its code's, else its class's default code's."""
    known = CODES.get(exc.code) or CODES.get(type(exc).code)
    return known.status if known is not None else 500


def media_type(request: Request) -> str:
    """``application/problem+json`` for clients that name it in ``Accept``."""
    return PROBLEM_JSON if PROBLEM_JSON in request.headers.get("accept", "") else "application/json"


def problem(
    request: Request,
    code: str,
    detail: Any,
    facts: dict[str, Any] | None = None,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The answer for an error: ``{"detail", "code", **facts}`` with the code's status."""
    body = {"detail": detail, "code": code, **(facts or {})}
    return JSONResponse(
        body,
        status_code=status if status is not None else CODES[code].status,
        headers=headers,
        media_type=media_type(request),
    )


def _describe(error: dict[str, Any]) -> str:
    """One readable sentence per validation error: which parameter, what is wrong."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid" and loc[:1] == ("body",):
        near = f" near character {loc[1]}" if len(loc) > 1 else ""
        return f"body: not valid JSON{near}; send a JSON object with the fields documented"
    if error.get("type") == "missing" and loc == ("body",):
        return "body: missing; send a JSON object with the fields documented"
    if error.get("type") == "control_character" and not _field_name(loc):
        return str(error.get("msg"))  # a key the model does not know: the message names it
    name = _field_name(loc) or "request"
    message = error.get("msg", "is invalid")
    context = error.get("ctx") or {}
    expected = context.get("expected")
    if expected:
        return f"{name}: {message}; allowed values: {expected}"
    return f"{name}: {message}"


def _field_name(loc: tuple[Any, ...]) -> str:
    """``("query", "lat")`` → ``lat``; ``("body", "points", 0, "lat")`` → ``points.0.lat``."""
    sections = ("query", "body", "path", "header")
    return ".".join(str(part) for part in loc if part not in sections)


def _validation_code(problems: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The code and facts of a validation error: the first parameter named, if any."""
    if not problems:
        return "invalid_input", {}
    first = problems[0]
    loc = tuple(first.get("loc", ()))
    name = "" if first.get("type") == "json_invalid" else _field_name(loc)
    if first.get("type") == "control_character":
        context = first.get("ctx") or {}
        field = name or context.get("field") or "body"
        return "control_character", {"field": field, "character": context.get("character")}
    if name:
        return "invalid_parameter", {"field": name}
    return ("invalid_body", {}) if loc[:1] == ("body",) else ("invalid_input", {})


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.StationsError)
    headers = None
    if isinstance(exc, errors.Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, errors.DatabaseUnavailable):
        headers = {"Retry-After": RETRY_AFTER_S}
    elif isinstance(exc, errors.TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return problem(
        request, exc.code, exc.detail, exc.facts, status=status_for(exc), headers=headers
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = list(exc.errors())
    detail = "; ".join(_describe(e) for e in problems) or "invalid request"
    code, facts = _validation_code(problems)
    return problem(request, code, detail, facts)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths, wrong methods and other refusals of the HTTP layer itself."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):  # no body, as Starlette's own handler answers them
        return Response(status_code=exc.status_code, headers=exc.headers)
    code = getattr(exc, "code", None) or _HTTP_CODES.get(exc.status_code, "http_error")
    facts = getattr(exc, "facts", None)
    return problem(request, code, exc.detail, facts, status=exc.status_code, headers=exc.headers)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """The database is down, restarting or out of connections: 503 with ``Retry-After``.

    Any other database or OS error is a fault of the service: re-raised, it reaches
    :func:`_internal_error` (500) and is logged with its traceback.
    """
    if not is_unavailable(exc):
        raise exc
    log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    return problem(
        request,
        "database_unavailable",
        "the database cannot be reached just now; retry in a few seconds",
        headers={"Retry-After": RETRY_AFTER_S},
    )


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette logs the exception and re-raises it after this answer is sent.
    return problem(request, "internal_error", "the service failed; it is logged, try again later")


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.StationsError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    for database_error in (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        app.add_exception_handler(database_error, _database_error)
    app.add_exception_handler(Exception, _internal_error)
