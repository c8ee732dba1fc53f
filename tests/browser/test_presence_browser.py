"""Proof of presence in Chromium: the console's presence screen, and riders using its code.

The operator opens the station's presence screen: the code, big, and its QR code (read
back with zbarimg: the signed poster URL plus the code), asking the service again when
the step ends. A rider whose phone camera opened that QR code finds the code filled in
and is granted water; a rider who scanned the paper poster is refused by the campaign's
rule, in words, and is granted after typing the code from the screen. Screenshots:
``artifacts/presence-*.png``.
"""

from __future__ import annotations

import json

import pytest

from api.main import create_app
from stations.settings import TileSettings
from stations.visits import presence, qr
from tests.browser.chromium import (
    VIEWPORTS,
    Watch,
    check_screen,
    open_page,
    serve,
)
from tests.factories import (
    HUAIBEI_CENTRE,
    create_campaign,
    create_member,
    create_staff,
    create_station,
    run_tool,
    set_stock,
)

LAT, LNG = HUAIBEI_CENTRE
OPERATOR, PASSWORD = "人民路派水点", "correct horse battery"
MEMBER_NO, PHONE = "HB900031", "13900000031"
# The refusal the rider flow provokes on purpose (no code where the campaign needs one).
REFUSED = r"Failed to load resource: the server responded with a status of 4(01|03)"


@pytest.fixture
async def world(conn, settings):
    station = await create_station(
        conn, name=OPERATOR, kind="water_point", amenities=["drinking_water"]
    )
    await create_campaign(conn, [station["id"]], presence_required=True, daily_quota=2)
    await set_stock(conn, station["id"], 20)
    await create_staff(conn, name=OPERATOR, station_ids=[station["id"]], password=PASSWORD)
    await create_member(conn, settings, member_no=MEMBER_NO, phone=PHONE)
    return station


@pytest.fixture
async def service(world, settings):
    no_tiles = settings.model_copy(update={"tiles": TileSettings(url=None)})
    async with serve(create_app(no_tiles)) as url:
        yield url


def accepted_codes(station, settings) -> set[str]:
    """The codes the service accepts now (a step may change during the test)."""
    now = presence.clock()
    return {
        presence.current_code(station["code"], security=settings.security, now=now - back).code
        for back in (0, presence.STEP_S)
    }


