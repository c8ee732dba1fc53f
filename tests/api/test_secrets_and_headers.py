"""Secrets that protect something, and the headers every page is sent with.

The development placeholder admin token works over loopback only; production refuses
short or repetitive secrets; ``/docs`` loads Swagger UI from the service's own files
(vendored with licence and checksum) and is off in production; every HTML page gets a
Content-Security-Policy, framing, nosniff and referrer headers from one middleware.
"""

from __future__ import annotations

import hashlib
import json
import re

import httpx
import pytest
from pydantic import SecretStr

from api.main import create_app
from maps.assets import VENDOR_DIR
from stations.settings import DEV_PLACEHOLDER, SecuritySettings
from tests.factories import admin_headers

STRONG = "Zq7-a-real-secret-value-of-32-bytes-x9"


async def _client(app, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def test_the_placeholder_admin_token_works_over_loopback_only(app, settings):
    assert settings.security.admin_token.get_secret_value() == DEV_PLACEHOLDER
    for base_url, status in (
        ("http://127.0.0.1:8000", 200),
        ("http://[::1]:8000", 200),
        ("http://10.20.30.40:8000", 401),
        ("http://203.0.113.9", 401),
    ):
        async with await _client(app, base_url) as client:
            response = await client.get("/v1/auth/me", headers=admin_headers(settings))
        assert response.status_code == status, (base_url, response.text)
        if status == 401:
            assert response.json()["code"] == "unauthorized"
            assert "loopback" in response.json()["detail"]


async def test_a_real_admin_token_works_from_anywhere(settings, conn):
    security = settings.security.model_copy(update={"admin_token": SecretStr(STRONG)})
    real = create_app(settings.model_copy(update={"security": security}))
    async with real.router.lifespan_context(real), await _client(real, "http://10.0.0.1") as c:
        response = await c.get("/v1/auth/me", headers={"Authorization": f"Bearer {STRONG}"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "weak", ["x", "short-but-random-Kq3", "a" * 64, "abcdefgh" * 5, "Zq7-almost-32-bytes-long-xx"]
)
def test_production_refuses_weak_secrets(weak):
    good = {"pii_hash_key": STRONG + "p", "qr_keys": {"k1": STRONG + "q"}}
    with pytest.raises(ValueError, match="STATIONS_ADMIN_TOKEN is too weak for production"):
        SecuritySettings(environment="production", admin_token=weak, **good)
    with pytest.raises(ValueError, match="STATIONS_QR_KEYS \\(key 'k1'\\) is too weak"):
        SecuritySettings(
            environment="production",
            admin_token=STRONG,
            pii_hash_key=STRONG + "p",
            qr_keys={"k1": weak},
        )
    assert SecuritySettings(environment="production", admin_token=STRONG, **good)


async def test_docs_load_swagger_ui_from_the_service_itself(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    html = page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "<script>" not in html  # no inline script: CSP script-src 'self' holds
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors" in csp
    manifest = json.loads((VENDOR_DIR / "MANIFEST.json").read_text())
    files = manifest["swagger-ui-dist-5.36.0"]["files"]
    for source in sources:
        asset = await client.get(source)
        assert asset.status_code == 200, source
        name = source.rsplit("/", 1)[1]
        if name in files:
            assert hashlib.sha256(asset.content).hexdigest() == files[name], name
    assert (VENDOR_DIR / "swagger-ui-dist-5.36.0" / "LICENSE").is_file()
    assert (await client.get("/redoc")).status_code == 404  # FastAPI's CDN page is off
    assert (await client.get("/openapi.json")).status_code == 200


async def test_docs_are_off_in_production_unless_asked_for(settings):
    security = SecuritySettings(
        environment="production",
        admin_token=STRONG,
        pii_hash_key=STRONG + "p",
        qr_keys={"k1": STRONG + "q"},
    )
    production = settings.model_copy(update={"security": security})
    async with await _client(create_app(production), "http://127.0.0.1") as client:
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 200
    asked = production.model_copy(update={"api": production.api.model_copy(update={"docs": "on"})})
    async with await _client(create_app(asked), "http://127.0.0.1") as client:
        assert (await client.get("/docs")).status_code == 200


async def test_every_html_page_is_sent_with_the_security_headers(client, settings):
    pages = {
        "rider": await client.get("/", headers={"Accept": "text/html"}),
        "console": await client.get("/staff/", headers={"Accept": "text/html"}),
        "docs": await client.get("/docs"),
        "coverage map": await client.get(
            "/maps/coverage",
            params={"bbox": "116.7,33.9,116.8,34.0", "res": 8},
            headers=admin_headers(settings),
        ),
    }
    for name, page in pages.items():
        assert page.status_code == 200, (name, page.status_code, page.text[:200])
        assert page.headers["content-type"].startswith("text/html"), name
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "object-src 'none'" in csp, name
        assert "frame-ancestors" in csp or "x-frame-options" in page.headers, name
        assert page.headers["x-content-type-options"] == "nosniff", name
        assert page.headers["referrer-policy"], name
    # The map's inline scripts are allowed; nothing outside the service is.
    assert "https:" not in pages["coverage map"].headers["content-security-policy"]
    assert pages["coverage map"].headers["x-frame-options"] == "SAMEORIGIN"
    # JSON answers are not sniffed either.
    health = await client.get("/healthz")
    assert health.headers["x-content-type-options"] == "nosniff"
