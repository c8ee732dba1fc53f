"""``/docs`` in headless Chromium with nothing outside the service reachable.

Swagger UI comes from the service's own files and runs under the page's strict
Content-Security-Policy (no inline script): the operations are listed, one opens, and
the browser reports no error and no blocked request. Screenshots at 360×740 and
1366×768 go to ``artifacts/docs-*.png``.
"""

from __future__ import annotations

from api.main import create_app
from tests.browser.chromium import VIEWPORTS, Watch, chromium, gate, serve, watch_page


async def test_docs_render_offline_under_their_csp(settings, conn, artifacts_dir):
    async with serve(create_app(settings)) as base_url, chromium() as browser:
        for name, viewport in VIEWPORTS.items():
            watch = Watch()
            context = await browser.new_context(viewport=viewport)
            page = watch_page(await context.new_page(), watch)
            await gate(page, base_url + "/", watch)
            await page.goto(f"{base_url}/docs", wait_until="load")
            await page.wait_for_selector(".opblock-summary", timeout=20_000)
            operations = await page.locator(".opblock-summary").count()
            assert operations > 40, operations
            title = await page.locator(".title").first.inner_text()
            assert "Love Stations" in title
            nearest = page.locator(".opblock-summary", has_text="/v1/stations/nearest").first
            await nearest.click()
            await page.wait_for_selector(".opblock-body", timeout=10_000)
            await page.screenshot(path=str(artifacts_dir / f"docs-{name}.png"))
            await context.close()
            assert watch.errors == [], watch.errors
            assert watch.blocked == [], watch.blocked
