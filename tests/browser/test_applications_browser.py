"""Joining the union by scanning (扫码入会), end to end in headless Chromium, no internet.

A rider scans a station's poster, is not a member, applies from the rider page (after
the consent text); the administrator of the city's branch signs in to the console and
approves the application; the rider checks the application, is signed in with the new
member number at once, and the claim they started goes through. A declined application
shows the branch's reason. At 360×740 and 1366×768; screenshots in
``artifacts/apply-*.png``.
"""

from __future__ import annotations

import re

import pytest

from api.main import create_app
from stations.settings import TileSettings
from stations.visits import qr
from tests.browser.chromium import VIEWPORTS, Watch, gate, serve, watch_page
from tests.browser.test_console_browser import screen_ok
from tests.factories import (
    HUAIBEI_CENTRE,
    create_branches,
    create_campaign,
    create_staff,
    create_station,
    set_stock,
)

LAT, LNG = HUAIBEI_CENTRE
ADMIN, PASSWORD = "淮北管理员", "admin password 1"
PHONE = "13912340001"
# 4xx the flows provoke: no console session yet; the rider's claim before sign-in.
EXPECTED = r"Failed to load resource: the server responded with a status of 40[13]"


@pytest.fixture
async def world(conn):
    await create_branches(conn, ("3406", "淮北市总工会"))
    station = await create_station(
        conn,
        name="人民路派水点",
        kind="water_point",
        amenities=["drinking_water"],
        district="相山区",
        district_code="340603",
    )
    await create_station(
        conn, name="杜集驿站", district="杜集区", district_code="340602", lat=LAT + 0.05
    )
    await create_campaign(conn, [station["id"]], daily_quota=1)
    await set_stock(conn, station["id"], 20)
    await create_staff(conn, role="admin", name=ADMIN, branch="3406", password=PASSWORD)
    return station


@pytest.fixture
async def service(world, settings):
    no_tiles = settings.model_copy(update={"tiles": TileSettings(url=None)})
    async with serve(create_app(no_tiles)) as url:
        yield url


async def new_page(browser, base, watch, viewport, **options):
    context = await browser.new_context(
        viewport=VIEWPORTS[viewport], locale="zh-CN", timezone_id="Asia/Shanghai", **options
    )
    page = watch_page(await context.new_page(), watch)
    await gate(page, base + "/", watch)
    return context, page


