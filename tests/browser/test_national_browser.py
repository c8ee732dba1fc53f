"""The national demo on the rider page and the planner's map, in headless Chromium.

The catalog is the national demo at a fiftieth of its size (``stations demo --national
--scale 0.02``: 7,874 stations over every province, loaded through the importer as the
command does), which is above the default ``STATIONS_VECTOR_TILES_MAPS_FROM_STATIONS``
(3,000): the maps switch to the vector tiles by the service's own count, not a lowered
threshold. The full-size figures (393,700 stations) are ``bench/tiles.py --national``'s.

- The rider page with no position opens on China at zoom 4: the cells on the map
  count every station the tiles draw, and the first load stays within 300 kB.
- A rider in Shanghai gets the same nearest list as the API answers, and one zoom out
  from the answer's frame (zoom 16) the street's stations are dots from the tiles.
- A planner's coverage map draws the catalog from the same tiles under its bands.

Screenshots: ``artifacts/national-rider-zoom4.png``, ``national-rider-zoom16.png``,
``national-planner-*.png``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from api.main import create_app
from stations.demo.load import load_demo
from stations.demo.national import generate_national
from stations.settings import TileSettings
from tests.browser.chromium import Watch, check_screen, gate, serve, watch_page
from tests.browser.test_rider_browser import FIRST_LOAD_BUDGET, first_load_bytes, new_page
from tests.factories import create_staff

SCALE = 0.02
TILES = "/ogc/collections/stations/tiles/WebMercatorQuad/"
PLANNER, PASSWORD = "全国规划", "planner password 1"
SIGNED_OUT = r"Failed to load resource: the server responded with a status of 401"


def tile_of(url: str) -> tuple[int, int, int]:
    z, y, x = urlsplit(url).path.removeprefix(TILES).split("/")
    return int(z), int(y), int(x)


def record_tiles(page) -> list[tuple[str, int]]:
    answered: list[tuple[str, int]] = []
    page.on("response", lambda r: answered.append((r.url, r.status)) if TILES in r.url else None)
    return answered


@pytest.fixture
async def national(conn, settings):
    """The national demo at 1/50 loaded, a national planner, the app serving them."""
    demo = generate_national(seed=1, scale=SCALE)
    report = await load_demo(conn, demo, actor="test")
    assert report.stations.rejected == 0 and report.stations.created == 7_874
    await create_staff(conn, role="planner", name=PLANNER, password=PASSWORD)
    no_tiles = settings.model_copy(update={"tiles": TileSettings(url=None)})
    assert settings.vector_tiles.maps_from_stations == 3000  # the default, not lowered
    async with serve(create_app(no_tiles)) as url:
        yield url


async def test_the_national_catalog_opens_on_china_with_every_station_counted(
    browser, national, conn, artifacts_dir, capsys
):
    watch = Watch()
    context = await browser.new_context(
        locale="zh-CN", service_workers="block", viewport={"width": 1280, "height": 900}
    )
    page = await new_page(context, national, watch)
    answered = record_tiles(page)
    await page.goto(national + "/")
    await page.wait_for_selector(".ls-cell-count")
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(artifacts_dir / "national-rider-zoom4.png"))

    assert {status for _, status in answered} <= {200, 204}
    tiles = {tile_of(url) for url, _ in answered}
    assert {z for z, _, _ in tiles} == {4}
    # China lies in tiles x 11-13, y 5-7 at zoom 4: all drawn, so every cell is there.
    assert {(y, x) for _, y, x in tiles} >= {(6, 12), (6, 13), (5, 12)}
    counts = await page.locator(".ls-cell-count").evaluate_all(
        "els => els.map(e => Number(e.getAttribute('title').match(/^(\\d+)/)[1]))"
    )
    drawn = await conn.fetchval("SELECT count(*) FROM stations WHERE status <> 'closed'")
    assert sum(counts) == drawn
    assert 10 <= len(counts) <= 100  # a readable number of circles, not thousands
    await check_screen(page)
    transferred = await first_load_bytes(page)
    with capsys.disabled():
        print(f"\nrider page first load, national demo at zoom 4: {transferred / 1000:.1f} kB")
    assert transferred <= FIRST_LOAD_BUDGET
    await context.close()
    assert watch.blocked == [] and watch.unexpected_errors() == []


async def test_a_rider_in_shanghai_gets_the_nearest_and_the_street_from_the_tiles(
    browser, national, conn, artifacts_dir
):
    at = await conn.fetchrow(
        "SELECT ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng FROM stations"
        " WHERE district_code = '310101' AND status = 'active' ORDER BY source_id LIMIT 1"
    )
    lat, lng = at["lat"] + 0.0004, at["lng"] - 0.0003
    watch = Watch()
    context = await browser.new_context(
        geolocation={"latitude": lat, "longitude": lng, "accuracy": 15},
        permissions=["geolocation"],
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        service_workers="block",
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
    )
    page = await new_page(context, national, watch)
    answered = record_tiles(page)
    await page.goto(national + "/")
    await page.wait_for_selector(".station-item")
    await page.wait_for_load_state("networkidle")

    # The nearest list is the API's answer, in its order.
    async with httpx.AsyncClient(base_url=national) as http:
        answer = await http.get(
            "/v1/stations/nearest", params={"lat": lat, "lng": lng, "k": 5, "crs": "wgs84"}
        )
    expected = [s["name"] for s in answer.json()["results"]]
    shown = await page.locator(".station-item").all_inner_texts()
    assert len(shown) >= 5
    assert all(name in text for name, text in zip(expected, shown, strict=False)), (
        expected,
        shown,
    )

    await page.locator(".leaflet-control-zoom-out").click()
    for _ in range(100):
        if any(tile_of(url)[0] == 16 for url, _ in answered):
            break
        await page.wait_for_timeout(100)
    await page.wait_for_load_state("networkidle")
    await page.wait_for_selector("path.ls-tile-station")
    await page.screenshot(path=str(artifacts_dir / "national-rider-zoom16.png"))
    drawn = await page.locator("path.ls-tile-station").evaluate_all(
        "els => els.map(e => Number([...e.classList].find(c => /^ls-tile-station-\\d+$/.test(c))"
        ".split('-').pop()))"
    )
    nearest_ids = {s["id"] for s in answer.json()["results"]}
    assert nearest_ids & set(drawn), "the nearest stations are on the street's tiles"
    assert await page.locator("path.ls-cell").count() == 0
    await check_screen(page)
    await context.close()
    assert watch.blocked == [] and watch.unexpected_errors() == []


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 768}])
async def test_the_planners_map_draws_the_national_catalog_from_the_tiles(
    browser, national, artifacts_dir, viewport
):
    watch = Watch()
    context = await browser.new_context(
        viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = watch_page(await context.new_page(), watch)
    answered = record_tiles(page)
    await gate(page, national + "/", watch)
    await page.goto(national + "/staff/")
    await page.get_by_label("账号名").fill(PLANNER)
    await page.get_by_label("密码", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("heading", name="规划人员首页").wait_for()
    await page.get_by_role("link", name="覆盖地图与选址").first.click()
    await page.get_by_role("heading", name="覆盖地图与选址").wait_for()
    await page.locator("#planner-map path.ls-cell").first.wait_for()
    await page.wait_for_load_state("networkidle")
    assert await page.locator("#planner-map .ls-cell-count").count() > 0
    await page.screenshot(path=str(artifacts_dir / "national-planner-cells.png"), full_page=True)

    # A district of Shanghai: its bands over the stations, each a dot from the tiles.
    await page.get_by_label("范围").select_option(label="黄浦区（310101）")
    await page.get_by_role("button", name="显示覆盖").click()
    await page.locator("#planner-summary .figure-line").wait_for()
    await page.locator("#planner-map path.ls-tile-station").first.wait_for()
    await page.wait_for_load_state("networkidle")
    assert max(tile_of(url)[0] for url, _ in answered) >= 12
    assert await page.locator("#planner-map path.ls-tile-station").count() > 0
    await page.screenshot(path=str(artifacts_dir / "national-planner-district.png"), full_page=True)
    await context.close()
    assert watch.blocked == [] and watch.unexpected_errors(SIGNED_OUT) == []
