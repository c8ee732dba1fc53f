"""The union administrator's console pages in headless Chromium, with no internet.

An administrator of 淮北 signs in, opens the campaigns from the home's tile, reads a
campaign's dashboard (figures equal to an independent count of the claims, the by-day
chart, trades, districts, stations, prizes, stock-outs) and downloads the report as
.xlsx, read back with openpyxl; at 360×740 and 1366×768. Screenshots go to
``artifacts/console-admin-*.png``.
"""

from __future__ import annotations

import asyncio
import io
import re
from types import SimpleNamespace

import httpx
import openpyxl
import pytest

from api.main import create_app
from stations.settings import TileSettings
from stations.visits.campaigns import PrizeSpec
from tests.browser.chromium import (
    VIEWPORTS,
    Watch,
    check_screen,
    open_page,
    serve,
)
from tests.factories import (
    HUAIBEI_CENTRE,
    claim_at,
    create_branches,
    create_campaign,
    create_member_with_token,
    create_staff,
    create_station,
    set_stock,
)

LAT, LNG = HUAIBEI_CENTRE
ADMIN, PASSWORD = "淮北管理员", "correct horse battery"
EXPECTED = r"Failed to load resource: the server responded with a status of 401"
TRADES = ["courier", "food_delivery", "sanitation", "ride_hailing", "truck_driver"]


@pytest.fixture
async def world(conn, settings):
    await create_branches(conn, ("3406", "淮北市总工会"))
    park = await create_station(
        conn, name="相山公园派水点", kind="water_point", district_code="340603"
    )
    lake = await create_station(
        conn,
        name="南湖派水点",
        kind="water_point",
        district="杜集区",
        district_code="340602",
        lat=LAT + 0.001,
    )
    campaign = await create_campaign(
        conn,
        [park["id"], lake["id"]],
        branch="3406",
        name="2026 淮北夏季送清凉",
        prizes=[PrizeSpec("夏日清凉礼包", 20, 0.3)],
    )
    await set_stock(conn, park["id"], 50)
    await set_stock(conn, lake["id"], 4)
    await create_staff(conn, role="admin", branch="3406", name=ADMIN, password=PASSWORD)
    tokens = [
        (await create_member_with_token(conn, settings, occupation=TRADES[n % 5]))[1]
        for n in range(12)
    ]
    return SimpleNamespace(park=park, lake=lake, campaign=campaign, tokens=tokens)


