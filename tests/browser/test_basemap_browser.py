"""Base maps without internet, on the rider page in headless Chromium (outside network
blocked): a local MBTiles file served by the service is drawn under the stations, and
with no tiles at all the reference layer (city and district outlines, main roads) is.
Screenshots go to ``artifacts/rider-basemap-*.png`` and ``rider-reference-*.png``.
"""

from __future__ import annotations

import pytest

from api.main import create_app
from stations.settings import BasemapSettings, TileSettings
from tests.browser.chromium import Watch, check_screen, serve
from tests.browser.test_rider_browser import VIEWPORTS, new_page, open_context
from tests.factories import HUAIBEI_CENTRE
from tests.tiles.basemap_files import tiles_around, vector_tiles_around, write_mbtiles

LAT, LNG = HUAIBEI_CENTRE


async def test_a_local_mbtiles_file_is_drawn_under_the_stations(
    browser, world, settings, tmp_path, artifacts_dir
):
    path = write_mbtiles(tmp_path / "huaibei.mbtiles", tiles_around(LAT, LNG, range(12, 17)))
    local = settings.model_copy(
        update={"tiles": TileSettings(url=None), "basemap": BasemapSettings(file=path)}
    )
    watch = Watch()
    async with serve(create_app(local)) as base:
        context = await open_context(browser, "phone")
        page = await new_page(context, base, watch)
        answered: list[tuple[str, int]] = []
        page.on(
            "response",
            lambda r: answered.append((r.url, r.status)) if "/basemap/" in r.url else None,
        )
        await page.goto(base + "/")
        await page.wait_for_selector(".station-item")
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=str(artifacts_dir / "rider-basemap-phone.png"))

        drawn = await page.locator(".ls-basemap img.leaflet-tile").evaluate_all(
            "imgs => imgs.filter(i => i.complete && i.naturalWidth === 256).map(i => i.src)"
        )
        assert drawn and all(f"{base}/basemap/" in src for src in drawn)
        assert {status for _, status in answered} <= {200, 204}
        assert sum(status == 200 for _, status in answered) >= len(drawn)
        # The file's credit is shown; the stations are drawn over the tiles.
        assert "测试底图" in await page.locator(".leaflet-control-attribution").inner_text()
        assert await page.locator(f".ls-station-{world.water['id']}").count() == 1
        await check_screen(page)
        await context.close()
    assert watch.blocked == [] and watch.unexpected_errors() == []


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_with_no_tiles_the_reference_outlines_are_drawn(
    browser, service, artifacts_dir, viewport
):
    watch = Watch()
    context = await open_context(browser, viewport)
    page = await new_page(context, service, watch)
    await page.goto(service + "/")
    await page.wait_for_selector(".station-item")
    await page.wait_for_selector(".ls-ref-label")
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(artifacts_dir / f"rider-reference-{viewport}.png"))
    labels = await page.locator(".ls-ref-label").all_inner_texts()
    assert {"淮北市（中心城区）", "相山区", "杜集区"} <= set(labels)
    assert await page.locator(".leaflet-lsReference-pane path").count() > len(labels)  # + roads
    assert await page.locator("img.leaflet-tile").count() == 0
    await check_screen(page)
    await context.close()
    assert watch.blocked == [] and watch.unexpected_errors() == []


async def test_a_vector_base_map_is_drawn_with_plain_colours(
    browser, world, settings, tmp_path, artifacts_dir
):
    path = write_mbtiles(
        tmp_path / "huaibei-vector.mbtiles",
        vector_tiles_around(LAT, LNG, range(12, 15)),
        format="pbf",
    )
    local = settings.model_copy(
        update={"tiles": TileSettings(url=None), "basemap": BasemapSettings(file=path)}
    )
    watch = Watch()
    async with serve(create_app(local)) as base:
        context = await open_context(browser, "phone")
        page = await new_page(context, base, watch)
        answered: list[tuple[str, int]] = []
        page.on(
            "response",
            lambda r: answered.append((r.url, r.status)) if "/basemap/" in r.url else None,
        )
        await page.goto(base + "/")
        await page.wait_for_selector(".station-item")
        await page.wait_for_selector(".ls-basemap path")
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=str(artifacts_dir / "rider-basemap-vector-phone.png"))
        fills = await page.locator(".ls-basemap path").evaluate_all(
            "paths => paths.map(p => p.getAttribute('fill'))"
        )
        assert "#b9d3e6" in fills  # the water polygons, in the water colour
        assert sum(status == 200 for _, status in answered) >= 1
        assert {status for _, status in answered} <= {200, 204}
        await check_screen(page)
        await context.close()
    assert watch.blocked == [] and watch.unexpected_errors() == []
