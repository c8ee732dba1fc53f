"""Requests generated from /ogc/api (the OGC endpoints' own OpenAPI 3.0 document) never
get a 500, and get only the statuses it documents.

The OGC routes are left out of the service's /openapi.json (tests/api/test_fuzz_openapi.py
fuzzes that one); here schemathesis derives valid and invalid requests from what GIS
clients read, against the real server with a few hundred stations.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, status_code_conformance

from api.main import create_app
from tests.browser.chromium import serve
from tests.fixtures.search.stations import demo_city, insert_stations

EXAMPLES = 40


def _fuzz_operation(base, operation, mode, calls: Counter, failures: list[str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        response = case.call(base_url=base, timeout=60)
        calls[operation.label] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance])
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(
                f"{mode.value} {case.as_curl_command()} -> {response.status_code}: {str(exc)[:400]}"
            )

    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing to make invalid


def _fuzz(base: str) -> tuple[Counter, list[str]]:
    schema = schemathesis.openapi.from_url(f"{base}/api")
    calls: Counter = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(base, operation, mode, calls, failures)
    return calls, failures


async def test_requests_generated_from_the_ogc_api_document_never_fail(settings, conn):
    await insert_stations(conn, demo_city(300, seed=18))
    async with serve(create_app(settings)) as url:
        calls, failures = await asyncio.to_thread(_fuzz, f"{url}/ogc")
    assert not failures, "\n\n".join(failures[:8])
    items = [label for label in calls if label.endswith("/items")]
    assert len(items) == 4 and all(calls[label] >= EXAMPLES for label in items), calls
