"""The browser tests' Chromium (one per test module, for every file here), and the
rider page's world: a few stations around the rider with a campaign and stock, a
member, and the app under uvicorn (``test_rider_browser.py``, ``test_rider_search.py``).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from api.main import create_app
from stations.settings import TileSettings
from stations.visits.campaigns import PrizeSpec
from tests.browser.chromium import chromium, serve
from tests.factories import (
    HUAIBEI_CENTRE,
    create_campaign,
    create_member,
    create_station,
    set_stock,
)

LAT, LNG = HUAIBEI_CENTRE
MEMBER_NO, PHONE = "HB900001", "13900000001"


@pytest.fixture(scope="module")
async def browser():
    async with chromium() as running:
        yield running


@pytest.fixture
async def world(conn, settings):
    """A few stations around the rider, a campaign with stock and a prize, a member."""
    closed = await create_station(
        conn, name="相山路警务室驿站", lat=LAT + 0.0003, lng=LNG - 0.0002, opening_hours="off"
    )
    water = await create_station(
        conn,
        name="人民路派水点",
        kind="water_point",
        lat=LAT + 0.0009,
        lng=LNG + 0.0004,
        amenities=["drinking_water", "shade"],
        address="淮北市相山区人民路 12 号",
    )
    second_water = await create_station(
        conn, name="淮海路派水点", kind="water_point", lat=LAT - 0.0004, lng=LNG + 0.0014
    )
    love = await create_station(
        conn,
        name="相山公园爱心驿站",
        lat=LAT - 0.0012,
        lng=LNG - 0.0010,
        amenities=["drinking_water", "restroom", "air_conditioning", "seating"],
    )
    far = await create_station(conn, name="濉溪县城爱心驿站", lat=LAT + 0.05, lng=LNG + 0.05)
    await create_campaign(
        conn,
        [water["id"], second_water["id"]],
        daily_quota=1,
        prizes=[PrizeSpec("夏日清凉礼包", 5, 1.0)],
    )
    await set_stock(conn, water["id"], 20)
    await set_stock(conn, second_water["id"], 20)
    member_id, _, _ = await create_member(conn, settings, member_no=MEMBER_NO, phone=PHONE)
    return SimpleNamespace(
        closed=closed,
        water=water,
        second_water=second_water,
        love=love,
        far=far,
        member_id=member_id,
    )


@pytest.fixture
async def service(world, settings):
    """The app under uvicorn, started after the world exists (its index loads it)."""
    no_tiles = settings.model_copy(update={"tiles": TileSettings(url=None)})
    async with serve(create_app(no_tiles)) as url:
        yield url