@pytest.mark.parametrize("viewport", ["phone", "desk"])
async def test_the_presence_screen_shows_the_code_and_its_qr_and_refreshes(
    browser, service, world, settings, artifacts_dir, viewport
):
    watch = Watch()
    context, page = await open_page(browser, service, watch, viewport)
    # The first answer says the step ends in a second: the screen must ask again then.
    asked: list[str] = []

    async def soon(route):
        response = await route.fetch()
        body = await response.json()
        asked.append(body["code"])
        if len(asked) == 1:
            body["seconds_left"] = 1
        await route.fulfill(response=response, body=json.dumps(body))

    await page.route(f"**/v1/stations/{world['id']}/presence", soon)
    await page.goto(f"{service}/staff/#/station/{world['id']}")
    await page.get_by_label("账号名").fill(OPERATOR)
    await page.get_by_label("密码", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("link", name="到场码屏幕").click()

    code = page.locator("#presence-code")
    await code.wait_for()
    await page.wait_for_function("document.querySelector('#presence-code').textContent.length")
    shown = (await code.inner_text()).replace(" ", "")
    assert shown in accepted_codes(world, settings)
    await page.wait_for_function("() => document.querySelector('#presence-qr').naturalWidth > 0")
    assert await page.locator("#presence-qr").get_attribute("alt") == f"到场码 {shown} 的二维码"
    assert "秒后更换" in await page.locator("#presence-left").inner_text()
    # Over the whole screen: the console's bar and navigation are covered.
    box = await page.locator(".presence-screen").bounding_box()
    assert box is not None and box["width"] == VIEWPORTS[viewport]["width"]
    await check_screen(page)
    await page.screenshot(path=str(artifacts_dir / f"presence-console-{viewport}.png"))

    # What the QR code holds, read by a real decoder: the poster URL plus the code.
    png = artifacts_dir / f"presence-console-{viewport}-qr.png"
    await page.locator("#presence-qr").screenshot(path=str(png))
    read = (await run_tool("zbarimg", "--quiet", "--raw", str(png))).strip()
    poster = qr.poster_url(
        world["code"], security=settings.security, base_url=settings.api.public_base_url
    )
    assert read == f"{poster}&p={shown}"

    for _ in range(50):
        if len(asked) >= 2:
            break
        await page.wait_for_timeout(100)
    assert len(asked) >= 2, "the screen did not ask for the next code"

    # Full screen on the counter phone; back to the station page leaves it.
    await page.get_by_role("button", name="全屏显示").click()
    await page.wait_for_function(
        "document.fullscreenElement?.classList.contains('presence-screen')"
    )
    await page.get_by_role("link", name="返回站点").click()
    await page.get_by_role("link", name="到场码屏幕").wait_for()
    assert await page.evaluate("document.fullscreenElement") is None
    await context.close()
    assert watch.blocked == []
    assert watch.unexpected_errors(r"status of 401") == []


async def sign_in_member(page) -> None:
    await page.wait_for_selector("#signin-view:not([hidden])")
    await page.get_by_label("会员号").fill(MEMBER_NO)
    await page.get_by_label("手机号").fill(PHONE)
    await page.locator("#signin button[type=submit]").click()


async def test_a_rider_claims_with_the_code_from_the_screen(
    browser, service, world, conn, settings, artifacts_dir
):
    watch = Watch()
    context, page = await open_page(
        browser,
        service,
        watch,
        "phone",
        geolocation={"latitude": LAT, "longitude": LNG, "accuracy": 10},
        permissions=["geolocation"],
        is_mobile=True,
        has_touch=True,
    )
    poster = qr.poster_url(world["code"], security=settings.security, base_url=service)

    # 1. The paper poster: the campaign asks for the code; claiming without it is refused.
    await page.goto(poster)
    field = page.get_by_label("到场码")
    await field.wait_for()
    assert await field.input_value() == ""
    await page.get_by_role("button", name="领取饮用水").click()
    await sign_in_member(page)
    reason = page.locator(".refusal .reason")
    await reason.wait_for()
    assert "这次活动要求到站领取" in await reason.inner_text()
    await check_screen(page)
    await page.screenshot(path=str(artifacts_dir / "presence-rider-refused.png"))
    assert await conn.fetchval("SELECT count(*) FROM claims") == 0

    # 2. The digits typed from the screen: granted.
    typed = presence.current_code(world["code"], security=settings.security).code
    await page.get_by_label("到场码").fill(f"{typed[:3]} {typed[3:]}")
    await page.get_by_role("button", name="领取饮用水").click()
    await page.locator("#claim-code").wait_for()
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1

    # 3. The screen's QR code opened by the phone's camera: the code is filled in.
    shown = presence.current_code(world["code"], security=settings.security).code
    await page.goto(f"{poster}&p={shown}")
    field = page.get_by_label("到场码")
    await field.wait_for()
    assert await field.input_value() == shown
    await check_screen(page)
    await page.screenshot(path=str(artifacts_dir / "presence-rider-code-filled.png"))
    async with page.expect_request(lambda r: r.url.endswith("/v1/claims")) as sent:
        await page.get_by_role("button", name="领取饮用水").click()
    body = (await sent.value).post_data_json
    assert body["presence_code"] == shown and "p=" not in body["code"]
    await page.locator(".claim-card #claim-code").wait_for()
    await page.wait_for_function("document.querySelectorAll('.claim-card').length >= 1")
    assert await conn.fetchval("SELECT count(*) FROM claims") == 2
    await page.locator("#claim-qr").wait_for(state="visible")
    await check_screen(page)
    await page.screenshot(path=str(artifacts_dir / "presence-rider-granted.png"), full_page=True)
    await context.close()
    assert watch.blocked == []
    assert watch.unexpected_errors(REFUSED) == []
