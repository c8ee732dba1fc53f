"""The settings an app is built with are the settings it uses, whatever the environment says.

``create_app(settings)`` hands its coverage and tile groups to the coverage summary,
the coverage map and the rider page; nothing reads ``STATIONS_*`` on a request.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from api.main import create_app
from stations.settings import CoverageSettings, Settings, TileSettings
from tests.fixtures.coverage.demo_city import build_demo_city

SETTINGS_TILES = "http://tiles.from-settings.test/{z}/{x}/{y}.png"
ENVIRONMENT_TILES = "http://tiles.from-environment.test/{z}/{x}/{y}.png"
HTML = {"Accept": "text/html"}


@pytest.fixture
def environment_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATIONS_COVERAGE_MINUTES", "20")
    monkeypatch.setenv("STATIONS_COVERAGE_WALK_KMH", "3")
    monkeypatch.setenv("STATIONS_COVERAGE_EBIKE_KMH", "12")
    monkeypatch.setenv("STATIONS_TILES_URL", ENVIRONMENT_TILES)
    monkeypatch.setenv("STATIONS_TILES_CRS", "wgs84")


@pytest.fixture
async def http(
    settings: Settings, conn, environment_says_otherwise: None
) -> AsyncIterator[httpx.AsyncClient]:
    """The app built with its own coverage and tile settings, lifespan running."""
    custom = settings.model_copy(
        update={
            "coverage": CoverageSettings(minutes=10, walk_kmh=6, ebike_kmh=24),
            "tiles": TileSettings(url=SETTINGS_TILES, crs="gcj02", attribution="settings tiles"),
        }
    )
    app = create_app(custom)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
def auth(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.security.admin_token.get_secret_value()}"}


async def test_coverage_summary_uses_the_apps_bands(http, conn, auth):
    await build_demo_city(conn, stations=10, demand=300)
    response = await http.get(
        "/v1/coverage/summary", params={"city": "huaibei", "res": 7, "lang": "en"}, headers=auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["target"]["name"] == "walk_10min"
    bands = {b["name"]: b["max_m"] for b in body["bands"]}
    assert bands["walk_10min"] == 1000.0  # 6 km/h for 10 minutes
    assert bands["ebike_10min"] == 4000.0  # 24 km/h for 10 minutes
    assert not any(name.endswith("_20min") for name in bands)


async def test_coverage_map_uses_the_apps_tiles(http, conn, auth):
    await build_demo_city(conn, stations=10, demand=300)
    response = await http.get(
        "/maps/coverage", params={"city": "huaibei", "res": 7, "lang": "en"}, headers=auth
    )
    assert response.status_code == 200, response.text
    assert "tiles.from-settings.test" in response.text
    assert "tiles.from-environment.test" not in response.text
    assert "10 min on foot" in response.text


async def test_rider_page_config_uses_the_apps_speeds_and_tiles(http):
    response = await http.get("/", headers=HTML)
    assert response.status_code == 200
    match = re.search(r'<script type="application/json" id="config">(.*?)</script>', response.text)
    assert match, "the page carries its config"
    config = json.loads(match.group(1))
    assert config["speeds"] == {"walk_kmh": 6.0, "ebike_kmh": 24.0}
    assert config["tiles"]["url"] == SETTINGS_TILES
    assert config["tiles"]["crs"] == "gcj02"
    assert config["tiles"]["attribution"] == "settings tiles"
    assert "tiles.from-settings.test" in response.headers["content-security-policy"]
