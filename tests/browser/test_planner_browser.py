"""The planner's coverage map in the staff console, in headless Chromium, no internet.

A planner of the Huaibei branch signs in, opens the coverage map of the demo city from
the home tile, sees the bands, the gaps and the share within the service circle, clicks
two candidate sites in the largest gaps and has them ranked with their gains, which
equal the suggestion API's ranking of the same two points; the downloads are there. At
360×740 and 1366×768; screenshots in ``artifacts/planner-*.png``.
"""

from __future__ import annotations

import pytest

from api.main import create_app
from stations.settings import TileSettings
from tests.browser.chromium import VIEWPORTS, Watch, gate, serve, watch_page
from tests.browser.test_console_browser import screen_ok
from tests.factories import create_branches, create_staff, staff_session
from tests.fixtures.coverage.demo_city import build_demo_city

PLANNER, PASSWORD = "淮北规划", "planner password 1"
CODES = {"相山区": "340603", "杜集区": "340602", "烈山区": "340604"}
EXPECTED = r"Failed to load resource: the server responded with a status of 401"


@pytest.fixture
async def service(conn, settings):
    await build_demo_city(conn)
    for name, code in CODES.items():
        await conn.execute("UPDATE stations SET district_code = $2 WHERE district = $1", name, code)
    await create_branches(conn, ("3406", "淮北市总工会"))
    await create_staff(conn, role="planner", name=PLANNER, branch="3406", password=PASSWORD)
    no_tiles = settings.model_copy(update={"tiles": TileSettings(url=None)})
    async with serve(create_app(no_tiles)) as url:
        yield url


