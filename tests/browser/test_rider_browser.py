"""The rider page in headless Chromium, against the real service, with no internet.

Every request outside the service is aborted, geolocation is faked (browsers give
WGS84), and each flow runs at Playwright's default viewport and on a 360×740 phone
screen: find the nearest open station, hand it to a map app, open a poster's QR URL,
sign in, claim, read the claim code, rate; refusals in plain words, picked by their
code and facts; a flaky network and a reload retry with the same Idempotency-Key; the
last answer shown with its age when the network drops; Chinese tiles drawn in GCJ-02.
Screenshots go to ``artifacts/rider-*.png``. The first load's transfer is measured and
printed. The world (stations, campaign, member) and the service are fixtures of
``conftest.py``, shared with ``test_rider_search.py``.
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from pyproj import Geod

from api.main import create_app
from stations.geo import crs
from stations.settings import TileSettings
from stations.visits import qr
from tests.browser.chromium import Watch, check_screen, gate, serve, watch_page
from tests.browser.conftest import MEMBER_NO, PHONE  # the world's member (see conftest.py)
from tests.factories import HUAIBEI_CENTRE

LAT, LNG = HUAIBEI_CENTRE
FIRST_LOAD_BUDGET = 300_000
VIEWPORTS = {"default": None, "phone": {"width": 360, "height": 740}}
# Failed API requests are logged by Chromium as console errors; a test names the ones
# it provokes (a refusal's 403/409, an aborted request) and any other error fails it.
API_REFUSAL = r"Failed to load resource: the server responded with a status of 4(03|09|22)"
ABORTED_CLAIM = r"Failed to load resource: net::ERR_FAILED.*/v1/claims"
_GEOD = Geod(ellps="WGS84")


def metres(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    return _GEOD.inv(lng1, lat1, lng2, lat2)[2]


def poster(station, base: str, settings) -> str:
    return qr.poster_url(station["code"], security=settings.security, base_url=base)


async def open_context(browser, viewport_name: str, *, lat: float = LAT, lng: float = LNG):
    options = {
        "geolocation": {"latitude": lat, "longitude": lng, "accuracy": 15},
        "permissions": ["geolocation"],
        "locale": "zh-CN",
        "timezone_id": "Asia/Shanghai",
        "service_workers": "block",
    }
    viewport = VIEWPORTS[viewport_name]
    if viewport:
        options |= {"viewport": viewport, "is_mobile": True, "has_touch": True}
    return await browser.new_context(**options)


async def new_page(context, base: str, watch: Watch):
    page = watch_page(await context.new_page(), watch)
    await gate(page, base + "/", watch)
    return page


# --- what every screen must satisfy -----------------------------------------------------


async def first_load_bytes(page) -> int:
    """Bytes on the wire for the document and everything it fetched (Resource Timing)."""
    return await page.evaluate(
        """() => [...performance.getEntriesByType("navigation"),
                  ...performance.getEntriesByType("resource")]
                 .reduce((sum, e) => sum + e.transferSize, 0)"""
    )


async def sign_in(page) -> None:
    await page.wait_for_selector("#signin-view:not([hidden])")
    await page.get_by_label("会员号").fill(MEMBER_NO)
    await page.get_by_label("手机号").fill(PHONE)
    await page.locator("#signin button[type=submit]").click()


def link_position(href: str) -> tuple[str, float, float, str]:
    """(app, lat, lng, declared CRS) read from a map-app link."""
    parts = urlsplit(href)
    query = parse_qs(parts.query)
    if parts.netloc == "uri.amap.com":
        lng, lat = map(float, query["position"][0].split(","))
        return "amap", lat, lng, query["coordinate"][0]
    if parts.netloc == "api.map.baidu.com":
        lat, lng = map(float, query["location"][0].split(","))
        return "baidu", lat, lng, query["coord_type"][0]
    assert parts.scheme == "geo", href
    lat, lng = map(float, parts.path.split(",")[:2])
    return "geo", lat, lng, "wgs84"


_DECLARED = {"gaode": "gcj02", "bd09ll": "bd09", "gcj02": "gcj02", "wgs84": "wgs84"}


# --- the flows ----------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_find_nearest_open_then_scan_sign_in_claim_and_rate(
    browser, service, world, conn, settings, artifacts_dir, viewport, capsys
):
    watch = Watch()
    context = await open_context(browser, viewport)
    page = await new_page(context, service, watch)
    shot = lambda step: str(artifacts_dir / f"rider-{viewport}-{step}.png")  # noqa: E731

    # 1. The page finds the stations around the rider.
    await page.goto(service + "/")
    await page.wait_for_selector(".station-item")
    await page.wait_for_load_state("networkidle")
    transferred = await first_load_bytes(page)
    figure = f"rider page first load ({viewport}): {transferred / 1000:.1f} kB transferred"
    (artifacts_dir / f"rider-{viewport}-first-load.txt").write_text(figure + "\n")
    with capsys.disabled():  # shown in every run's output, passing or not
        print(f"\n{figure}", end=" ")
    assert 50_000 < transferred < FIRST_LOAD_BUDGET
    viewport_meta = await page.locator('meta[name="viewport"]').get_attribute("content")
    assert viewport_meta == "width=device-width, initial-scale=1"
    items = page.locator(".station-item")
    assert await items.count() == 5  # all five; a sixth would wait behind "more"
    first = await items.nth(0).inner_text()
    assert "相山路警务室驿站" in first and "已关闭" in first and "步行约" in first
    assert "今日余水 20 瓶" in await items.nth(1).inner_text()  # live from the stock table
    assert await page.locator(".ls-station").count() == 5
    await check_screen(page)
    await page.screenshot(path=shot("1-list"), full_page=True)

    # 2. One tap: the nearest station that is open now (the closed one is nearer).
    await page.get_by_role("button", name="找最近的开放站点").click()
    heading = page.locator("#station-heading")
    await heading.wait_for()
    assert await heading.inner_text() == "人民路派水点"
    await page.wait_for_selector("[data-map=baidu]")
    assert "营业中" in await page.locator("#station-view .open").inner_text()
    for link in await page.locator(".directions a").all():
        app, lat, lng, declared = link_position(await link.get_attribute("href"))
        w_lat, w_lng = crs.point_to_wgs84(lat, lng, crs.parse_crs(_DECLARED[declared]))
        off = metres(w_lat, w_lng, LAT + 0.0009, LNG + 0.0004)
        assert off < 1.0, (app, declared, off)
        assert declared == {"amap": "gaode", "baidu": "bd09ll", "geo": "wgs84"}[app]
    await check_screen(page)
    await page.screenshot(path=shot("2-nearest-open"), full_page=True)

    # 3. The water point's poster: sign in, claim, read the code, see the prize.
    await page.goto(poster(world.water, service, settings))
    await page.get_by_role("button", name="领取饮用水").click()
    await sign_in(page)
    code = page.locator("#claim-code")
    await code.wait_for()
    claim_code = await conn.fetchval("SELECT claim_code(id) FROM claims")
    assert await code.inner_text() == claim_code
    assert await code.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 40
    assert "夏日清凉礼包" in await page.locator(".prize").inner_text()
    await check_screen(page)
    await page.screenshot(path=shot("3-claimed"), full_page=True)

    # 4. Rating is offered right away: a tag, then one tap on the stars sends it.
    await page.get_by_role("button", name="干净整洁").click()
    await page.get_by_role("button", name="4 星").click()
    await page.wait_for_selector("#rated:has-text('已提交 4 星')")
    row = await conn.fetchrow("SELECT stars, tags, visit_kind FROM ratings")
    assert (row["stars"], row["tags"], row["visit_kind"]) == (4, ["clean"], "claim")
    await check_screen(page)
    await page.screenshot(path=shot("4-rated"), full_page=True)

    # 5. Signing out revokes the token on the server and forgets it here.
    await page.get_by_role("button", name=re.compile("退出登录")).click()
    await page.wait_for_selector("#account:has-text('登录')")
    assert await page.evaluate("() => sessionStorage.getItem('ls.session')") is None
    await page.wait_for_function(
        "() => performance.getEntriesByName(location.origin + '/v1/auth/logout').length > 0"
    )
    assert await conn.fetchval("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL") == 0

    await context.close()
    assert watch.blocked == []
    assert watch.unexpected_errors() == []


async def test_refusals_are_told_in_plain_words_in_both_languages(
    browser, service, world, conn, settings, artifacts_dir
):
    watch = Watch()
    # 600 m north of the water point: outside the campaign's 300 m geofence.
    context = await open_context(browser, "phone", lat=LAT + 0.0009 + 0.0054, lng=LNG + 0.0004)
    page = await new_page(context, service, watch)
    await page.goto(poster(world.water, service, settings))
    await page.get_by_role("button", name="领取饮用水").click()
    await sign_in(page)
    reason = page.locator(".refusal .reason")
    await reason.wait_for()
    # About 600 m, said as the next 100 m up.
    assert (
        await reason.inner_text()
        == "你离站点约 700 米，要在 300 米以内才能领取。请到站点后再扫码。"
    )
    await check_screen(page)
    await page.screenshot(path=str(artifacts_dir / "rider-phone-refused-geofence.png"))

    # At the station: granted; a second bottle today is refused, the quota named.
    await context.set_geolocation({"latitude": LAT + 0.0009, "longitude": LNG + 0.0004})
    await page.reload()
    await page.get_by_role("button", name="领取饮用水").click()
    await page.locator("#claim-code").wait_for()
    await page.get_by_role("button", name="领取饮用水").click()
    await page.wait_for_selector(".refusal .reason:has-text('今天已经领过 1 瓶')")
    assert await page.locator("#claim-code").is_visible()  # the staff can still read it
    await page.get_by_role("button", name="Switch to English").click()
    assert await reason.inner_text() == (
        "You have already claimed your 1 bottle(s) today. Come back tomorrow."
    )
    await check_screen(page)
    await page.screenshot(path=str(artifacts_dir / "rider-phone-refused-quota-en.png"))

    # A station not visited yet: rating is not possible, and the page says why.
    await page.goto(poster(world.love, service, settings))
    why = page.locator("#rating-why")
    await why.wait_for()
    assert await why.inner_text() == (
        "You can rate a station within 24 hours of checking in or claiming water there."
    )
    await page.screenshot(path=str(artifacts_dir / "rider-phone-rating-not-yet-en.png"))
    # Checking in there (270 m away: inside the 300 m of a check-in) opens the rating.
    await page.get_by_role("button", name="Check in").click()
    await page.wait_for_selector(".granted:has-text('Checked in: 相山公园爱心驿站')")
    await page.get_by_role("button", name="5 stars").wait_for()
    assert await why.count() == 0
    await page.screenshot(path=str(artifacts_dir / "rider-phone-checked-in-en.png"))

    # An altered poster: the page says so instead of offering a claim.
    forged = poster(world.love, service, settings)[:-4] + "aaaa"
    await page.goto(forged)
    alert = page.locator(".refusal[role=alert] p")
    await alert.wait_for()
    assert await alert.inner_text() == (
        "This QR code is not valid or was altered. Scan the code posted at the station."
    )
    assert await page.get_by_role("button", name="Claim water").count() == 0
    await context.close()
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1
    assert watch.blocked == []
    assert watch.unexpected_errors(API_REFUSAL) == []


# Refusals as the service sends them (code and facts, api/errors.py), with the words
# the page must show for them; detail is deliberately unlike the service's sentences.
REFUSALS = [
    (
        {"code": "outside_geofence", "distance_m": 612, "radius_m": 300},
        "checkin",
        "你离站点约 612 米，要在 300 米以内才能签到。请到站点后再扫码。",
        "You are about 612 m from the station; check-ins are accepted within 300 m. "
        "Scan again at the station.",
    ),
    (
        {"code": "quota_used", "daily_quota": 2},
        "claim",
        "你今天已经领过 2 瓶了，明天再来。",
        "You have already claimed your 2 bottle(s) today. Come back tomorrow.",
    ),
    (
        {"code": "out_of_stock", "stock_set": False},
        "claim",
        "这个站点今天还没有登记水量，请问工作人员。",
        "This station has not set today's water yet. Please ask the staff.",
    ),
    (
        {"code": "out_of_stock", "stock_set": True},
        "claim",
        "这个站点今天的水已经发完了，请去附近其他派水点。",
        "This station has no bottles left today. Try another water point nearby.",
    ),
    (
        {"code": "campaign_closed", "daily_start": "09:00", "daily_end": "17:30"},
        "claim",
        "这里每天 09:00–17:30 发水，请在这个时间来。",
        "Water is handed out here from 09:00 to 17:30. Please come back then.",
    ),
    (
        {"code": "station_not_open", "next_open": "2031-06-01T08:00:00+08:00"},
        "claim",
        "这个站点现在不在营业时间，6月1日 08:00 开门，请那时再来领取。",
        "This station is closed now by its opening hours; it opens 1/6 08:00. "
        "Please come back then.",
    ),
    (
        {"code": "station_not_open", "next_open": None},
        "claim",
        "这个站点按营业时间现在不开放，也没有写明何时再开，请问站点工作人员。",
        "This station is closed now by its opening hours, which name no next opening. "
        "Please ask its staff.",
    ),
    (
        {"code": "campaign_closed"},
        "claim",
        "这个站点今天没有送水活动。",
        "No water campaign runs at this station today.",
    ),
    (
        {"code": "presence_code_required"},
        "claim",
        "这次活动要求到站领取：请扫描站点屏幕上的二维码，或输入屏幕上的 6 位到场码后再试。",
        "This campaign hands out water at the station only: scan the QR code on the "
        "station's screen, or type its 6-digit presence code, and try again.",
    ),
    (
        {"code": "presence_code_required"},
        "checkin",
        "这个站点的活动要求到站签到：请扫描站点屏幕上的二维码，或输入屏幕上的 6 位到场码后再签到。",
        "A campaign at this station asks you to check in at the station: scan the QR code on "
        "the station's screen, or type its 6-digit presence code, and check in again.",
    ),
    (
        {"code": "presence_code_invalid"},
        "claim",
        "到场码不对或已过期（每 30 秒更换）。请输入站点屏幕上现在显示的 6 位数字后再试。",
        "The presence code is wrong or has expired (it changes every 30 s). Type the 6 digits "
        "the station's screen shows now and try again.",
    ),
    (
        {"code": "sign_in_failed"},
        "claim",
        "会员号和手机号对不上，请检查，或请所在工会核对登记信息。",
        "Member number and phone do not match. Check both, or ask your union branch to "
        "check your registration.",
    ),
    (
        {"code": "claim_expired", "local_day": "2026-07-14"},
        "claim",
        "没有成功：the words of the service",
        "That did not work: the words of the service",
    ),
]


async def test_refusal_words_come_from_the_code_and_its_facts(browser, service):
    watch = Watch()
    context = await open_context(browser, "phone")
    page = await new_page(context, service, watch)
    await page.goto(service + "/")
    await page.wait_for_selector(".station-item")
    # The page's own module instances (same versioned URLs), its words already in use.
    modules = await page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("link[rel=modulepreload]")]
                 .map((l) => [l.href.split("/web/")[1].split("?")[0], l.href]))"""
    )
    urls = [modules["common/i18n.js"], modules["rider/refusals.js"]]
    for problem, kind, zh, en in REFUSALS:
        for language, expected in (("zh", zh), ("en", en)):
            shown = await page.evaluate(
                """async ([[i18nUrl, refusalsUrl], problem, kind, language]) => {
                    const i18n = await import(i18nUrl);
                    const { refusalText } = await import(refusalsUrl);
                    i18n.setLang(language);
                    return refusalText(problem, kind);
                }""",
                [urls, {"detail": "the words of the service", **problem}, kind, language],
            )
            assert shown == expected, (problem, language)
    await context.close()
    assert watch.blocked == [] and watch.unexpected_errors() == []


