"""The rider page on the catalog's vector tiles, in headless Chromium with no internet.

A catalog above ``STATIONS_VECTOR_TILES_MAPS_FROM_STATIONS`` is drawn from the service's
vector tiles: made cheaply here by setting the threshold below the world's few stations
(plus two in other cities). Without a position the map opens on the country at zoom 4
with the per-cell counts; with one it shows the street around the rider with every
station from the tiles, and a tap on one opens its view. The plugin is fetched only in
this mode; both first loads are measured and printed. Screenshots go to
``artifacts/rider-tiles-*.png``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from api.main import create_app
from stations.settings import TileSettings
from tests.browser.chromium import Watch, check_screen, serve
from tests.browser.test_rider_browser import (
    FIRST_LOAD_BUDGET,
    VIEWPORTS,
    first_load_bytes,
    new_page,
    open_context,
)
from tests.factories import create_station

TILES = "/ogc/collections/stations/tiles/WebMercatorQuad/"
PLUGIN = "leaflet.vectorgrid-1.3.0"
BUND = (31.2397, 121.4900)  # a rider on Shanghai's Bund, with five stations around


def tile_zoom(url: str) -> int:
    return int(urlsplit(url).path.removeprefix(TILES).split("/")[0])


@pytest.fixture
async def tiled_service(world, conn, settings):
    """The app with the world above the threshold: its map draws the vector tiles."""
    bund = [
        await create_station(conn, name=name, lat=BUND[0] + dlat, lng=BUND[1] + dlng)
        for name, dlat, dlng in (
            ("外滩爱心驿站", 0.0004, 0.0003),
            ("九江路爱心驿站", -0.0006, -0.0004),
            ("南京东路派水点", 0.0009, -0.0008),
            ("滇池路爱心驿站", -0.0010, 0.0006),
            ("中山东一路派水点", 0.0002, -0.0011),
        )
    ]
    await create_station(conn, name="天安门派水点", kind="water_point", lat=39.9087, lng=116.3975)
    large = settings.model_copy(
        update={
            "tiles": TileSettings(url=None),
            "vector_tiles": settings.vector_tiles.model_copy(update={"maps_from_stations": 3}),
        }
    )
    async with serve(create_app(large)) as url:
        yield url, bund


def record_tiles(page) -> list[tuple[str, int]]:
    answered: list[tuple[str, int]] = []
    page.on(
        "response",
        lambda r: answered.append((r.url, r.status)) if TILES in r.url else None,
    )
    return answered


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_a_large_catalog_opens_on_the_country_with_counts_per_cell(
    browser, tiled_service, artifacts_dir, viewport, capsys
):
    base, _ = tiled_service
    watch = Watch()
    options = {"locale": "zh-CN", "service_workers": "block"}
    if VIEWPORTS[viewport]:
        options |= {"viewport": VIEWPORTS[viewport], "is_mobile": True, "has_touch": True}
    context = await browser.new_context(**options)  # no position: the country is shown
    page = await new_page(context, base, watch)
    answered = record_tiles(page)
    await page.goto(base + "/")
    await page.wait_for_selector(".ls-cell-count")
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(artifacts_dir / f"rider-tiles-{viewport}-zoom4.png"))

    assert answered and {tile_zoom(url) for url, _ in answered} == {4}
    assert {status for _, status in answered} <= {200, 204} and 200 in {s for _, s in answered}
    # Every station of the catalog is counted once on the country's cells: the world's
    # five in Huaibei, five on the Bund and one in Beijing.
    counts = await page.locator(".ls-cell-count").all_inner_texts()
    assert sum(int(c) for c in counts) == 11
    assert await page.locator("path.ls-cell").count() == len(counts)
    names = await page.locator(".ls-cell-count").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))"
    )
    assert any(n.startswith("1 个站点，") for n in names), names
    assert await page.locator(".ls-tile-station").count() == 0
    await check_screen(page)

    transferred = await first_load_bytes(page)
    loaded = await page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    assert any(PLUGIN in url for url in loaded)
    with capsys.disabled():
        kb = transferred / 1000
        print(f"\nrider page first load on the vector tiles ({viewport}): {kb:.1f} kB")
    assert transferred <= FIRST_LOAD_BUDGET

    # In English the counts are named in English.
    await page.locator("#lang").click()
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.ls-cell-count')]"
        ".some(e => (e.getAttribute('aria-label') || '').startsWith('Stations: 1,'))"
    )
    await page.locator("#lang").click()

    # A tap on a cell zooms in on it (three steps, at most to the stations' zoom).
    await page.locator("path.ls-cell").first.click()
    for _ in range(100):
        if any(tile_zoom(url) == 7 for url, _ in answered):
            break
        await page.wait_for_timeout(100)
    assert max(tile_zoom(url) for url, _ in answered) == 7
    await context.close()
    assert watch.blocked == [] and watch.unexpected_errors() == []


async def test_at_street_zoom_every_station_is_drawn_and_a_tap_opens_it(
    browser, tiled_service, artifacts_dir
):
    base, bund = tiled_service
    watch = Watch()
    context = await open_context(browser, "phone", lat=BUND[0], lng=BUND[1])
    page = await new_page(context, base, watch)
    answered = record_tiles(page)
    await page.goto(base + "/")
    await page.wait_for_selector(".station-item")
    await page.wait_for_load_state("networkidle")
    # The nearest answer is framed at zoom 17; one step out is the street at zoom 16.
    assert max(tile_zoom(url) for url, _ in answered) == 17
    await page.locator(".leaflet-control-zoom-out").click()
    for _ in range(100):
        if any(tile_zoom(url) == 16 for url, _ in answered):
            break
        await page.wait_for_timeout(100)
    await page.wait_for_load_state("networkidle")
    last = bund[-1]["id"]
    # Leaflet drops the zoom-17 tiles once the zoom-16 ones are drawn: one path a station.
    await page.wait_for_function(
        f"() => document.querySelectorAll('path.ls-tile-station-{last}').length === 1"
    )
    assert {status for _, status in answered} <= {200, 204} and 200 in {s for _, s in answered}
    await page.screenshot(path=str(artifacts_dir / "rider-tiles-phone-zoom16.png"))

    drawn = await page.locator("path.ls-tile-station").evaluate_all(
        "els => els.map(e => [...e.classList].find(c => /^ls-tile-station-\\d+$/.test(c)))"
    )
    assert {f"ls-tile-station-{station['id']}" for station in bund} <= set(drawn)
    assert await page.locator(".ls-cell").count() == 0
    await check_screen(page)

    # A tap on a station of the tiles opens its view (the nearest answer is not drawn
    # again over them).
    assert await page.locator(".ls-station").count() == 0
    assert await page.locator(".ls-rider").count() == 1
    await page.locator(f"path.ls-tile-station-{last}").click()
    await page.wait_for_selector("#station-view:not([hidden])")
    assert "中山东一路派水点" in await page.locator("#station-view").inner_text()
    await context.close()
    assert watch.blocked == [] and watch.unexpected_errors() == []


async def test_a_small_catalog_never_loads_the_plugin(browser, service, capsys):
    watch = Watch()
    context = await open_context(browser, "phone")
    page = await new_page(context, service, watch)
    answered = record_tiles(page)
    await page.goto(service + "/")
    await page.wait_for_selector(".station-item")
    await page.wait_for_load_state("networkidle")
    loaded = await page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    assert not any(PLUGIN in url for url in loaded) and answered == []
    transferred = await first_load_bytes(page)
    with capsys.disabled():
        print(f"\nrider page first load with markers only (phone): {transferred / 1000:.1f} kB")
    await context.close()
    assert watch.blocked == [] and watch.unexpected_errors() == []
