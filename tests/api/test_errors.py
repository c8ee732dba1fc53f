"""The error contract: every error answer is ``{"detail", "code", **facts}``.

One table (``api.errors.CODES``) names every code with its status and facts. These
tests read the source of ``stations/`` and ``api/`` to check that the table covers every
code a raise site can produce (and the facts each site gives), then check real answers
of the running app against the table: request validation, unknown routes, tokens and
roles, visit refusals with their numbers, and the problem+json negotiation.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from starlette.routing import Route

import api
import stations
from api.errors import CODES, PROBLEM_JSON, RETRY_AFTER_S
from api.main import create_app
from stations import errors
from stations.visits import ratings
from tests.factories import (
    HUAIBEI_CENTRE,
    admin_headers,
    bearer,
    code_for,
    create_campaign,
    create_member_with_token,
    create_staff,
    create_station,
    set_stock,
)

LAT, LNG = HUAIBEI_CENTRE
ROOT = Path(__file__).resolve().parents[2]

# Codes a raise site computes instead of writing them, and where their values are listed.
COMPUTED_CODES = {("stations/visits/ratings.py", "outcome"): set(ratings.REFUSALS)}
# RuleBroken is the verdict of one of the catalog's scalar rules: it is always caught
# inside the rules and the importer, and its codes name problems in an import report.
NEVER_ANSWERED = {"RuleBroken"}


def check_problem(response: httpx.Response, code: str, **facts: Any) -> dict[str, Any]:
    """The answer is an error with this code, its status from the table, its facts."""
    body = response.json()
    entry = CODES[code]
    assert body["code"] == code, body
    assert response.status_code == entry.status, (response.status_code, body)
    assert isinstance(body["detail"], str) and body["detail"]
    given = set(body) - {"detail", "code"}
    assert set(entry.facts) <= given <= set(entry.facts) | set(entry.optional), (code, given)
    for name, value in facts.items():
        assert body[name] == value, (name, body)
    return body


# --- the table covers every code the domain can raise -------------------------------------


def _error_classes() -> dict[str, type[errors.StationsError]]:
    """Every error class, after importing every module that could define one."""
    for package in (stations, api):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    found: dict[str, type[errors.StationsError]] = {}
    todo: list[type[errors.StationsError]] = [errors.StationsError]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


def _raise_sites() -> list[tuple[str, int, type[errors.StationsError], ast.Call]]:
    classes = _error_classes()
    sites = []
    for folder in ("stations", "api"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name in classes and name not in NEVER_ANSWERED:
                    where = path.relative_to(ROOT).as_posix()
                    sites.append((where, node.lineno, classes[name], node))
    return sites


def _code_argument(cls: type[errors.StationsError], call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "code":
            return keyword.value
    names = list(inspect.signature(cls.__init__).parameters)[1:]
    if "code" in names and names.index("code") < len(call.args):
        return call.args[names.index("code")]
    return None


def _gives_the_documented_facts(code: str, given: set[str | None]) -> bool:
    entry = CODES.get(code)
    if entry is None or None in given:  # an unknown code (reported apart), or **facts
        return True
    return set(entry.facts) <= given <= set(entry.facts) | set(entry.optional)


def test_every_code_a_raise_site_can_produce_is_in_the_table():
    sites = _raise_sites()
    assert len(sites) > 100  # the scan found the raise sites
    missing, computed, wrong_facts, wrong_status = [], [], [], []
    for where, line, cls, call in sites:
        argument = _code_argument(cls, call)
        if argument is None:
            field = any(k.arg == "field" for k in call.keywords)
            codes = {"invalid_parameter"} if field else {cls.code}
        elif isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            codes = {argument.value}
            given = {k.arg for k in call.keywords} - {"code", "field"}
            if not _gives_the_documented_facts(argument.value, given):
                wrong_facts.append(f"{where}:{line} {argument.value} gives {sorted(given)}")
        elif (where, ast.unparse(argument)) in COMPUTED_CODES:
            codes = COMPUTED_CODES[where, ast.unparse(argument)]
        else:
            computed.append(f"{where}:{line} {ast.unparse(argument)}")
            continue
        for code in codes:
            if code not in CODES:
                missing.append(f"{where}:{line} {code}")
            elif CODES[code].status != CODES[cls.code].status:
                wrong_status.append(f"{where}:{line} {code} raised as {cls.__name__}")
    assert not missing, "codes missing from api.errors.CODES:\n" + "\n".join(missing)
    assert not computed, "codes computed at the raise site; list them:\n" + "\n".join(computed)
    assert not wrong_facts, "facts that differ from the table:\n" + "\n".join(wrong_facts)
    assert not wrong_status, "status differs from the class's:\n" + "\n".join(wrong_status)


def test_every_error_class_has_a_default_code_in_the_table():
    for name, cls in _error_classes().items():
        if name not in NEVER_ANSWERED:
            assert cls.code in CODES, name


def test_the_openapi_problem_lists_every_code(client_app):
    problem = client_app.openapi()["components"]["schemas"]["Problem"]
    assert problem["required"] == ["detail", "code"]
    assert problem["properties"]["code"]["enum"] == sorted(CODES)
    assert problem["additionalProperties"] is True  # the facts


@pytest.fixture
def client_app(settings):
    return create_app(settings)


# --- real answers ------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["lean", "documented"])
async def test_nearest_out_of_range_names_the_parameter(settings, conn, route):
    app = create_app(settings)
    if route == "documented":  # without the lean route in front (see api/lean.py)
        app.router.routes[:] = [r for r in app.router.routes if type(r) is not Route]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/v1/stations/nearest?lat=100&lng=0")
    body = check_problem(response, "invalid_parameter", field="lat")
    assert body["detail"] == "lat: must be a latitude in degrees from -90 to 90 (got '100')"


async def test_validation_errors_name_the_first_field_or_the_body(client, conn, settings):
    station = await create_station(conn)
    batch = await client.post(
        "/v1/stations/nearest:batch",
        json={"points": [{"lat": 95}]},
        headers=admin_headers(settings),
    )
    check_problem(batch, "invalid_parameter", field="points.0.lat")
    not_json = await client.post(
        "/v1/stations/nearest:batch",
        content=b"{",
        headers={"Content-Type": "application/json", **admin_headers(settings)},
    )
    check_problem(not_json, "invalid_body")
    huge_id = await client.get("/v1/stations/99999999999999999999")
    check_problem(huge_id, "invalid_parameter", field="station_id")
    gone = await client.get(f"/v1/stations/{station['id'] + 1}")
    check_problem(gone, "station_not_found", station_id=station["id"] + 1)


async def test_json_numbers_are_not_booleans_or_strings(client, conn, settings):
    """``true`` is not 1 and ``"5"`` is not 5: such a body is refused, never coerced."""
    await create_station(conn)
    admin = admin_headers(settings)
    point = {"lat": 33.95, "lng": 116.8}
    for body, field in (
        ({"points": [{"lat": True, "lng": 116.8}]}, "points.0.lat"),
        ({"points": [{"lat": 33.95, "lng": "116.8"}]}, "points.0.lng"),
        ({"points": [point], "k": True}, "k"),
        ({"points": [point], "radius_m": "500"}, "radius_m"),
        ({"points": [point], "min_rating": False}, "min_rating"),
    ):
        answer = await client.post("/v1/stations/nearest:batch", json=body, headers=admin)
        check_problem(answer, "invalid_parameter", field=field)
    route = {"type": "LineString", "coordinates": [[116.78, 33.95], [116.8, True]]}
    answer = await client.post("/v1/stations/along-route", json={"route": route})
    check_problem(answer, "invalid_parameter", field="route.coordinates.1.1")
    route["coordinates"][1][1] = 33.96
    answer = await client.post("/v1/stations/along-route", json={"route": route, "limit": True})
    check_problem(answer, "invalid_parameter", field="limit")
    fine = await client.post(
        "/v1/stations/nearest:batch", json={"points": [point], "k": 2}, headers=admin
    )
    assert fine.status_code == 200


async def test_unknown_paths_and_methods_have_codes(client):
    check_problem(await client.get("/v1/nothing-here"), "not_found")
    check_problem(await client.get("/web/nothing.js"), "not_found")
    wrong_method = await client.delete("/v1/stations/nearest")
    check_problem(wrong_method, "method_not_allowed")
    assert "GET" in wrong_method.headers["allow"]


async def test_tokens_and_roles_have_codes(client, conn, settings):
    station = await create_station(conn)
    sid = station["id"]
    missing = await client.get(f"/v1/stations/{sid}/stock")
    check_problem(missing, "unauthorized")
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = await client.get(f"/v1/stations/{sid}/stock", headers=bearer("ls_nonsense"))
    check_problem(wrong, "unauthorized")
    planner = await create_staff(conn, role="planner")
    check_problem(
        await client.get(f"/v1/stations/{sid}/stock", headers=bearer(planner)),
        "role_required",
        roles=["admin", "operator"],
        role="planner",
    )
    elsewhere = await create_staff(conn, station_ids=[(await create_station(conn))["id"]])
    check_problem(
        await client.get(f"/v1/stations/{sid}/stock", headers=bearer(elsewhere)),
        "not_station_operator",
        station_id=sid,
    )
    failed = await client.post("/v1/auth/member", json={"member_no": "X1", "phone": "139"})
    check_problem(failed, "sign_in_failed")


async def test_a_stale_version_says_which_version_is_current(client, conn, settings):
    station = await create_station(conn)
    admin = bearer(settings.security.admin_token.get_secret_value())
    stale = await client.patch(
        f"/v1/stations/{station['id']}",
        json={"name": "新名字"},
        headers=admin | {"If-Match": '"7"'},
    )
    check_problem(stale, "version_conflict", version=station["version"], expected_version=7)


async def test_refusals_of_claims_and_check_ins_carry_their_numbers(client, conn, settings):
    water = await create_station(conn, kind="water_point")
    love = await create_station(conn, lat=LAT + 0.002)
    await create_campaign(conn, [water["id"]], geofence_m=200)
    await set_stock(conn, water["id"], 0)
    _, token = await create_member_with_token(conn, settings)
    claim_body = {"code": code_for(water, settings), "lat": LAT + 0.01, "lng": LNG}

    async def claim(body: dict) -> httpx.Response:
        headers = bearer(token) | {"Idempotency-Key": str(uuid.uuid4())}
        return await client.post("/v1/claims", json=body, headers=headers)

    far = check_problem(await claim(claim_body), "outside_geofence", radius_m=200)
    # About 1,110 m, said as the next 100 m up (the answer names the member).
    assert far["distance_m"] == 1200 and isinstance(far["distance_m"], int)
    check_problem(await claim({**claim_body, "lat": LAT}), "out_of_stock", stock_set=True)

    check_in = {"code": code_for(love, settings), "lat": LAT + 0.012, "lng": LNG}
    away = await client.post("/v1/checkins", json=check_in, headers=bearer(token))
    body = check_problem(away, "outside_geofence", radius_m=300)
    assert body["distance_m"] == 1200


async def test_problem_json_when_the_client_asks_for_it(client):
    asked = await client.get("/v1/stations/nearest?lat=100&lng=0", headers={"Accept": PROBLEM_JSON})
    assert asked.headers["content-type"] == PROBLEM_JSON
    check_problem(asked, "invalid_parameter", field="lat")
    for accept in ("application/json", "*/*", None):
        headers = {"Accept": accept} if accept else {}
        plain = await client.get("/v1/nothing", headers=headers)
        assert plain.headers["content-type"] == "application/json", accept
        check_problem(plain, "not_found")
    both = await client.get(
        "/v1/nothing", headers={"Accept": f"{PROBLEM_JSON}, application/json;q=0.5"}
    )
    assert both.headers["content-type"] == PROBLEM_JSON


async def test_database_trouble_and_faults_have_codes(settings, conn):
    app = create_app(settings)
    probes = APIRouter()

    @probes.get("/probe/database")
    async def database_away() -> None:
        raise errors.DatabaseUnavailable("cannot reach the database; retry in a moment")

    @probes.get("/probe/fault")
    async def fault() -> None:
        raise RuntimeError("a bug")

    app.include_router(probes)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            away = await http.get("/probe/database")
            failed = await http.get("/probe/fault", headers={"Accept": PROBLEM_JSON})
    check_problem(away, "database_unavailable")
    assert away.headers["retry-after"] == RETRY_AFTER_S
    check_problem(failed, "internal_error")
    assert failed.headers["content-type"] == PROBLEM_JSON
    assert "a bug" not in failed.text
