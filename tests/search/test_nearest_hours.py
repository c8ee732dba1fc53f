"""Open now / open at: evaluated in each station's zone, with holidays, breaks and nights."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.factories import create_station
from tests.fixtures.search.app import running_app

SHANGHAI = ZoneInfo("Asia/Shanghai")

STATIONS = {
    "always": ("24/7", "Asia/Shanghai", "CN"),
    "weekdays": ("Mo-Fr 08:00-18:00", "Asia/Shanghai", "CN"),
    "lunch_break": ("Mo-Fr 08:30-12:00,13:30-18:00", "Asia/Shanghai", "CN"),
    "overnight": ("22:00-06:00", "Asia/Shanghai", "CN"),
    "holidays_off": ("Mo-Su 08:00-20:00; PH off", "Asia/Shanghai", "CN"),
    "paris_office": ("Mo-Fr 08:00-18:00", "Europe/Paris", "FR"),
    "unknown": (None, "Asia/Shanghai", "CN"),
    "never": ("off", "Asia/Shanghai", "CN"),
}


@pytest.fixture
async def hours_catalog(conn) -> dict[str, int]:
    ids = {}
    for n, (name, (text, zone, country)) in enumerate(STATIONS.items()):
        row = await create_station(
            conn,
            name=name,
            opening_hours=text,
            time_zone=zone,
            country_code=country,
            lat=33.95 + n * 0.001,
            lng=116.80,
        )
        ids[name] = row["id"]
    return ids


async def _open_at(client, at: datetime | str) -> dict[str, dict[str, Any]]:
    when = at if isinstance(at, str) else at.isoformat()
    response = await client.get(
        "/v1/stations/nearest",
        params={"lat": 33.95, "lng": 116.8, "k": 20, "open_at": when},
    )
    assert response.status_code == 200, response.text
    return {r["name"]: r["open"] for r in response.json()["results"]}


@pytest.mark.parametrize(
    ("at", "open_names", "next_changes"),
    [
        (
            datetime(2026, 7, 15, 13, 45, tzinfo=SHANGHAI),  # Wednesday afternoon; 07:45 in Paris
            {"always", "weekdays", "lunch_break", "holidays_off"},
            {"weekdays": "2026-07-15T18:00:00+08:00", "lunch_break": "2026-07-15T18:00:00+08:00"},
        ),
        (
            datetime(2026, 7, 15, 12, 30, tzinfo=SHANGHAI),  # the lunch break
            {"always", "weekdays", "holidays_off"},
            {},
        ),
        (
            datetime(2026, 7, 16, 4, 0, tzinfo=SHANGHAI),  # 4 a.m.: only the night shift is open
            {"always", "overnight"},
            {"overnight": "2026-07-16T06:00:00+08:00"},
        ),
        (
            datetime(2026, 7, 18, 10, 0, tzinfo=SHANGHAI),  # Saturday
            {"always", "holidays_off"},
            {},
        ),
        (
            datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI),  # National Day, a Thursday
            {"always", "weekdays", "lunch_break"},
            {},
        ),
        (
            datetime(2026, 7, 15, 16, 0, tzinfo=SHANGHAI),  # 10:00 in Paris (summer time)
            {"always", "weekdays", "lunch_break", "holidays_off", "paris_office"},
            {"paris_office": "2026-07-15T18:00:00+02:00"},
        ),
    ],
)
async def test_open_at_filters_by_each_station_s_own_hours(
    settings, hours_catalog, at, open_names, next_changes
):
    async with running_app(settings) as (_, client):
        found = await _open_at(client, at)
    assert set(found) == open_names
    assert all(state["is_open"] is True for state in found.values())
    for name, when in next_changes.items():
        assert found[name]["next_change"] == when


async def test_every_result_says_whether_it_is_open_and_until_when(settings, hours_catalog):
    async with running_app(settings) as (_, client):
        response = await client.get(
            "/v1/stations/nearest",
            params={"lat": 33.95, "lng": 116.8, "k": 20, "open_at": "2026-07-15T23:00:00+08:00"},
        )
        unfiltered = await client.get("/v1/stations/nearest?lat=33.95&lng=116.8&k=20")
    states = {r["name"]: r["open"] for r in response.json()["results"]}
    assert states == {
        "always": {"is_open": True, "next_change": None},
        "overnight": {"is_open": True, "next_change": "2026-07-16T06:00:00+08:00"},
        # 23:00 in Huaibei is 17:00 in Paris: still office hours there.
        "paris_office": {"is_open": True, "next_change": "2026-07-15T18:00:00+02:00"},
    }
    everything = {r["name"]: r["open"] for r in unfiltered.json()["results"]}
    assert len(everything) == len(STATIONS)  # no open filter: all of them, each with its state
    assert everything["unknown"] == {"is_open": None, "next_change": None}
    assert everything["never"]["is_open"] is False


async def test_open_now_uses_the_current_time_and_leaves_out_unknown_hours(settings, hours_catalog):
    async with running_app(settings) as (_, client):
        response = await client.get("/v1/stations/nearest?lat=33.95&lng=116.8&k=20&open_now=true")
    names = {r["name"] for r in response.json()["results"]}
    assert "always" in names
    assert "unknown" not in names and "never" not in names
    assert all(r["open"]["is_open"] is True for r in response.json()["results"])


@pytest.mark.parametrize(
    ("query", "detail_start"),
    [
        ("open_now=true&open_at=2026-07-15T14:00:00%2B08:00", "open_at: give either open_now"),
        ("open_at=2026-07-15T14:00:00", "open_at: give the time with its UTC offset"),
        ("open_at=yesterday", "open_at: 'yesterday' is not an ISO 8601 time"),
        ("open_at=0001-01-01T00:00:00%2B14:00", "open_at: must be between 1970 and 2200"),
        ("open_now=perhaps", "open_now: must be true or false"),
        ("open_now=", "open_now: must be true or false"),
        ("open_at=", "open_at: '' is not an ISO 8601 time"),
    ],
)
async def test_malformed_time_filters_are_refused(settings, conn, query, detail_start):
    async with running_app(settings) as (_, client):
        response = await client.get(f"/v1/stations/nearest?lat=33.95&lng=116.8&{query}")
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail_start)


async def test_station_shows_its_hours_in_words_for_seven_days(settings, hours_catalog):
    async with running_app(settings) as (_, client):
        overnight = (await client.get(f"/v1/stations/{hours_catalog['overnight']}")).json()
        always = (await client.get(f"/v1/stations/{hours_catalog['always']}")).json()
        unknown = (await client.get(f"/v1/stations/{hours_catalog['unknown']}")).json()
    days = overnight["hours_next_7_days"]
    assert len(days) == 7
    assert days[1]["open"] == [{"from": "22:00", "to": "06:00", "ends_next_day": True}]
    assert days[1]["text_zh"].endswith("22:00–次日06:00")
    assert days[1]["text_en"].endswith("22:00–06:00 (next day)")
    assert all(
        d["all_day"] and d["text_en"].endswith("open 24 hours") for d in always["hours_next_7_days"]
    )
    assert all(d["unknown"] for d in unknown["hours_next_7_days"])
    assert unknown["open"] == {"is_open": None, "next_change": None}


def test_week_in_words_covers_lunch_breaks_and_public_holidays():
    from stations.catalog.hours_words import week_in_words

    days = week_in_words(
        "Mo-Fr 08:30-12:00,13:30-18:00; PH off",
        time_zone="Asia/Shanghai",
        country="CN",
        start=datetime(2026, 9, 30, 9, 0, tzinfo=SHANGHAI),
        days=3,
    )
    assert days[0]["text_zh"] == "周三 9月30日：08:30–12:00、13:30–18:00"
    assert days[0]["text_en"] == "Wed 30 Sep: 08:30–12:00, 13:30–18:00"
    assert days[1]["text_zh"] == "周四 10月1日：不开放"  # National Day
    assert days[2]["open"][0] == {"from": "08:30", "to": "12:00", "ends_next_day": False}


def test_week_in_words_shows_the_night_already_running_on_the_first_day():
    from stations.catalog.hours_words import week_in_words

    days = week_in_words(
        "22:00-06:00",
        time_zone="Asia/Shanghai",
        country="CN",
        start=datetime(2026, 7, 16, 4, 0, tzinfo=SHANGHAI),
        days=2,
    )
    assert [s["from"] for s in days[0]["open"]] == ["00:00", "22:00"]
    assert [s["from"] for s in days[1]["open"]] == ["22:00"]


def test_cached_open_state_changes_exactly_at_the_next_change():
    from stations.search.openness import CLOSED, OPEN, OpeningStates

    states = OpeningStates()
    key = states.key_for("Mo-Fr 08:00-18:00", "Asia/Shanghai", "CN")
    before = datetime(2026, 7, 15, 17, 59, 59, tzinfo=SHANGHAI).timestamp()
    after = datetime(2026, 7, 15, 18, 0, 0, tzinfo=SHANGHAI).timestamp()
    assert states.states_now(before)[key] == OPEN
    assert states.states_now(after)[key] == CLOSED
    assert b"2026-07-16T08:00:00+08:00" in states.fragment_now(key)
