"""Opening-hours validation and evaluation in the station's own zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from stations.catalog import hours
from stations.errors import InvalidInput

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    "text", ["24/7", "Mo-Fr 08:30-18:00", "Mo-Fr 08:30-12:00,13:30-18:00; PH off", "22:00-06:00"]
)
def test_valid_expressions_pass_and_are_kept(text):
    assert hours.validate_opening_hours(f"  {text} ") == text


@pytest.mark.parametrize("text", ["Mo-Fr 9:00-18:00 foo", "every day", "25:00-26:00x"])
def test_malformed_expressions_are_refused_with_an_example(text):
    with pytest.raises(InvalidInput) as info:
        hours.validate_opening_hours(text)
    assert "not valid OpenStreetMap opening_hours" in info.value.detail
    assert "Mo-Fr 08:30-18:00" in info.value.detail


def test_refusal_points_at_the_character_where_parsing_failed():
    with pytest.raises(InvalidInput) as info:
        hours.validate_opening_hours("Mo-Fr 9:00-18:00 foo")
    assert "at character 18" in info.value.detail
    assert "the parser expected" in info.value.detail


def test_blank_means_unknown():
    assert hours.validate_opening_hours("   ") is None


def test_state_is_evaluated_in_the_station_zone():
    # 09:00 UTC on a Monday is 17:00 in Shanghai (open) and 10:00 in Paris (open),
    # but 02:00 UTC is 10:00 in Shanghai and 03:00 in Paris (closed).
    at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    text = "Mo-Fr 08:30-18:00"
    shanghai = hours.state_at(text, time_zone="Asia/Shanghai", country="CN", at=at)
    paris = hours.state_at(text, time_zone="Europe/Paris", country="FR", at=at)
    assert shanghai.is_open is True
    assert shanghai.next_change == datetime(2026, 11, 23, 18, 0, tzinfo=SHANGHAI)
    assert paris.is_open is False
    assert paris.next_change == datetime(2026, 11, 23, 8, 30, tzinfo=ZoneInfo("Europe/Paris"))


def test_public_holiday_rule_uses_the_country_calendar():
    national_day = datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI)  # a Thursday
    state = hours.state_at(
        "Mo-Fr 08:30-18:00; PH off", time_zone="Asia/Shanghai", country="CN", at=national_day
    )
    assert state.is_open is False


def test_unknown_time_zone_is_refused():
    with pytest.raises(InvalidInput, match="IANA time zone"):
        hours.validate_time_zone("China/Beijing")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The case: a summer water point, asked in December.
        ("Jun-Sep Mo-Su 08:00-20:00", datetime(2026, 6, 1, 8, 0, tzinfo=SHANGHAI)),
        ("Mo-Fr 08:00-12:00; We off", datetime(2025, 12, 11, 8, 0, tzinfo=SHANGHAI)),
        # A spell of "unknown" is not an opening.
        ("Mo-Fr 08:00-12:00; We unknown", datetime(2025, 12, 11, 8, 0, tzinfo=SHANGHAI)),
        ("24/7", datetime(2025, 12, 10, 12, 0, tzinfo=SHANGHAI)),  # open already: now
        ("off", None),
        (None, None),
    ],
)
def test_next_opening_is_found_in_the_stations_zone(text, expected):
    at = datetime(2025, 12, 10, 4, 0, tzinfo=UTC)  # a Wednesday, 12:00 in Huaibei
    found = hours.next_open(text, time_zone="Asia/Shanghai", country="CN", at=at)
    assert found == expected
    assert found is None or found.utcoffset() == SHANGHAI.utcoffset(found.replace(tzinfo=None))