async def test_a_lost_answer_or_a_reload_retries_the_claim_with_the_same_key(
    browser, service, world, conn, settings, artifacts_dir
):
    watch = Watch()
    context = await open_context(browser, "default", lat=LAT + 0.0009, lng=LNG + 0.0004)
    page = await new_page(context, service, watch)
    keys: list[str] = []

    async def answer_lost(route):
        """The first claim reaches the service, but its answer never reaches the phone."""
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            await route.fetch()
            await route.abort()
        else:
            await route.fallback()

    await page.route("**/v1/claims", answer_lost)
    await page.goto(poster(world.water, service, settings))
    await page.get_by_role("button", name="领取饮用水").click()
    await sign_in(page)
    await page.locator("#claim-code").wait_for()
    assert len(keys) == 2 and keys[0] == keys[1]
    assert await page.locator(".replayed").count() == 1  # the service replayed its answer
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1
    await page.screenshot(path=str(artifacts_dir / "rider-default-claim-replayed.png"))
    await page.unroute("**/v1/claims", answer_lost)

    # No network at all, then the rider reloads: the kept claim goes out unchanged.
    await conn.execute("UPDATE campaigns SET daily_quota = 2")  # a second bottle today
    dropped: list[str] = []

    async def no_network(route):
        dropped.append(route.request.headers["idempotency-key"])
        await route.abort()

    await page.route("**/v1/claims", no_network)
    await page.goto(poster(world.second_water, service, settings))
    await page.get_by_role("button", name="领取饮用水").click()
    await page.wait_for_selector("#result:has-text('网络不稳定')")
    await page.unroute("**/v1/claims", no_network)
    sent: list[str] = []
    page.on(
        "request",
        lambda r: sent.append(r.headers["idempotency-key"]) if r.url.endswith("/v1/claims") else 0,
    )
    await page.reload()
    await page.locator("#claim-code").wait_for()
    assert dropped and set(dropped) == {sent[0]} and len(sent) == 1
    stored = await conn.fetchval(
        "SELECT count(*) FROM claims WHERE station_id = $1", world.second_water["id"]
    )
    assert stored == 1
    await context.close()
    assert watch.blocked == []
    assert watch.unexpected_errors(ABORTED_CLAIM) == []