async def click_inside(page, locator) -> None:
    box = await locator.bounding_box()
    await page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_a_planner_ranks_two_clicked_sites_on_the_coverage_map(
    browser, service, artifacts_dir, viewport
):
    shot = lambda step: str(artifacts_dir / f"planner-{viewport}-{step}.png")  # noqa: E731
    watch = Watch()
    context = await browser.new_context(
        viewport=VIEWPORTS[viewport], locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = watch_page(await context.new_page(), watch)
    await gate(page, service + "/", watch)
    await page.goto(service + "/staff/")
    await page.get_by_label("账号名").fill(PLANNER)
    await page.get_by_label("密码", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("heading", name="规划人员首页").wait_for()
    await page.get_by_role("link", name="覆盖地图与选址").first.click()
    await page.get_by_role("heading", name="覆盖地图与选址").wait_for()

    region = page.get_by_label("范围")
    assert await region.input_value() == "city:huaibei"
    options = await region.locator("option").all_inner_texts()
    assert "相山区（340603）" in options and "在地图上画的范围" in options
    await page.get_by_role("button", name="显示覆盖").click()
    summary = page.locator("#planner-summary")
    await summary.locator(".figure-line").wait_for()
    text = await summary.inner_text()
    assert "% 的劳动者需求在步行 15 分钟（≈1.1 公里）以内" in text, text
    gaps = page.locator("path.ls-gap")
    assert await gaps.count() > 0
    # No tiles are configured: the reference outlines say where the map is.
    assert "相山区" in await page.locator("#planner-map .ls-ref-label").all_inner_texts()
    await screen_ok(page)
    await page.screenshot(path=shot("1-map"), full_page=True)

    # Two candidates in the two largest gap areas on screen.
    await page.locator("#planner-map").scroll_into_view_if_needed()
    sizes = []
    for i in range(await gaps.count()):
        box = await gaps.nth(i).bounding_box()
        if box:
            sizes.append((box["width"] * box["height"], i))
    largest = [i for _, i in sorted(sizes, reverse=True)[:2]]
    assert len(largest) == 2
    for i in largest:
        await click_inside(page, gaps.nth(i))
    candidates = page.locator("#planner-candidates li")
    assert await candidates.count() == 2
    await page.get_by_role("button", name="给候选点排序").click()
    ranked = page.locator("#planner-ranked li")
    await ranked.first.wait_for()
    rows = await ranked.all_inner_texts()
    assert len(rows) == 2 and all("新增覆盖需求" in r for r in rows), rows
    assert {r.split(" · ")[0] for r in rows} == {"候选点 1", "候选点 2"}
    await screen_ok(page)
    await page.screenshot(path=shot("2-ranked"), full_page=True)

    # The console's ranking is the API's: the same two points, asked directly.
    points = await page.locator("#planner-candidates li span").all_inner_texts()
    await context.close()
    import httpx

    async with httpx.AsyncClient(base_url=service) as http:
        csrf = await staff_session(http, PLANNER, PASSWORD)
        body = {
            "candidates": [
                {
                    "name": p.split(" · ")[0],
                    "lat": float(p.split(" · ")[1].split(", ")[0]),
                    "lng": float(p.split(" · ")[1].split(", ")[1]),
                }
                for p in points
            ]
        }
        answer = await http.post(
            "/v1/coverage/suggestions",
            params={"city": "huaibei", "target": "walk_15min", "suggest": 2, "min_gain": 0},
            json=body,
            headers=csrf,
        )
    assert answer.status_code == 200, answer.text
    sites = answer.json()["sites"]
    assert [s["name"] for s in sites] == [r.split(" · ")[0] for r in rows]
    for site, row in zip(sites, rows, strict=True):
        assert site["gain"] > 0
        assert f"{site['gain']:,.1f}".rstrip("0").rstrip(".") in row
        assert f"覆盖率升至 {site['covered_share_after'] * 100:.1f}%" in row
    assert watch.blocked == []
    assert watch.unexpected_errors(EXPECTED) == []


async def test_a_drawn_area_from_the_keyboard_and_the_page_in_english(
    browser, service, artifacts_dir
):
    """A rectangle drawn without a mouse: the map moved with the arrow keys, each corner
    placed with the centre button; its coverage shown; a candidate placed the same way
    and ranked; then the English switch."""
    watch = Watch()
    context = await browser.new_context(
        viewport=VIEWPORTS["desk"], locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = watch_page(await context.new_page(), watch)
    await gate(page, service + "/", watch)
    await page.goto(service + "/staff/#/planner/map")
    await page.get_by_label("账号名").fill(PLANNER)
    await page.get_by_label("密码", exact=True).fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.get_by_role("heading", name="覆盖地图与选址").wait_for()
    await page.get_by_label("范围").select_option(label="在地图上画的范围")
    await page.get_by_role("button", name="画矩形").press("Enter")
    centre = page.get_by_role("button", name="在地图中心（十字处）放点")
    await centre.press("Enter")
    await page.locator("#planner-map").focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowDown", "ArrowDown"):
        await page.keyboard.press(key)
        await page.wait_for_timeout(400)  # Leaflet ignores keys while it pans
    await centre.press("Enter")
    await page.get_by_text("范围已画好").wait_for()
    box = await page.locator("#planner-map path.ls-drawn-area").bounding_box()
    assert box["width"] > 100 and box["height"] > 100  # two keys each way: a real rectangle
    await page.get_by_role("button", name="显示覆盖").press("Enter")
    await page.locator("#planner-summary .figure-line").wait_for()
    await page.locator("#planner-map").focus()
    await page.keyboard.press("ArrowLeft")
    await page.wait_for_timeout(400)
    await centre.press("Enter")
    assert await page.locator("#planner-candidates li").count() == 1
    await page.get_by_role("button", name="给候选点排序").press("Enter")
    await page.locator("#planner-ranking h4").wait_for()
    await screen_ok(page)
    await page.screenshot(path=str(artifacts_dir / "planner-desk-3-drawn.png"), full_page=True)

    await page.get_by_role("button", name="Switch to English").click()
    await page.get_by_role("heading", name="Coverage map and sites").wait_for()
    await page.get_by_role("button", name="Show coverage").click()
    await page.locator("#planner-summary .figure-line").wait_for()
    assert "of workers' demand is within" in await page.locator("#planner-summary").inner_text()
    await screen_ok(page)
    await page.screenshot(path=str(artifacts_dir / "planner-desk-4-english.png"), full_page=True)
    await context.close()
    assert watch.blocked == []
    assert watch.unexpected_errors(EXPECTED) == []
