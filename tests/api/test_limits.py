"""No single request stalls the service: sizes, work budgets, rates, the event loop.

Body and header limits are the edge middleware's (``api/guard.py``), checked here both
through the app and over a real socket (a chunked body and a lying ``Content-Length``
reach uvicorn's parser first); work budgets and rates are the expensive routes'
(``api/heavy.py``), the rate counted in PostgreSQL so two apps share it.
"""

from __future__ import annotations

import asyncio
import socket
import time

import numpy as np
import orjson
import pytest
from fastapi.exceptions import RequestValidationError

from api import schemas
from api.deps import parse_body
from api.routes.nearest import _batch_request, _route_request
from tests.api.test_errors import check_problem
from tests.factories import (
    HUAIBEI_CENTRE,
    admin_headers,
    bearer,
    create_member_with_token,
    create_staff,
)
from tests.fixtures.search.app import running_app
from tests.fixtures.search.stations import demo_city, insert_stations
from tests.fixtures.server import LiveServer

LAT, LNG = HUAIBEI_CENTRE
POINT = {"lat": LAT, "lng": LNG}


def _with_api(settings, **changes):
    return settings.model_copy(update={"api": settings.api.model_copy(update=changes)})


async def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(client):
    # The body is never sent: the refusal must not wait for it.
    started = time.perf_counter()
    response = await client.post(
        "/v1/auth/member",
        content=b"{}",
        headers={"Content-Length": str(50_000_000), "Content-Type": "application/json"},
    )
    check_problem(response, "body_too_large", limit_bytes=1_000_000)
    assert response.json()["limit_bytes"] == 1_000_000
    assert time.perf_counter() - started < 1.0


async def test_a_streamed_body_over_the_limit_is_refused_on_every_kind_of_route(client):
    async def chunks():
        for _ in range(30):
            yield b" " * 100_000  # JSON whitespace: only the size is wrong

    for path in ("/v1/auth/member", "/v1/claims", "/v1/stations/along-route"):
        response = await client.post(
            path, content=chunks(), headers={"Content-Type": "application/json"}
        )
        body = check_problem(response, "body_too_large")
        assert body["limit_bytes"] == 1_000_000, path


async def test_nearest_batch_takes_a_larger_body(client, conn, settings):
    padded = b'{"points": [%s]}' % b",".join([orjson.dumps(POINT)] * 10) + b" " * 1_500_000
    response = await client.post(
        "/v1/stations/nearest:batch",
        content=padded,
        headers={"Content-Type": "application/json", **admin_headers(settings)},
    )
    assert response.status_code == 200, response.text
    assert response.json()["count"] == 10
    too_big = padded + b" " * 3_000_000
    response = await client.post(
        "/v1/stations/nearest:batch",
        content=too_big,
        headers={"Content-Type": "application/json", **admin_headers(settings)},
    )
    assert check_problem(response, "body_too_large")["limit_bytes"] == 4_000_000


async def test_too_many_or_too_large_headers_are_refused(client):
    many = {f"x-h{i}": "1" for i in range(150)}
    check_problem(await client.get("/healthz", headers=many), "headers_too_large")
    huge = {"x-big": "a" * 100_000}
    check_problem(await client.get("/healthz", headers=huge), "headers_too_large")
    assert (await client.get("/healthz", headers={"x-fine": "a" * 1000})).status_code == 200


