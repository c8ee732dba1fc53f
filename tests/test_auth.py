"""Bearer tokens and roles at the HTTP boundary."""

from __future__ import annotations

import pytest
from fastapi import APIRouter

from api.auth import AdminDep, Principal, ensure_station_access
from stations.errors import Forbidden
from stations.settings import SecuritySettings


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
    assert response.json() == {"detail": "send a bearer token: `Authorization: Bearer <token>`"}
    assert response.headers["www-authenticate"] == "Bearer"


async def test_wrong_token_is_401(guarded_client):
    response = await guarded_client.get("/probe/admin", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert "not valid" in response.json()["detail"]


async def test_admin_token_from_settings_is_admin(guarded_client, settings):
    token = settings.security.admin_token.get_secret_value()
    response = await guarded_client.get(
        "/probe/admin", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.json() == {"subject": "admin"}


def test_operator_reaches_only_own_stations():
    operator = Principal(role="operator", subject="operator:7", station_ids=frozenset({1, 2}))
    ensure_station_access(operator, 1)
    with pytest.raises(Forbidden, match="you do not operate station 3"):
        ensure_station_access(operator, 3)
    member = Principal(role="member", subject="member:1")
    with pytest.raises(Forbidden):
        ensure_station_access(member, 1)


def test_placeholder_secret_is_refused_in_production(monkeypatch):
    monkeypatch.setenv("STATIONS_ENVIRONMENT", "production")
    monkeypatch.delenv("STATIONS_ADMIN_TOKEN", raising=False)
    with pytest.raises(ValueError, match="STATIONS_ADMIN_TOKEN still has the development"):
        SecuritySettings()
    monkeypatch.setenv("STATIONS_ADMIN_TOKEN", "a-real-secret-value")
    assert SecuritySettings().environment == "production"