async def fill_application(page, name: str) -> None:
    await page.get_by_label("姓名").fill(name)
    await page.locator("#apply-phone").fill(PHONE)
    await page.get_by_label("职业").select_option(label="外卖骑手")
    await page.get_by_label("所属平台或单位（可不填）").fill("美团")
    await page.get_by_label("工作所在区县").select_option(label="相山区（淮北市总工会）")
    await page.get_by_label("我已阅读并同意以上说明").check()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_a_rider_applies_is_approved_signs_in_and_claims_water(
    browser, service, world, conn, settings, artifacts_dir, viewport
):
    shot = lambda step: str(artifacts_dir / f"apply-{viewport}-{step}.png")  # noqa: E731
    watch = Watch()
    rider, page = await new_page(
        browser,
        service,
        watch,
        viewport,
        geolocation={"latitude": LAT, "longitude": LNG, "accuracy": 10},
        permissions=["geolocation"],
    )
    await page.goto(qr.poster_url(world["code"], security=settings.security, base_url=service))
    await page.get_by_role("button", name="领取饮用水").click()
    await page.get_by_role("button", name="申请入会 / 查看申请进度").click()
    await page.get_by_role("heading", name="申请加入工会").wait_for()
    assert "审核结束（批准或不批准）后立即删除" in await page.locator(".consent").inner_text()
    await fill_application(page, "王小明")
    await screen_ok(page)
    await page.screenshot(path=shot("1-form"), full_page=True)
    # The English switch redraws the form in English and keeps what was typed.
    await page.get_by_role("button", name="Switch to English").click()
    await page.get_by_role("heading", name="Apply to join the union").wait_for()
    assert await page.get_by_label("Name", exact=True).input_value() == "王小明"
    assert await page.get_by_label("I have read and agree to the above").is_checked()
    await screen_ok(page)
    await page.screenshot(path=shot("1-form-en"), full_page=True)
    await page.get_by_role("button", name="切换到中文").click()
    await page.get_by_role("heading", name="申请加入工会").wait_for()
    await page.get_by_role("button", name="提交申请").click()
    reference = await page.locator("#apply-reference").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{10}", reference)
    assert await page.locator("#lookup-reference").input_value() == reference
    await screen_ok(page)
    await page.screenshot(path=shot("2-sent"), full_page=True)
    row = await conn.fetchrow("SELECT name, callback_phone, status FROM membership_applications")
    assert (row["name"], row["callback_phone"], row["status"]) == ("王小明", PHONE, "open")

    # Not decided yet: the rider is told so.
    await page.locator("#lookup-phone").fill(PHONE)
    await page.get_by_role("button", name="查看进度").click()
    await page.get_by_text("申请正在审核中").wait_for()

    # The administrator approves it in the console.
    admin, console = await new_page(browser, service, watch, viewport)
    await console.goto(service + "/staff/")
    await console.get_by_label("账号名").fill(ADMIN)
    await console.get_by_label("密码", exact=True).fill(PASSWORD)
    await console.get_by_role("button", name="登录").click()
    await console.get_by_role("link", name=re.compile("入会申请")).click()
    card = console.locator(".application").first
    await card.wait_for()
    text = await card.inner_text()
    assert "王小明" in text and PHONE in text and "外卖骑手" in text and "淮北市总工会" in text
    await screen_ok(console)
    await console.screenshot(path=shot("3-console-list"), full_page=True)
    await console.get_by_role("button", name="批准王小明入会").click()
    status = console.locator("#status")
    await status.get_by_text("已批准王小明入会").wait_for()
    member_no = re.search(r"会员号 (\w+)", await status.inner_text()).group(1)
    await console.get_by_text("没有待审核的入会申请。").wait_for()
    await screen_ok(console)
    await console.screenshot(path=shot("4-console-approved"), full_page=True)
    await admin.close()

    # The rider checks again: approved, signed in, and the claim goes on.
    await page.get_by_role("button", name="查看进度").click()
    await page.locator("#member-number").wait_for()
    assert await page.locator("#member-number").inner_text() == member_no
    await screen_ok(page)
    await page.screenshot(path=shot("5-approved"), full_page=True)
    await page.get_by_role("button", name="继续").click()
    await page.locator("#claim-code").wait_for()
    await screen_ok(page)
    await page.screenshot(path=shot("6-claimed"), full_page=True)
    claim = await conn.fetchrow(
        "SELECT m.member_no FROM claims c JOIN members m ON m.id = c.member_id"
    )
    assert claim["member_no"] == member_no
    assert await conn.fetchval("SELECT callback_phone FROM membership_applications") is None
    await rider.close()
    assert watch.blocked == []
    assert watch.unexpected_errors(EXPECTED) == []


async def test_a_declined_applicant_reads_the_reason(browser, service, conn, artifacts_dir):
    watch = Watch()
    rider, page = await new_page(browser, service, watch, "phone")
    await page.goto(service + "/")
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("button", name="申请入会 / 查看申请进度").click()
    await fill_application(page, "李四")
    await page.get_by_role("button", name="提交申请").click()
    await page.locator("#apply-reference").wait_for()

    admin, console = await new_page(browser, service, watch, "desk")
    await console.goto(service + "/staff/#/admin/applications")
    await console.get_by_label("账号名").fill(ADMIN)
    await console.get_by_label("密码", exact=True).fill(PASSWORD)
    await console.get_by_role("button", name="登录").click()
    await console.get_by_label("不批准的原因").fill("请携带身份证到相山区总工会现场办理")
    await console.get_by_role("button", name="不批准李四的申请").click()
    await console.locator("#status").get_by_text("已回复李四：不批准").wait_for()
    await admin.close()

    await page.locator("#lookup-phone").fill(PHONE)
    await page.get_by_role("button", name="查看进度").click()
    result = page.locator("#lookup-result")
    await result.get_by_text("请携带身份证到相山区总工会现场办理").wait_for()
    assert "工会没有批准这次申请" in await result.inner_text()
    await screen_ok(page)
    await page.screenshot(path=str(artifacts_dir / "apply-phone-7-declined.png"), full_page=True)
    await rider.close()
    assert watch.blocked == []
    assert watch.unexpected_errors(EXPECTED) == []
