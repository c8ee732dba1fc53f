"""Bearer tokens and roles at the HTTP boundary."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from fastapi import APIRouter

from api.auth import AdminDep, Principal, ensure_station_access
from stations.errors import Forbidden
from stations.people import accounts
from stations.settings import SecuritySettings
from tests.factories import (
    bearer,
    code_for,
    create_member_with_token,
    create_staff,
    create_station,
    run_cli,
)


@pytest.fixture
async def guarded_client(settings, conn):
    import httpx

    from api.main import create_app

    app = create_app(settings)
    router = APIRouter()

    @router.get("/probe/admin")
    async def admin_only(principal: AdminDep) -> dict[str, str]:
        return {"subject": principal.subject}

    app.include_router(router)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield http


async def test_missing_token_is_401_with_how_to_send_one(guarded_client):
    response = await guarded_client.get("/probe/admin")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "send a bearer token (`Authorization: Bearer <token>`) "
        "or sign in to the staff console",
        "code": "unauthorized",
    }
    assert response.headers["www-authenticate"] == "Bearer"


async def test_wrong_token_is_401(guarded_client):
    response = await guarded_client.get("/probe/admin", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert "not valid" in response.json()["detail"]
    assert response.json()["code"] == "unauthorized"


async def test_admin_token_from_settings_is_admin(guarded_client, settings):
    token = settings.security.admin_token.get_secret_value()
    response = await guarded_client.get(
        "/probe/admin", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.json() == {"subject": "admin"}


async def test_operator_reaches_only_own_stations(conn):
    operator = Principal(role="operator", subject="operator:7", station_ids=frozenset({1, 2}))
    await ensure_station_access(conn, operator, 1)
    with pytest.raises(Forbidden, match="you do not operate station 3"):
        await ensure_station_access(conn, operator, 3)
    member = Principal(role="member", subject="member:1")
    with pytest.raises(Forbidden):
        await ensure_station_access(conn, member, 1)


def test_placeholder_secret_is_refused_in_production(monkeypatch):
    monkeypatch.setenv("STATIONS_ENVIRONMENT", "production")
    monkeypatch.delenv("STATIONS_ADMIN_TOKEN", raising=False)
    with pytest.raises(ValueError, match="STATIONS_ADMIN_TOKEN still has the development"):
        SecuritySettings()
    monkeypatch.setenv("STATIONS_ADMIN_TOKEN", "Zq7-a-real-secret-value-of-32-bytes-x9")
    monkeypatch.setenv("STATIONS_PII_HASH_KEY", "Kp3-another-real-secret-of-32-bytes-m4")
    monkeypatch.setenv("STATIONS_QR_KEYS", '{"k1": "Wd5-a-real-qr-key-of-32-bytes-or-more-h2"}')
    assert SecuritySettings().environment == "production"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("STATIONS_PII_HASH_KEY", None, "STATIONS_PII_HASH_KEY still has the development"),
        (
            "STATIONS_QR_KEYS",
            '{"k1": "Wd5-a-real-qr-key-of-32-bytes-or-more-h2", "k2": "change-me-in-production"}',
            "STATIONS_QR_KEYS (key 'k2') still has the development",
        ),
    ],
)
def test_placeholder_visit_secrets_are_refused_in_production(monkeypatch, variable, value, message):
    monkeypatch.setenv("STATIONS_ENVIRONMENT", "production")
    monkeypatch.setenv("STATIONS_ADMIN_TOKEN", "Zq7-a-real-secret-value-of-32-bytes-x9")
    monkeypatch.setenv("STATIONS_PII_HASH_KEY", "Kp3-another-real-secret-of-32-bytes-m4")
    monkeypatch.setenv("STATIONS_QR_KEYS", '{"k1": "Wd5-a-real-qr-key-of-32-bytes-or-more-h2"}')
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=re.escape(message)):
        SecuritySettings()


def test_qr_key_lists_must_be_consistent():
    with pytest.raises(ValueError, match="names \\['k9'\\] but STATIONS_QR_KEYS has no secret"):
        SecuritySettings(qr_active_keys=["k9"])
    with pytest.raises(ValueError, match="both as active and as retired"):
        SecuritySettings(qr_retired_keys=["k1"])


# --- tokens from the database: members, operators, planners, administrators -------------


async def test_operator_of_station_a_is_refused_on_station_b(client, conn):
    station_a = await create_station(conn, name="甲站")
    station_b = await create_station(conn, name="乙站")
    operator = await create_staff(conn, station_ids=[station_a["id"]])
    headers = bearer(operator)
    a, b = station_a["id"], station_b["id"]
    assert (await client.get(f"/v1/stations/{a}/stock", headers=headers)).status_code == 200
    for method, path, body in [
        ("GET", f"/v1/stations/{b}/stock", None),
        ("PUT", f"/v1/stations/{b}/stock", {"allocated": 10}),
        ("POST", f"/v1/stations/{b}/stock/top-up", {"count": 5}),
        ("GET", f"/v1/stations/{b}/qr.svg", None),
        ("GET", f"/v1/stations/{b}/qr.png", None),
        ("GET", f"/v1/claims?station_id={b}", None),
        ("POST", f"/v1/review-queue/{b}/reviewed", {}),
    ]:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, path)
        assert response.json() == {
            "detail": f"you do not operate station {b}",
            "code": "not_station_operator",
            "station_id": b,
        }


async def test_roles_are_checked_per_endpoint(client, conn, settings):
    station = await create_station(conn)
    planner = await create_staff(conn, role="planner")
    _, member = await create_member_with_token(conn, settings)
    sid = station["id"]
    refused = await client.put(
        f"/v1/stations/{sid}/stock", json={"allocated": 1}, headers=bearer(planner)
    )
    assert refused.json() == {
        "detail": "this needs the role admin or operator; you are planner",
        "code": "role_required",
        "roles": ["admin", "operator"],
        "role": "planner",
    }
    assert refused.status_code == 403
    as_member = await client.get("/v1/review-queue", headers=bearer(member))
    assert as_member.status_code == 403
    campaigns_for_planner = await client.get("/v1/campaigns", headers=bearer(planner))
    assert campaigns_for_planner.status_code == 200
    create_as_planner = await client.post(
        "/v1/campaigns",
        json={"name": "x", "starts_on": "2025-07-01", "ends_on": "2025-07-31"},
        headers=bearer(planner),
    )
    assert create_as_planner.json() == {
        "detail": "this needs the role admin; you are planner",
        "code": "role_required",
        "roles": ["admin"],
        "role": "planner",
    }


async def test_admin_account_token_acts_on_every_station(client, conn):
    station = await create_station(conn)
    admin = await create_staff(conn, role="admin")
    response = await client.put(
        f"/v1/stations/{station['id']}/stock", json={"allocated": 7}, headers=bearer(admin)
    )
    assert response.status_code == 200
    assert response.json()["remaining"] == 7


async def test_expired_token_is_401(client, conn, settings):
    _, token = await create_member_with_token(conn, settings)
    await conn.execute(
        "UPDATE api_tokens SET created_at = now() - interval '2 days', "
        "expires_at = now() - interval '1 second'"
    )
    response = await client.get("/v1/auth/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == {
        "detail": "the bearer token is not valid (expired, revoked or mistyped)",
        "code": "unauthorized",
    }


async def test_disabled_account_loses_its_tokens(client, conn):
    station = await create_station(conn)
    token = await create_staff(conn, station_ids=[station["id"]], name="人民路驿站")
    assert (await client.get("/v1/auth/me", headers=bearer(token))).json() == {
        "role": "operator",
        "subject": "operator:人民路驿站",
        "station_ids": [station["id"]],
    }
    await accounts.disable_account(conn, name="人民路驿站")
    # The worker had it cached; the revocation notice empties that cache
    # (tests/api/test_revocations.py shows it for several workers).
    for _ in range(50):
        if (await client.get("/v1/auth/me", headers=bearer(token))).status_code == 401:
            break
        await asyncio.sleep(0.02)
    assert (await client.get("/v1/auth/me", headers=bearer(token))).status_code == 401


async def test_staff_token_cannot_claim(client, conn, settings):
    station = await create_station(conn)
    operator = await create_staff(conn, station_ids=[station["id"]])
    response = await client.post(
        "/v1/claims",
        json={"code": code_for(station, settings), "lat": 33.9556, "lng": 116.7983},
        headers=bearer(operator) | {"Idempotency-Key": "k"},
    )
    assert response.status_code == 403
    assert response.json() == {
        "detail": "this needs the role member; you are operator",
        "code": "role_required",
        "roles": ["member"],
        "role": "operator",
    }


async def test_cli_adds_an_operator_and_prints_a_working_token(client, conn, settings):
    station = await create_station(conn)
    code, out, err = await run_cli(
        settings, "accounts", "add", "相山驿站", "--station", station["code"]
    )
    assert code == 0, err
    assert out.splitlines()[0].startswith("operator account '相山驿站' created (id ")
    token = out.split("token (shown once; store it safely): ")[1].split()[0]
    me = await client.get("/v1/auth/me", headers=bearer(token))
    assert me.json()["station_ids"] == [station["id"]]
    code, out, err = await run_cli(settings, "accounts", "add", "规划科", "--role", "planner")
    assert code == 0, err
    planner = out.split("token (shown once; store it safely): ")[1].split()[0]
    assert (await client.get("/v1/auth/me", headers=bearer(planner))).json()["role"] == "planner"


async def test_wrong_bearer_tokens_are_throttled_per_address(app, conn, settings):
    """Guessing tokens from one address: a few free, then 429 before any lookup; a good
    token from another address is not affected."""
    _, token = await create_member_with_token(conn, settings)
    guesser = httpx.ASGITransport(app=app, client=("198.51.100.23", 40000))
    statuses = []
    async with httpx.AsyncClient(transport=guesser, base_url="http://127.0.0.1") as client:
        for n in range(40):
            guess = {"Authorization": f"Bearer ls_{n:043d}"}
            statuses.append((await client.get("/v1/auth/me", headers=guess)).status_code)
        refused = await client.get("/v1/auth/me", headers=bearer(token))
    free = settings.staff.address_attempts_free
    assert statuses[:free] == [401] * free
    assert set(statuses[free:]) == {429}, statuses
    assert refused.status_code == 429  # even a good token waits from that address
    assert int(refused.headers["Retry-After"]) >= 1
    other = httpx.ASGITransport(app=app, client=("198.51.100.24", 40000))
    async with httpx.AsyncClient(transport=other, base_url="http://127.0.0.1") as client:
        assert (await client.get("/v1/auth/me", headers=bearer(token))).status_code == 200
