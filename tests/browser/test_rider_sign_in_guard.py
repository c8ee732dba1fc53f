"""The rider page after guessed sign-ins: the member is told, a guesser is made to wait.

Three wrong phones are tried for the world's member (through the API, as a guesser
would), then the member signs in on the page: it says how many wrong sign-ins there
were and when the last was. A guesser who keeps going is told, in words, how long to
wait. Screenshots at 360×740 and 1366×768: ``artifacts/rider-{viewport}-sign-in-*.png``.
"""

from __future__ import annotations

import httpx
import pytest

from tests.browser.chromium import VIEWPORTS, Watch, check_screen
from tests.browser.conftest import MEMBER_NO
from tests.browser.test_rider_browser import new_page, sign_in
from tests.factories import HUAIBEI_CENTRE

LAT, LNG = HUAIBEI_CENTRE
# Chromium logs each refused sign-in (401, 429) as a console error.
EXPECTED = r"Failed to load resource: the server responded with a status of 4(01|29)"


@pytest.mark.parametrize("viewport", ["phone", "desk"])
async def test_the_member_is_told_of_wrong_sign_ins_and_guessers_wait(
    browser, service, conn, artifacts_dir, viewport
):
    async with httpx.AsyncClient(base_url=service) as api:
        for n in range(3):
            wrong = {"member_no": MEMBER_NO, "phone": f"1500000000{n}"}
            assert (await api.post("/v1/auth/member", json=wrong)).status_code == 401

    watch = Watch()
    context = await browser.new_context(
        viewport=VIEWPORTS[viewport],
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        geolocation={"latitude": LAT, "longitude": LNG, "accuracy": 15},
        permissions=["geolocation"],
        service_workers="block",
    )
    page = await new_page(context, service, watch)
    await page.goto(service + "/")
    await page.wait_for_selector(".station-item")  # the nearest search is done
    await page.get_by_role("button", name="登录").click()
    await sign_in(page)
    notice = page.locator("#status")
    await notice.wait_for(state="visible")
    text = await notice.inner_text()
    assert "登录失败 3 次" in text and "最近一次" in text, text
    await check_screen(page)
    await page.screenshot(path=str(artifacts_dir / f"rider-{viewport}-sign-in-warned.png"))

    # A guesser at the same number: after a few, the page says how long to wait.
    await page.get_by_role("button", name="退出登录").click()
    await page.get_by_role("button", name="登录").click()
    error = page.locator("#signin-error")
    for n in range(8):
        await page.get_by_label("会员号").fill(MEMBER_NO)
        await page.get_by_label("手机号").fill(f"1510000000{n}")
        await page.locator("#signin button[type=submit]").click()
        await page.wait_for_function(
            "() => !document.getElementById('signin-error').textContent.includes('正在登录')"
        )
        if "尝试次数太多" in await error.inner_text():
            break
    text = await error.inner_text()
    assert "尝试次数太多" in text and "秒后再试" in text, text
    await page.screenshot(path=str(artifacts_dir / f"rider-{viewport}-sign-in-wait.png"))
    await context.close()
    assert watch.unexpected_errors(EXPECTED) == []
    assert watch.blocked == []
