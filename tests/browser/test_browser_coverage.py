"""The coverage map in headless Chromium with every request outside the service blocked.

This is the meeting-room condition: no CDN, no tiles, no internet. The real app runs
under uvicorn on a free loopback port; the browser is Debian's Chromium (installed by
``scripts/system-packages.sh test``), driven by Playwright without its own browsers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stations.settings import TileSettings
from tests.browser.chromium import Watch, chromium, gate, serve, watch_page
from tests.fixtures.coverage.demo_city import build_demo_city


@pytest.fixture
async def live_server(settings, conn):
    """The real app, served by uvicorn in a thread (its own event loop and pool)."""
    from api.main import create_app

    # No tiles, whatever a local .env says.
    no_tiles = settings.model_copy(update={"tiles": TileSettings(url=None)})
    async with serve(create_app(no_tiles)) as url:
        yield url


async def _open(url: str, *, allowed_prefix: str, headers: dict[str, str], shot: Path):
    """Load ``url`` with everything outside ``allowed_prefix`` aborted; report what happened."""
    watch = Watch()
    async with chromium() as browser:
        context = await browser.new_context(
            viewport={"width": 1280, "height": 900}, extra_http_headers=headers
        )
        page = watch_page(await context.new_page(), watch)
        await gate(page, allowed_prefix, watch)
        await page.goto(url, wait_until="load")
        await page.wait_for_selector(".leaflet-overlay-pane svg path", timeout=15_000)
        await page.wait_for_timeout(500)  # let clusters and the legend settle
        counts = {
            "paths": await page.locator(".leaflet-overlay-pane svg path").count(),
            "band_paths": await page.locator("path.ls-band").count(),
            "gap_paths": await page.locator("path.ls-gap-area").count(),
            "stations": await page.locator(".ls-station, .marker-cluster").count(),
            "sites": await page.locator(".ls-site").count(),
            "gains": await page.locator(".ls-site .ls-gain").all_inner_texts(),
            "unused": await page.locator(".ls-unused, .ls-unused-cluster").count(),
            "legend_text": await page.locator(".ls-legend").inner_text(),
            "layer_names": await page.locator(".leaflet-control-layers label").all_inner_texts(),
            "legend": await page.locator(".ls-legend").count(),
            "layer_inputs": await page.locator(".leaflet-control-layers input").count(),
        }
        await page.screenshot(path=str(shot))
    return counts, watch.errors, watch.blocked


async def test_coverage_map_draws_in_chromium_with_only_the_service_reachable(
    live_server, conn, settings, artifacts_dir
):
    await build_demo_city(conn)
    token = settings.security.admin_token.get_secret_value()
    shot = artifacts_dir / "coverage-map.png"
    counts, errors, blocked = await _open(
        f"{live_server}/maps/coverage?city=huaibei&suggest=3",
        allowed_prefix=live_server + "/",
        headers={"Authorization": f"Bearer {token}"},
        shot=shot,
    )
    assert errors == []
    assert blocked == []  # the page asked for nothing outside the service
    assert counts["band_paths"] >= 5  # one path per band present
    assert counts["gap_paths"] >= 1
    assert counts["stations"] >= 5
    assert counts["sites"] == 3
    assert counts["legend"] == 1 and counts["layer_inputs"] >= 9
    assert shot.stat().st_size > 20_000
    # each pick shows the demand it adds, largest first
    gains = [float(g.lstrip("+").replace(",", "")) for g in counts["gains"]]
    assert len(gains) == 3 and gains == sorted(gains, reverse=True) and gains[-1] > 0
    # the legend says which bands are inside the service circle and which are not
    legend = counts["legend_text"]
    inside = legend.index("服务圈内（目标：步行 15 分钟")
    outside = legend.index("服务圈外")
    assert inside < legend.index("≤ 300 米") < legend.index("步行 15 分钟（≈1.1 公里） ·") < outside
    assert outside < legend.index("电动车 15 分钟") < legend.index("远于电动车 15 分钟")
    assert counts["unused"] == 0  # no filter: every station drawn is one the analysis used


async def test_a_filtered_map_greys_the_stations_the_analysis_did_not_use(
    live_server, conn, settings, artifacts_dir
):
    await build_demo_city(conn)  # 27 active stations, 9 with a restroom
    token = settings.security.admin_token.get_secret_value()
    counts, errors, blocked = await _open(
        f"{live_server}/maps/coverage?city=huaibei&amenity=restroom",
        allowed_prefix=live_server + "/",
        headers={"Authorization": f"Bearer {token}"},
        shot=artifacts_dir / "coverage-map-restroom.png",
    )
    assert errors == [] and blocked == []
    assert counts["unused"] >= 1  # grey markers or grey clusters
    assert any(n.strip() == "驿站（9）" for n in counts["layer_names"])
    assert any(n.strip() == "其他驿站（未计入分析：18）" for n in counts["layer_names"])


async def test_downloaded_map_works_as_a_file_with_no_network_at_all(
    live_server, conn, settings, artifacts_dir, tmp_path
):
    import httpx

    await build_demo_city(conn, stations=12, demand=800)
    token = settings.security.admin_token.get_secret_value()
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{live_server}/maps/coverage",
            params={"city": "huaibei", "assets": "inline", "lang": "en", "suggest": 2},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
    assert response.status_code == 200
    path = tmp_path / "coverage-map.html"
    path.write_text(response.text, encoding="utf-8")
    counts, errors, blocked = await _open(
        path.as_uri(),
        allowed_prefix=path.as_uri(),
        headers={},
        shot=artifacts_dir / "coverage-map-offline-en.png",
    )
    assert errors == [] and blocked == []
    assert counts["band_paths"] >= 5 and counts["stations"] >= 3 and counts["sites"] == 2
