"""Schema-driven fuzzing: requests generated from the app's own OpenAPI never get a 500.

The real server (uvicorn, its own thread and event loop, the session's database with a
small city in it) answers requests that schemathesis derives from ``/openapi.json`` —
valid ones, whose answers must also match the documented schemas, and invalid ones,
which must be refused with a documented 4xx. The station operations get 2,000+ requests
and every check; the app's other operations a few each, for "no 500" only. Generation
is derandomized, so a failure reproduces.

A third round takes valid requests and puts NUL or another control character into
every text of their path, query and body: each must be refused with a 4xx (422
``control_character`` where the text is the problem), never a 500.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import admin_headers
from tests.fixtures.search.stations import demo_city, insert_stations
from tests.fixtures.server import LiveServer

MIN_REQUESTS = 2_000
STATION_OPERATIONS = frozenset(
    (
        "GET /v1/stations/nearest",
        "POST /v1/stations/nearest:batch",
        "POST /v1/stations/along-route",
        "GET /v1/stations",
        "GET /v1/stations/{station_id}",
        "GET /v1/stations/{station_id}/history",
    )
)
# STATIONS_FUZZ_SCALE=5 runs five times as many (a long run: about 20,000 requests).
SCALE = int(os.environ.get("STATIONS_FUZZ_SCALE", "1"))
EXAMPLES = {GenerationMode.POSITIVE: 200 * SCALE, GenerationMode.NEGATIVE: 150 * SCALE}
OTHER_EXAMPLES = 10 * SCALE
CONTROL_EXAMPLES = 100 * SCALE
# Requests carry the administrator's token: nearest:batch and coverage need one.
AUTH: dict[str, str] = {}
CONTROL_CHARACTERS = ("\x00", "\x1b", "\x07", "\x7f", "\x85", "\x0b")
POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def rejected(ctx, response, case):
    """schemathesis's rejection check, with the body cap's ``413 body_too_large`` counted
    as the rejection it is: an invalid body can also be a huge one (along-route with
    more vertices than allowed), and the cap refuses it before it is read."""
    if response.status_code == 413 and response.json().get("code") == "body_too_large":
        return True
    return negative_data_rejection(ctx, response, case)


NEGATIVE_CHECKS = [not_a_server_error, status_code_conformance, rejected]


def _fuzz_operation(
    base_url: str, operation, mode: GenerationMode, calls: Counter, failures: list[str]
) -> None:
    checks = POSITIVE_CHECKS if mode is GenerationMode.POSITIVE else NEGATIVE_CHECKS
    examples = EXAMPLES[mode]
    if operation.label not in STATION_OPERATIONS:
        # Every other operation of the app is fuzzed too, lightly and for "no 500" only:
        # their documentation and status codes are their own tests' business.
        checks = [not_a_server_error]
        examples = OTHER_EXAMPLES

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        response = case.call(base_url=base_url, timeout=60, headers=AUTH)
        calls[operation.label] += 1
        try:
            case.validate_response(response, checks=checks)
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(
                f"{mode.value} {case.as_curl_command()} -> {response.status_code}: {str(exc)[:600]}"
            )

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid (an operation without parameters, e.g. /healthz).
        assert mode is GenerationMode.NEGATIVE


def _spoiled(value, char: str) -> tuple[object, bool]:
    """``value`` with ``char`` put into the middle of each of its texts; whether any was."""
    if isinstance(value, str):
        return value[: len(value) // 2] + char + value[len(value) // 2 :], True
    if isinstance(value, dict):
        items = [(key, _spoiled(item, char)) for key, item in value.items()]
        return {key: item for key, (item, _) in items}, any(hit for _, (_, hit) in items)
    if isinstance(value, list):
        items = [_spoiled(item, char) for item in value]
        return [item for item, _ in items], any(hit for _, hit in items)
    return value, False


def _fuzz_control_characters(base_url: str, operation, calls: Counter, failures: list[str]) -> None:
    examples = CONTROL_EXAMPLES if operation.label in STATION_OPERATIONS else OTHER_EXAMPLES
    strategy = st.tuples(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        st.sampled_from(CONTROL_CHARACTERS),
    )

    @given(pair=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(pair) -> None:
        case, char = pair
        spoiled = False
        for part in ("path_parameters", "query", "body"):
            value = getattr(case, part, None)
            if value:
                value, hit = _spoiled(value, char)
                setattr(case, part, value)
                spoiled = spoiled or hit
        response = case.call(base_url=base_url, timeout=60, headers=AUTH)
        calls[f"control {operation.label}"] += 1
        if response.status_code >= 500 or (spoiled and response.status_code < 400):
            failures.append(
                f"control {char!r} {case.as_curl_command()} -> {response.status_code}: "
                f"{response.text[:300]}"
            )

    run()


def _fuzz(base_url: str) -> tuple[Counter, list[str]]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    calls: Counter = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        for mode in EXAMPLES:
            _fuzz_operation(base_url, result.ok(), mode, calls, failures)
        _fuzz_control_characters(base_url, result.ok(), calls, failures)
    return calls, failures


# About 4,500 requests take 3–4 minutes on the shared 2-core machine.
@pytest.mark.timeout(600 * SCALE)
async def test_generated_requests_never_get_a_server_error(settings, conn):
    await insert_stations(conn, demo_city(400, seed=99))
    AUTH.update(admin_headers(settings))
    # Thousands of batch requests from one token: lift its rate for this run only.
    api = settings.api.model_copy(update={"heavy_per_minute": 100_000, "heavy_burst": 100_000})
    with LiveServer(settings.model_copy(update={"api": api})) as base_url:
        calls, failures = await asyncio.to_thread(_fuzz, base_url)
    print(f"fuzz: {sum(calls.values()):,} requests over {len(calls)} operation rounds")
    assert not failures, "\n\n".join(failures[:10])
    assert sum(calls[label] for label in STATION_OPERATIONS) >= MIN_REQUESTS, calls
    assert calls["GET /v1/stations/nearest"] >= 200
    assert calls["control GET /v1/stations/nearest"] >= CONTROL_EXAMPLES // 2