@pytest.fixture
async def service(world, settings):
    no_tiles = settings.model_copy(update={"tiles": TileSettings(url=None)})
    async with serve(create_app(no_tiles)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            answers = await asyncio.gather(
                *(
                    claim_at(http, world.park if n % 2 else world.lake, token, settings)
                    for n, token in enumerate(world.tokens)
                )
            )
        assert sum(a.status_code == 201 for a in answers) >= 8
        yield url


async def screen_ok(page) -> None:
    await check_screen(page)
    text = await page.locator("body").inner_text()
    assert not re.search(r"\b(null|undefined|NaN|\[object Object\])\b", text), text


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_an_administrator_reads_the_campaign_dashboard_and_downloads_it(
    browser, service, world, conn, artifacts_dir, viewport
):
    shot = lambda step: str(artifacts_dir / f"console-admin-{viewport}-{step}.png")  # noqa: E731
    # a member who claimed at the lake reports that it had no water
    await conn.execute(
        "INSERT INTO ratings (member_id, station_id, local_day, stars, tags, visit_kind,"
        " visited_at) SELECT member_id, station_id, local_day, 2, '{no_water}', 'claim', now()"
        " FROM claims WHERE station_id = $1 ORDER BY id LIMIT 1",
        world.lake["id"],
    )
    watch = Watch()
    context, page = await open_page(browser, service, watch, viewport, accept_downloads=True)
    await page.goto(service + "/staff/")
    await page.get_by_label("账号名").fill(ADMIN)
    await page.get_by_label("密码", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("link", name=re.compile("送水活动与报表")).click()
    await page.get_by_role("heading", name="送水活动与报表").wait_for()
    await screen_ok(page)
    await page.screenshot(path=shot("1-campaigns"), full_page=True)

    await page.get_by_role("link", name="查看报表").click()
    await page.locator(".report-figures").wait_for()
    assert await page.locator("h2").inner_text() == "2026 淮北夏季送清凉"
    cid = world.campaign["id"]
    expected = await conn.fetchrow(
        "SELECT count(*) AS claims, count(DISTINCT member_id) AS members "
        "FROM claims WHERE campaign_id = $1",
        cid,
    )
    figures = dict(
        await page.evaluate(
            """() => [...document.querySelectorAll(".report-figures .figure")]
                     .map((f) => [f.querySelector("dt").innerText,
                                  f.querySelector("dd").innerText])"""
        )
    )
    assert figures["累计领取（瓶）"] == str(expected["claims"])
    assert figures["累计惠及会员"] == str(expected["members"])
    assert figures["今日领取（瓶）"] == str(expected["claims"])
    assert figures["有领取的站点"] == "2 / 2"
    # The chart has a bar per day of the campaign so far, its title says what it shows.
    bars = page.locator("svg.chart rect.bar")
    assert await bars.count() >= 2
    assert "每日领取瓶数柱状图" in await page.locator("svg.chart title").first.text_content()
    trades = page.locator("#r-by-trade + div table tbody tr")
    assert await trades.count() == 9  # every trade of the member list's vocabulary
    courier = await trades.filter(has_text="快递员").locator("td").all_inner_texts()
    couriers = await conn.fetchval(
        "SELECT count(*) FROM claims c JOIN members m ON m.id = c.member_id "
        "WHERE c.campaign_id = $1 AND m.occupation = 'courier'",
        cid,
    )
    assert courier[0] == str(couriers)
    assert "南湖派水点" in await page.locator("#r-stock-out + *").inner_text()
    assert "今天已领完" in await page.locator("#r-stock-out + *").inner_text()
    reported = await page.locator("#r-ratings + div table tbody tr").all_inner_texts()
    assert len(reported) == 1 and "南湖派水点" in reported[0], reported
    cells = await page.locator("#r-ratings + div table tbody tr td").all_inner_texts()
    assert cells[-4:] == ["1", "2.0", "1", "0"], cells  # ratings, mean, no water, closed
    await screen_ok(page)
    await page.screenshot(path=shot("2-dashboard"), full_page=True)

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="下载 Excel（.xlsx）").click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO((await download.path()).read_bytes()))
    summary = {r[0]: r[1] for r in book["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["领取(瓶)"] == expected["claims"]
    assert summary["惠及会员(人)"] == expected["members"]
    assert {"按日", "按职业", "按区县", "按站点", "奖品", "断水站点"} <= set(book.sheetnames)

    # In English, the same dashboard.
    await page.get_by_role("button", name="Switch to English").click()
    await page.get_by_role("heading", name="2026 淮北夏季送清凉").wait_for()
    await page.get_by_text("Members reached").first.wait_for()
    await screen_ok(page)
    await page.screenshot(path=shot("3-dashboard-en"), full_page=True)
    await context.close()
    assert watch.blocked == []
    assert watch.unexpected_errors(EXPECTED) == []


def station_workbook(path) -> None:
    """A union office's .xlsx: a title row, the header, two good rows and three bad ones."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "驿站名单"
    sheet.append(["淮北市户外劳动者服务站点（2026 年 6 月）"])
    sheet.append(["source_id", "name", "kind", "lat", "lng", "district_code", "opening_hours"])
    sheet.append([1939, "人民路爱心驿站", "love_station", LAT + 0.002, LNG, 340603, "24/7"])
    sheet.append([1940, "", "water_point", LAT + 0.003, LNG, 340603, "24/7"])
    sheet.append([1941, "淮海路派水点", "water_point", 95.5, LNG, 340603, "24/7"])
    sheet.append([1942, "雁塔驿站", "love_station", LAT + 0.004, LNG, 610113, "24/7"])
    sheet.append(
        [1943, "古城路派水点", "water_point", LAT + 0.005, LNG, 340602, "Mo-Su 07:00-19:00"]
    )
    book.save(path)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_an_administrator_uploads_an_xlsx_station_file_and_confirms_it(
    browser, service, conn, artifacts_dir, tmp_path, viewport
):
    shot = lambda step: str(artifacts_dir / f"console-admin-{viewport}-{step}.png")  # noqa: E731
    path = tmp_path / "淮北驿站.xlsx"
    station_workbook(path)
    before = await conn.fetchval("SELECT count(*) FROM stations")
    watch = Watch()
    context, page = await open_page(browser, service, watch, viewport, accept_downloads=True)
    await page.goto(service + "/staff/#/admin")
    await page.get_by_label("账号名").fill(ADMIN)
    await page.get_by_label("密码", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("link", name=re.compile("导入站点与会员")).click()
    await page.get_by_label("导入内容").select_option("stations")
    await page.set_input_files("#upload-file", str(path))
    await page.get_by_label("数据来源名称（站点，可不填）").fill("hb-union-2026")
    await screen_ok(page)
    await page.screenshot(path=shot("4-import-form"), full_page=True)
    await page.get_by_role("button", name="上传并检查").click()

    table = page.locator("#upload-problems")
    await table.wait_for()
    rows = await table.locator("tbody tr").all()
    cells = [await r.locator("th, td").all_inner_texts() for r in rows]
    assert sorted({c[0] for c in cells}) == ["2", "3", "4"]  # rows under the header
    assert any(c[0] == "4" and c[1] == "district_code" and c[3] == "610113" for c in cells)
    figures = dict(
        await page.evaluate(
            """() => [...document.querySelectorAll("#upload-result .figure")]
                     .map((f) => [f.querySelector("dt").innerText,
                                  f.querySelector("dd").innerText])"""
        )
    )
    assert figures["读取行数"] == "5" and figures["新增"] == "2"
    assert figures["有问题（不导入）"] == "3"
    assert await conn.fetchval("SELECT count(*) FROM stations") == before  # a dry run
    await screen_ok(page)
    await page.screenshot(path=shot("5-import-report"), full_page=True)

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="下载问题清单（CSV）").click()
    text = (await (await download_info.value).path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "row,field,code,reason,value,severity"
    assert len(text.splitlines()) >= 4

    await page.get_by_role("button", name="确认导入 2 行").click()
    await page.get_by_text("已导入 2 行。").wait_for()
    names = {
        r["name"]
        for r in await conn.fetch("SELECT name FROM stations WHERE source = 'hb-union-2026'")
    }
    assert names == {"人民路爱心驿站", "古城路派水点"}
    assert (
        await conn.fetchval("SELECT source_id FROM stations WHERE name = '人民路爱心驿站'")
        == "1939"
    )
    await screen_ok(page)
    await page.screenshot(path=shot("6-import-done"), full_page=True)
    await context.close()
    assert watch.blocked == []
    assert watch.unexpected_errors(EXPECTED) == []


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_an_administrator_creates_and_edits_a_campaign(
    browser, service, world, conn, artifacts_dir, viewport
):
    shot = lambda step: str(artifacts_dir / f"console-admin-{viewport}-{step}.png")  # noqa: E731
    watch = Watch()
    context, page = await open_page(browser, service, watch, viewport, accept_downloads=True)
    await page.goto(service + "/staff/#/admin/campaigns")
    await page.get_by_label("账号名").fill(ADMIN)
    await page.get_by_label("密码", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("link", name="新建活动").click()
    await page.get_by_label("活动名称").fill("2026 杜集区送清凉")
    await page.get_by_label("开始日期").fill("2026-07-01")
    await page.get_by_label("结束日期").fill("2026-08-31")
    await page.get_by_label("每日开始发放").fill("07:30")
    await page.get_by_label("每日结束发放").fill("19:00")
    await page.get_by_label("每日开始发放").dispatch_event("change")
    await page.locator("#campaign-hours").get_by_text("07:30–19:00").wait_for()
    await page.get_by_label("每人每日可领（瓶）").fill("2")
    await page.get_by_label("每站每日默认水量（瓶，可不填）").fill("60")
    await page.get_by_label("要求到场码（防止远程领水）").check()
    district = page.get_by_role("button", name="杜集区：已选 0 / 1 站")
    await district.click()
    await page.get_by_role("button", name="杜集区：已选 1 / 1 站").wait_for()
    await page.get_by_role("button", name="添加奖品").click()
    await page.get_by_label("奖品 1 名称").fill("清凉礼包")
    await page.get_by_label("数量（份）").fill("100")
    await page.get_by_label("每次领水中奖概率（%）").fill("5")
    await screen_ok(page)
    await page.screenshot(path=shot("7-campaign-new"), full_page=True)
    # Focused first: clicking the button where it sits half under the window's edge
    # scrolls it into view between mouse-down and mouse-up, and the click goes astray.
    create = page.get_by_role("button", name="创建活动")
    await create.focus()
    await create.click()
    await page.locator(".report-figures").wait_for()
    row = await conn.fetchrow(
        "SELECT id, starts_on, ends_on, to_char(daily_start, 'HH24:MI') AS s, "
        "to_char(daily_end, 'HH24:MI') AS e, daily_quota, daily_allocation, branch, "
        "presence_required "
        "FROM campaigns WHERE name = '2026 杜集区送清凉'"
    )
    assert (row["s"], row["e"], row["daily_quota"], row["daily_allocation"]) == (
        "07:30",
        "19:00",
        2,
        60,
    )
    assert row["branch"] == "3406" and str(row["starts_on"]) == "2026-07-01"
    assert row["presence_required"] is True
    stations = await conn.fetch(
        "SELECT station_id FROM campaign_stations WHERE campaign_id = $1", row["id"]
    )
    assert [r["station_id"] for r in stations] == [world.lake["id"]]
    prize = await conn.fetchrow(
        "SELECT name, total, probability FROM prize_pools WHERE campaign_id = $1", row["id"]
    )
    assert (prize["name"], prize["total"], prize["probability"]) == ("清凉礼包", 100, 0.05)

    # Edit: no default allocation any more, and 相山区 instead of 杜集区.
    await page.get_by_role("link", name="修改活动").click()
    allocation = page.get_by_label("每站每日默认水量（瓶，可不填）")
    await allocation.wait_for()
    assert await allocation.input_value() == "60"
    await allocation.fill("")
    presence_rule = page.get_by_label("要求到场码（防止远程领水）")
    assert await presence_rule.is_checked()
    await presence_rule.uncheck()
    await page.get_by_role("button", name="杜集区：已选 1 / 1 站").click()
    await page.get_by_role("button", name="相山区：已选 0 / 1 站").click()
    await screen_ok(page)
    await page.screenshot(path=shot("8-campaign-edit"), full_page=True)
    await page.get_by_role("button", name="保存修改").focus()
    await page.get_by_role("button", name="保存修改").click()
    await page.locator(".report-figures").wait_for()
    assert (
        await conn.fetchval("SELECT daily_allocation FROM campaigns WHERE id = $1", row["id"])
        is None
    )
    assert (
        await conn.fetchval("SELECT presence_required FROM campaigns WHERE id = $1", row["id"])
        is False
    )
    stations = await conn.fetch(
        "SELECT station_id FROM campaign_stations WHERE campaign_id = $1", row["id"]
    )
    assert [r["station_id"] for r in stations] == [world.park["id"]]
    await context.close()
    assert watch.blocked == []
    assert watch.unexpected_errors(EXPECTED) == []


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_an_administrator_creates_an_account_with_a_password_link_and_disables_one(
    browser, service, world, conn, artifacts_dir, viewport
):
    shot = lambda step: str(artifacts_dir / f"console-admin-{viewport}-{step}.png")  # noqa: E731
    await create_staff(conn, role="planner", branch="3406", name="淮北规划")
    watch = Watch()
    context, page = await open_page(browser, service, watch, viewport, accept_downloads=True)
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto(service + "/staff/#/admin")
    await page.get_by_label("账号名").fill(ADMIN)
    await page.get_by_label("密码", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("link", name=re.compile("工作人员账号")).click()
    await page.get_by_label("账号名（登录用）").fill("南湖派水点值班")
    await page.get_by_label("角色").select_option("operator")
    await page.get_by_label("负责的站点编号").fill(world.lake["code"])
    await page.get_by_role("button", name="创建账号并生成链接").focus()
    await page.get_by_role("button", name="创建账号并生成链接").click()
    link = page.get_by_label("南湖派水点值班 的设置密码链接")
    await link.wait_for()
    url = await link.input_value()
    assert url.startswith(service + "/staff/#/set-password?token=")
    account = await conn.fetchrow(
        "SELECT a.role, array_agg(os.station_id) AS stations FROM accounts a "
        "JOIN operator_stations os ON os.account_id = a.id WHERE a.name = '南湖派水点值班' "
        "GROUP BY a.role"
    )
    assert account["role"] == "operator" and account["stations"] == [world.lake["id"]]
    await page.locator("li.card", has_text="南湖派水点值班").wait_for()  # listed at once
    await screen_ok(page)
    await page.screenshot(path=shot("9-accounts-created"), full_page=True)

    planner = page.locator("li.card", has_text="淮北规划")
    await planner.get_by_role("button", name="停用账号").click()
    await page.locator("li.card.disabled", has_text="淮北规划").wait_for()
    assert await conn.fetchval(
        "SELECT disabled_at IS NOT NULL FROM accounts WHERE name = '淮北规划'"
    )
    await screen_ok(page)
    await page.screenshot(path=shot("10-accounts"), full_page=True)

    # The link sets the new operator's password (in a fresh window: no session).
    other, fresh = await open_page(browser, service, watch, viewport, accept_downloads=True)
    await fresh.goto(url)
    await fresh.get_by_label("新密码", exact=True).fill("nanhu water 2026")
    await fresh.get_by_label("再输入一次新密码").fill("nanhu water 2026")
    await fresh.get_by_role("button", name="设置密码").click()
    await fresh.get_by_text("账号 南湖派水点值班 的密码已设置").wait_for()
    await other.close()
    await context.close()
    assert watch.blocked == []
    assert watch.unexpected_errors(EXPECTED) == []