def _raw_exchange(port: int, head: bytes, body_chunks: list[bytes]) -> tuple[bytes, float]:
    """Send a request by hand; the status line received and how long it took."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while the body was still coming
        answer = sock.recv(65536)
    return answer, time.perf_counter() - started


async def test_over_a_real_socket_chunked_and_lying_bodies_get_413(settings, conn):
    with LiveServer(settings) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        chunk = b" " * 65536
        chunked = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 40 + [b"0\r\n\r\n"]
        head = (
            b"POST /v1/auth/member HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        answer, _ = await asyncio.to_thread(_raw_exchange, port, head, chunked)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b'"code":"body_too_large"' in answer

        # Declares 50 MB: refused at once, before the body.
        head = (
            b"POST /v1/auth/member HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n"
        )
        answer, seconds = await asyncio.to_thread(_raw_exchange, port, head, [chunk] * 4)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert seconds < 1.0


async def test_nearest_batch_needs_a_token_of_any_role(client, conn, settings):
    body = {"points": [POINT], "k": 1}
    check_problem(await client.post("/v1/stations/nearest:batch", json=body), "unauthorized")
    _, member = await create_member_with_token(conn, settings)
    operator = await create_staff(conn, role="operator")
    for token in (member, operator):
        response = await client.post("/v1/stations/nearest:batch", json=body, headers=bearer(token))
        assert response.status_code == 200, response.text


async def test_nearest_batch_work_is_bounded_by_points_times_k(client, settings):
    body = {"points": [POINT] * 10_000, "k": 6}
    response = await client.post(
        "/v1/stations/nearest:batch", json=body, headers=admin_headers(settings)
    )
    problem = check_problem(response, "over_budget")
    assert (problem["parameter"], problem["limit"], problem["asked"]) == ("points", 50_000, 60_000)


async def test_coverage_work_is_bounded_by_cells(client, settings):
    response = await client.get(
        "/v1/coverage/summary",
        params={"bbox": "116.4,33.6,117.2,34.4", "res": 10},
        headers=admin_headers(settings),
    )
    problem = check_problem(response, "over_budget")
    assert problem["parameter"] == "res" and problem["limit"] == 200_000
    assert problem["asked"] > 200_000


async def test_expensive_requests_are_rate_limited_per_token_across_workers(settings, conn):
    limited = _with_api(settings, heavy_per_minute=1, heavy_burst=3)
    _, member = await create_member_with_token(conn, settings)
    _, other = await create_member_with_token(conn, settings)
    body = {"points": [POINT], "k": 1}
    async with running_app(limited) as (_, first), running_app(limited) as (_, second):
        answers = []
        for client in (first, second, first, second):  # two workers, one count
            answers.append(
                await client.post("/v1/stations/nearest:batch", json=body, headers=bearer(member))
            )
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        refused = check_problem(answers[-1], "too_many_attempts")
        assert int(answers[-1].headers["Retry-After"]) == refused["retry_after_s"] > 0
        # Another token has its own share.
        response = await second.post("/v1/stations/nearest:batch", json=body, headers=bearer(other))
        assert response.status_code == 200


async def test_a_probe_stays_fast_while_a_large_batch_runs(settings, conn):
    await insert_stations(conn, demo_city(2000, seed=7))
    points = [{"lat": LAT + i * 1e-4, "lng": LNG + (i % 100) * 1e-4} for i in range(10_000)]
    async with running_app(settings) as (_, client):
        batch = asyncio.create_task(
            client.post(
                "/v1/stations/nearest:batch",
                json={"points": points, "k": 5},
                headers=admin_headers(settings),
                timeout=60,
            )
        )
        probes_during_batch = []
        while not batch.done():
            started = time.perf_counter()
            probe = await client.get("/healthz")
            assert probe.status_code == 200
            if not batch.done():
                probes_during_batch.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)
        response = await batch
    assert response.status_code == 200, response.text[:300]
    assert len(probes_during_batch) >= 3, probes_during_batch
    assert max(probes_during_batch) < 0.25, probes_during_batch


def test_the_bulk_body_checks_answer_as_the_models_do():
    """Batch points and route vertices are checked without a model each (the event loop
    must not wait for 10,000 of them): the same bodies pass and fail as through the model."""
    batches = [
        {"points": [{"lat": 33.9, "lng": 116}, {"lat": -90, "lng": 180, "note": "x"}], "k": 3},
        {"points": [{"lat": True, "lng": 116.8}]},
        {"points": [{"lat": 95, "lng": 116.8}]},
        {"points": [{"lat": "33.9", "lng": 116.8}]},
        {"points": [[33.9, 116.8]]},
        {"points": []},
        {"points": [{"lat": 33.9, "lng": 116.8}] * 10_001},
        {"points": [{"lat": 33.9, "lng": 116.8}], "radius_m": False},
        {"points": [{"lat": 33.9, "lng": 116.8, "n\x00": 1}]},
    ]
    for data in batches:
        raw = orjson.dumps(data)
        try:
            expected = parse_body(schemas.BatchRequest, raw)
        except RequestValidationError as exc:
            with pytest.raises(RequestValidationError) as caught:
                _batch_request(raw)
            assert caught.value.errors()[0]["loc"] == exc.errors()[0]["loc"], data
            continue
        body, lats, lngs = _batch_request(raw)
        assert body.k == expected.k
        assert np.array_equal(lats, [p.lat for p in expected.points])
        assert np.array_equal(lngs, [p.lng for p in expected.points])

    routes = [
        [[116.78, 33.95], [116.8, 33.956, 12]],
        [[116.78, 33.95], [True, 33.9]],
        [[116.78, 33.95]],
        [[116.78, 33.95], "x"],
    ]
    for coordinates in routes:
        raw = orjson.dumps({"route": {"type": "LineString", "coordinates": coordinates}})
        try:
            expected_route = parse_body(schemas.RouteRequest, raw)
        except RequestValidationError as exc:
            with pytest.raises(RequestValidationError) as caught:
                _route_request(raw)
            assert caught.value.errors()[0]["loc"] == exc.errors()[0]["loc"], coordinates
            continue
        assert _route_request(raw).route.coordinates == expected_route.route.coordinates
