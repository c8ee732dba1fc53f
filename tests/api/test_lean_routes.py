"""The lean routes in front of the router answer exactly like the documented routes."""

from __future__ import annotations

import uuid

import httpx
import pytest
from starlette.routing import Route

from tests.factories import (
    HUAIBEI_CENTRE,
    bearer,
    code_for,
    create_campaign,
    create_member_with_token,
    create_station,
)

LAT, LNG = HUAIBEI_CENTRE


async def _answers(app, requests) -> list[tuple[int, object]]:
    out = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for method, path, kwargs in requests:
                response = await client.request(method, path, **kwargs)
                body = response.json()
                if isinstance(body, dict) and "claim_code" in body:
                    body = {k: v for k, v in body.items() if k not in ("claim_code", "claimed_at")}
                out.append((response.status_code, body))
    return out


@pytest.fixture
async def claim_requests(conn, settings):
    point = await create_station(conn, kind="water_point", amenities=["drinking_water"])
    await create_campaign(conn, [point["id"]])
    await conn.execute(
        "INSERT INTO water_stock (station_id, local_day, allocated, remaining) "
        "SELECT id, (now() AT TIME ZONE time_zone)::date, 100, 100 FROM stations"
    )
    _, token = await create_member_with_token(conn, settings)
    good = {"code": code_for(point, settings), "lat": LAT, "lng": LNG}

    def claim(body, headers):
        headers = {"Content-Type": "application/json", **headers}
        return ("POST", "/v1/claims", {"content": body, "headers": headers})

    def key() -> dict[str, str]:
        return {**bearer(token), "Idempotency-Key": str(uuid.uuid4())}

    import orjson

    return [
        claim(b"{not json", key()),
        claim(b"", key()),
        claim(orjson.dumps({"code": good["code"], "lat": LAT}), key()),
        claim(orjson.dumps({**good, "lat": 91}), key()),
        claim(orjson.dumps({**good, "crs": "mars"}), key()),
        claim(orjson.dumps(good), {"Idempotency-Key": "k"}),
        claim(orjson.dumps(good), {"Authorization": f"Basic {token}", "Idempotency-Key": "k"}),
        claim(orjson.dumps(good), {"Authorization": "Bearer nonsense", "Idempotency-Key": "k"}),
        claim(orjson.dumps(good), bearer(token)),
        claim(orjson.dumps({**good, "code": good["code"] + "x"}), key()),
        claim(orjson.dumps({**good, "presence_code": "12a456"}), key()),
        claim(orjson.dumps({**good, "presence_code": 123456}), key()),
        claim(orjson.dumps(good), key()),
    ]


async def test_claims_lean_route_answers_like_the_documented_route(settings, claim_requests):
    from api.main import create_app

    lean_app = create_app(settings)
    assert any(isinstance(r, Route) and r.path == "/v1/claims" for r in lean_app.router.routes[:3])
    lean = await _answers(lean_app, claim_requests[:-1])
    documented_app = create_app(settings)
    documented_app.router.routes[:] = [
        r
        for r in documented_app.router.routes
        if not (type(r) is Route and r.path in ("/v1/claims", "/v1/stations/nearest"))
    ]
    documented = await _answers(documented_app, claim_requests[:-1])
    assert lean == documented
    assert [status for status, _ in lean] == [
        *(422, 422, 422, 422, 422, 401, 401, 401, 422, 422),
        *(403, 422),  # a malformed presence code; a presence code that is not text
    ]
    assert lean[-2][1]["code"] == "presence_code_invalid"
    assert lean[0][1] == {
        "detail": "body: not valid JSON near character 1; "
        "send a JSON object with the fields documented",
        "code": "invalid_body",
    }
    assert lean[1][1] == {
        "detail": "body: missing; send a JSON object with the fields documented",
        "code": "invalid_body",
    }


async def test_nearest_lean_route_answers_like_the_documented_route(settings, conn):
    from api.main import create_app

    for n in range(3):
        await create_station(conn, name=f"驿站{n}", lat=LAT + n * 0.001, lng=LNG)
    queries = [
        f"lat={LAT}&lng={LNG}",
        f"lat={LAT}&lng={LNG}&k=2&kind=love_station,water_point&amenity=drinking_water",
        f"lat={LAT}&lng={LNG}&access=-customers_only&open_now=true&crs=gcj02",
        f"lng={LNG}",
        f"lat=100&lng={LNG}",
        f"lat={LAT}&lng={LNG}&k=0",
        f"lat={LAT}&lng={LNG}&kind=bus",
        f"lat={LAT}&lng={LNG}&open_now=true&open_at=2026-07-15T04:00:00%2B08:00",
        f"lat={LAT}&lng={LNG}&crs=mars",
        f"lat={LAT}&lng={LNG}&water_now=true",
        f"lat={LAT}&lng={LNG}&water_now=often",
    ]
    requests = [("GET", f"/v1/stations/nearest?{q}", {}) for q in queries]

    def without_instant(answers):
        return [(status, {k: v for k, v in body.items() if k != "at"}) for status, body in answers]

    lean = without_instant(await _answers(create_app(settings), requests))
    documented_app = create_app(settings)
    documented_app.router.routes[:] = [
        r
        for r in documented_app.router.routes
        if not (type(r) is Route and r.path == "/v1/stations/nearest")
    ]
    documented = without_instant(await _answers(documented_app, requests))
    assert lean == documented
    assert [status for status, _ in lean] == [200, 200, 200, 422, 422, 422, 422, 422, 422, 200, 422]
    assert lean[0][1]["count"] == 3
    assert lean[9][1]["count"] == 0  # no station has water today


def test_lean_routes_stay_documented_in_openapi(settings):
    from api.main import create_app

    paths = create_app(settings).openapi()["paths"]
    claim = paths["/v1/claims"]["post"]
    assert claim["requestBody"]["content"]["application/json"]["schema"]
    assert {p["name"] for p in claim["parameters"]} >= {"Idempotency-Key"}
    assert {p["name"] for p in paths["/v1/stations/nearest"]["get"]["parameters"]} >= {
        "lat",
        "lng",
        "k",
    }
