"""/ogc in a browser: the landing page, a collection and a page of features as a table
with a small map, in Chinese and in English, on a phone and a desk screen, with nothing
loaded from outside the service (screenshots in artifacts/ogc-*.png)."""

from __future__ import annotations

import posixpath
import re

import pytest

from api.main import create_app
from stations.settings import TileSettings
from tests.browser.chromium import VIEWPORTS, Watch, check_screen, gate, serve, watch_page
from tests.factories import HUAIBEI_CENTRE, create_staff, create_station
from tests.fixtures.coverage.demo_city import build_demo_city

LAT, LNG = HUAIBEI_CENTRE


@pytest.fixture
async def service(conn, settings):
    for i in range(14):
        await create_station(
            conn,
            name=f"相山路{i}号爱心驿站" if i % 3 else f"人民路{i}号派水点",
            kind="love_station" if i % 3 else "water_point",
            lat=LAT + (i % 5) * 0.004,
            lng=LNG + (i // 5) * 0.006,
            amenities=["drinking_water", "restroom"] if i % 2 else ["drinking_water", "shade"],
            status="temporarily_closed" if i == 4 else "active",
        )
    no_tiles = settings.model_copy(update={"tiles": TileSettings(url=None)})
    async with serve(create_app(no_tiles)) as url:
        yield url


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_a_planner_browses_the_ogc_pages(browser, service, artifacts_dir, viewport):
    watch = Watch()
    context = await browser.new_context(
        viewport=VIEWPORTS[viewport], locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = watch_page(await context.new_page(), watch)
    await gate(page, service + "/", watch)
    shot = lambda step: str(artifacts_dir / f"ogc-{viewport}-{step}.png")  # noqa: E731
    try:
        await page.goto(f"{service}/ogc")  # a browser's Accept asks for HTML
        await page.wait_for_selector("main h2")
        assert "OGC API" in await page.inner_text("main h2")
        assert "ogrinfo OAPIF:" in await page.inner_text("main")
        await check_screen(page)
        await page.screenshot(path=shot("1-landing"), full_page=True)

        await page.click("text=数据集")
        await page.wait_for_selector(".card")
        assert await page.locator(".card").count() == 4  # stations, water points, cells
        await page.click("a[href^='/ogc/collections/stations?']")
        await page.wait_for_selector(".crs li")
        crs = await page.inner_text(".crs")
        assert crs.count("非 EPSG：本服务自定义") == 2 and "EPSG:4490" in crs and "纬度在前" in crs
        await check_screen(page)
        await page.screenshot(path=shot("2-collection"), full_page=True)

        await page.click("a.button >> text=要素列表")
        await page.wait_for_selector("table tbody tr")
        assert await page.locator("table tbody tr").count() == 10  # the default limit
        assert "共 14 个，本页 10 个" in await page.inner_text("main")
        assert await page.locator(".leaflet-interactive").count() == 10  # the map's markers
        table = await page.inner_text("table")
        assert "派水点" in table and "暂停" in table and "饮用水" in table
        await check_screen(page)
        await page.screenshot(path=shot("3-items"), full_page=True)

        await page.click("text=下一页")
        await page.wait_for_selector("text=本页 4 个")
        assert await page.locator("table tbody tr").count() == 4

        await page.click("#lang")
        await page.wait_for_selector("text=14 in all, 4 on this page")
        assert (
            "Water point" in await page.inner_text("table")
            or "water" in (await page.inner_text("table")).lower()
        )
        await check_screen(page)
        await page.screenshot(path=shot("4-items-en"), full_page=True)

        await page.click("table tbody tr a")
        await page.wait_for_selector("table.properties")
        assert await page.locator(".leaflet-interactive").count() == 1
        await page.screenshot(path=shot("5-feature-en"), full_page=True)
        assert watch.blocked == [] and watch.unexpected_errors() == []
    finally:
        await context.close()


async def test_programs_still_get_json_and_f_html_gets_the_page(client, conn):
    response = await client.get("/ogc/collections", headers={"Accept": "application/json"})
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["vary"] == "Accept"
    page = await client.get("/ogc/collections?f=html")
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "/ogc/main.js" in page.text
    bad = await client.get("/ogc/collections/stations/items?f=html&limit=0")
    assert bad.status_code == 400  # a bad parameter is refused before any page
    gone = await client.get("/ogc/collections/hotels?f=html")
    assert gone.status_code == 404


async def test_every_ogc_page_module_is_preloaded_and_versioned(client):
    html = (await client.get("/ogc?f=html")).text
    version = re.search(r'/web/ogc/main\.js\?v=([0-9a-f]{12})"', html).group(1)
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/web/([^"?]+)\?v=', html))
    reached, todo = set(), ["ogc/main.js"]
    while todo:
        name = todo.pop()
        response = await client.get(f"/web/{name}?v={version}")
        assert response.status_code == 200, name
        relative = re.findall(r'\b(?:import|from)\s*"(\.[^"]*)"', response.text)
        assert all(i.endswith(f".js?v={version}") for i in relative), (name, relative)
        for target in relative:
            path = posixpath.normpath(posixpath.join(posixpath.dirname(name), target)).split("?")[0]
            if path not in reached:
                reached.add(path)
                todo.append(path)
    assert preloaded == reached


PLANNER, PASSWORD = "淮北规划", "planner password 1"


@pytest.fixture
async def cells_service(conn, settings):
    await build_demo_city(conn)
    await create_staff(conn, role="planner", name=PLANNER, password=PASSWORD)
    no_tiles = settings.model_copy(update={"tiles": TileSettings(url=None)})
    async with serve(create_app(no_tiles)) as url:
        yield url


async def test_a_signed_in_planner_browses_a_citys_coverage_cells(
    browser, cells_service, artifacts_dir
):
    """The console's session opens the cells in the browser: a city's hexagons on the
    map, coloured by distance to the nearest station, and their table."""
    watch = Watch()
    context = await browser.new_context(
        viewport=VIEWPORTS["desk"], locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = watch_page(await context.new_page(), watch)
    await gate(page, cells_service + "/", watch)
    shot = lambda step: str(artifacts_dir / f"ogc-cells-{step}.png")  # noqa: E731
    try:
        await page.goto(cells_service + "/staff/")
        await page.get_by_label("账号名").fill(PLANNER)
        await page.get_by_label("密码", exact=True).fill(PASSWORD)
        await page.get_by_role("button", name="登录").click()
        await page.get_by_role("heading", name="规划人员首页").wait_for()

        await page.goto(f"{cells_service}/ogc/collections/coverage-cells")
        await page.wait_for_selector(".crs li")
        assert "city" in await page.inner_text(".card")
        await page.click("a.button >> text=淮北市")
        await page.wait_for_selector("table tbody tr")
        assert await page.locator("table tbody tr").count() == 10
        assert await page.locator(".leaflet-interactive").count() == 10  # ten hexagons
        text = await page.inner_text("main")
        assert re.search(r"共 \d+ 个，本页 10 个", text)
        assert "服务圈层" in await page.inner_text("table thead")
        await check_screen(page)
        await page.screenshot(path=shot("1-coverage"), full_page=True)

        await page.goto(f"{cells_service}/ogc/collections/demand-cells/items?city=huaibei&limit=60")
        await page.wait_for_selector("table tbody tr")
        assert await page.locator(".leaflet-interactive").count() >= 10
        await check_screen(page)
        await page.screenshot(path=shot("2-demand"))  # the map and the first rows
        # Before signing in, the console asks who is signed in: a 401 it expects.
        assert watch.blocked == [] and watch.unexpected_errors(r"401.*/v1/auth/staff") == []
    finally:
        await context.close()


async def test_cells_without_a_planner_say_so_in_the_page(browser, cells_service, artifacts_dir):
    watch = Watch()
    context = await browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN")
    page = watch_page(await context.new_page(), watch)
    await gate(page, cells_service + "/", watch)
    try:
        await page.goto(f"{cells_service}/ogc/collections/coverage-cells/items?city=huaibei")
        await page.wait_for_selector("#status:not([hidden])")
        assert "请先登录员工控制台" in await page.inner_text("#status")
        assert (
            await page.get_by_role("link", name="登录员工控制台").get_attribute("href") == "/staff/"
        )
        await page.screenshot(path=str(artifacts_dir / "ogc-cells-3-anonymous.png"))
        assert watch.blocked == []
    finally:
        await context.close()