async def test_when_the_network_drops_the_last_answer_is_shown_with_its_age(
    browser, service, world, artifacts_dir
):
    watch = Watch()
    context = await open_context(browser, "phone")
    page = await new_page(context, service, watch)
    await page.goto(service + "/")
    await page.wait_for_selector(".station-item")
    # As if that answer had been fetched seven minutes ago.
    await page.evaluate(
        """() => {
            const saved = JSON.parse(localStorage.getItem("ls.nearest"));
            saved.at -= 7 * 60 * 1000;
            localStorage.setItem("ls.nearest", JSON.stringify(saved));
        }"""
    )
    await context.set_offline(True)
    await page.get_by_role("button", name="卫生间", exact=True).click()
    await page.wait_for_selector("#status:has-text('7 分钟前')")
    assert await page.locator("#status").inner_text() == "网络不可用，显示的是7 分钟前的结果。"
    assert await page.locator(".station-item").count() == 5
    await page.screenshot(path=str(artifacts_dir / "rider-phone-offline.png"), full_page=True)
    await context.close()
    assert watch.blocked == []
    offline = r"Failed to load resource: net::ERR_INTERNET_DISCONNECTED.*/v1/stations/nearest"
    assert watch.unexpected_errors(offline) == []


async def test_without_location_permission_the_page_says_so(browser, service, world):
    watch = Watch()
    context = await browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
    page = await new_page(context, service, watch)
    await page.goto(service + "/")
    await page.wait_for_selector("#status:has-text('没有位置权限')")
    assert await page.locator("#status").inner_text() == (
        "无法获取位置：没有位置权限。请允许浏览器使用位置，然后点“找最近的开放站点”。"
    )
    await check_screen(page)
    await context.close()
    assert watch.blocked == [] and watch.unexpected_errors() == []


