"""The rider page's search box and the water left after a claim, in headless Chromium.

The world and service of ``conftest.py``, the phone settings of ``test_rider_browser.py``:
a rider types a station's name or street (in any case or width, as a Chinese keyboard
gives it) and taps a result; a granted claim updates the station's water without a
reload. Screenshots at the default viewport and at 360×740 go to
``artifacts/rider-*-search-*.png``.
"""

from __future__ import annotations

import pytest

from tests.browser.chromium import Watch, check_screen
from tests.browser.test_rider_browser import (
    LAT,
    LNG,
    VIEWPORTS,
    new_page,
    open_context,
    poster,
    sign_in,
)
from tests.factories import create_station


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_a_rider_finds_a_station_by_name_or_street_and_opens_it(
    browser, service, world, conn, artifacts_dir, viewport
):
    # Far from the rider (Hefei, ~250 km): found only when nothing near matches.
    await create_station(conn, name="合肥市蜀山区爱心驿站", lat=31.86, lng=117.28)
    watch = Watch()
    context = await open_context(browser, viewport)
    page = await new_page(context, service, watch)
    shot = lambda step: str(artifacts_dir / f"rider-{viewport}-search-{step}.png")  # noqa: E731
    await page.goto(service + "/")
    await page.wait_for_selector("#stations .station-item")
    box = page.get_by_role("searchbox", name="按名称或街道搜索站点")
    assert await box.get_attribute("placeholder") == "站点名称或街道，如 人民路"

    # A street, typed as the address has it: the water point on 人民路 (its address).
    await box.fill("人民路")
    await page.get_by_role("button", name="搜索", exact=True).click()
    heading = page.locator("#search-heading")
    await heading.wait_for()
    assert await heading.inner_text() == "“人民路”：找到 1 个站点"
    results = page.locator("#search-results .station-item")
    assert await results.count() == 1
    found = await results.nth(0).inner_text()
    assert "人民路派水点" in found and "淮北市相山区人民路 12 号" in found
    assert "今日余水 20 瓶" in found
    assert await page.locator("#stations").is_hidden() and await page.locator("#map").is_hidden()
    await check_screen(page)
    await page.screenshot(path=shot("1-street"), full_page=True)

    # Full-width digits from a Chinese keyboard find the same address ("12 号").
    await box.fill("１２")
    await box.press("Enter")
    await page.wait_for_selector("#search-heading:has-text('“１２”')")
    assert "人民路派水点" in await results.nth(0).inner_text()

    # A tap opens the station; back returns to the results.
    await results.nth(0).click()
    await page.locator("#station-heading").wait_for()
    assert await page.locator("#station-heading").inner_text() == "人民路派水点"
    await page.get_by_role("button", name="← 返回附近站点").first.click()
    await page.wait_for_selector("#search-results .station-item")

    # Nothing near matches: the stations elsewhere, and it says so; then nothing at all.
    await box.fill("蜀山")
    await box.press("Enter")
    await page.wait_for_selector("#search-heading:has-text('附近没有')")
    assert await heading.inner_text() == "附近没有“蜀山”，其他地区找到 1 个站点"
    assert "合肥市蜀山区爱心驿站" in await results.nth(0).inner_text()
    await box.fill("火星基地")
    await box.press("Enter")
    await page.wait_for_selector("#search-heading:has-text('没有找到')")
    assert await results.count() == 0
    await check_screen(page)
    await page.screenshot(path=shot("2-nothing"), full_page=True)

    # English: the same search box, its words switched.
    await page.get_by_role("button", name="Switch to English").click()
    box = page.get_by_role("searchbox", name="Search stations by name or street")
    assert await box.get_attribute("placeholder") == "Station name or street"
    nothing = "No station matches “火星基地”. Try another name or street."
    assert await heading.inner_text() == nothing
    await box.fill("WATER")  # no English names here: nothing, in any case
    await page.get_by_role("button", name="Search", exact=True).click()
    await page.wait_for_selector("#search-heading:has-text('“WATER”')")
    await box.fill("人民")
    await box.press("Enter")
    await page.wait_for_selector("#search-heading:has-text('“人民”: 1 found')")
    await check_screen(page)
    await page.screenshot(path=shot("3-english"), full_page=True)

    # Clearing the search brings the stations nearby back.
    await page.get_by_role("button", name="← Back to stations nearby").click()
    await page.wait_for_selector("#stations .station-item")
    assert await page.locator("#search-view").is_hidden()
    assert await box.input_value() == ""
    await context.close()
    assert watch.blocked == [] and watch.unexpected_errors() == []


async def test_a_granted_claim_shows_the_water_left_on_the_card_and_the_list(
    browser, service, world, conn, settings, artifacts_dir
):
    watch = Watch()
    context = await open_context(browser, "phone", lat=LAT + 0.0009, lng=LNG + 0.0004)
    page = await new_page(context, service, watch)
    await page.goto(poster(world.water, service, settings))
    live = page.locator("#station-view .live")
    await page.wait_for_selector("#station-view .live:has-text('今日余水 20 瓶')")
    await page.get_by_role("button", name="领取饮用水").click()
    await sign_in(page)
    await page.locator("#claim-code").wait_for()
    assert await live.inner_text() == "今日余水 19 瓶"  # from the claim's answer, no reload
    await page.screenshot(path=str(artifacts_dir / "rider-phone-claim-water-left.png"))
    await page.get_by_role("button", name="← 返回附近站点").click()
    item = page.locator(f"#stations .station-item[data-id='{world.water['id']}']")
    await item.wait_for()
    assert "今日余水 19 瓶" in await item.inner_text()
    await context.close()
    assert watch.blocked == [] and watch.unexpected_errors() == []