def _mercator_px(lat: float, lng: float, zoom: int) -> tuple[float, float]:
    scale = 256 * 2**zoom
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return (lng + 180) / 360 * scale, (1 - y / math.pi) / 2 * scale


async def test_on_chinese_tiles_rider_and_stations_are_drawn_in_gcj02(
    browser, world, settings, artifacts_dir
):
    chinese_tiles = TileSettings(url="https://tiles.example.cn/{z}/{x}/{y}.png", crs="gcj02")
    watch = Watch()
    tiles: list[str] = []
    async with serve(create_app(settings.model_copy(update={"tiles": chinese_tiles}))) as base:
        context = await open_context(browser, "phone")
        page = await new_page(context, base, watch)

        async def tile(route):  # answered inside the browser: nothing leaves it
            tiles.append(route.request.url)
            await route.fulfill(status=200, content_type="image/png", body=_BLANK_PNG)

        await page.route("https://tiles.example.cn/**", tile)
        nearest: list[str] = []
        page.on("request", lambda r: nearest.append(r.url) if "/nearest?" in r.url else None)
        await page.goto(base + "/")
        await page.wait_for_selector(".station-item")
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=str(artifacts_dir / "rider-phone-gcj02-tiles.png"))

        asked = parse_qs(urlsplit(nearest[0]).query)
        g_lat, g_lng = crs.point_from_wgs84(LAT, LNG, crs.Crs("gcj02"))
        assert asked["crs"] == ["gcj02"]
        assert abs(float(asked["lat"][0]) - g_lat) < 1e-7
        assert abs(float(asked["lng"][0]) - g_lng) < 1e-7

        # On screen, the water point sits where GCJ-02 puts it relative to the rider.
        zoom = {int(urlsplit(u).path.split("/")[1]) for u in tiles}
        assert len(zoom) == 1
        z = zoom.pop()
        station_box = await page.locator(f".ls-station-{world.water['id']}").bounding_box()
        rider_box = await page.locator(".ls-rider").bounding_box()
        s_lat, s_lng = crs.point_from_wgs84(LAT + 0.0009, LNG + 0.0004, crs.Crs("gcj02"))
        sx, sy = _mercator_px(s_lat, s_lng, z)
        rx, ry = _mercator_px(g_lat, g_lng, z)
        drawn_dx = (
            station_box["x"] + station_box["width"] / 2 - rider_box["x"] - rider_box["width"] / 2
        )
        drawn_dy = (
            station_box["y"] + station_box["height"] / 2 - rider_box["y"] - rider_box["height"] / 2
        )
        assert abs(drawn_dx - (sx - rx)) < 2 and abs(drawn_dy - (sy - ry)) < 2
        await context.close()
    assert watch.blocked == []
    assert watch.unexpected_errors() == []


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)  # 1×1, 8-bit RGBA
    pixels = zlib.compress(b"\x00\xdf\xe7\xe2\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


_BLANK_PNG = _png_1x1()
