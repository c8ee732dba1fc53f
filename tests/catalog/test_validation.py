"""The station rules shared by the importer and single-station writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stations.catalog import rules
from stations.catalog.problems import Problems
from stations.catalog.text import name_key
from stations.catalog.zones import country_of_zone, infer_time_zones
from stations.errors import InvalidInput
from stations.geo import h3cells

AMENITY_LIST = ", ".join(rules.AMENITY_NAMES)


def test_valid_station_is_returned_cleaned():
    clean = rules.validate_station(
        {
            "name": "  相山公园爱心驿站 ",
            "kind": "Love Station",
            "amenities": "seating; drinking_water;seating",
            "opening_hours": " Mo-Fr  08:30-18:00 ",
            "country_code": "cn",
            "lat": "33.9556",
            "lng": 116.7983,
        }
    )
    assert clean["name"] == "相山公园爱心驿站"
    assert clean["kind"] == "love_station"
    assert clean["amenities"] == ["drinking_water", "seating"]  # vocabulary order, no repeats
    assert clean["opening_hours"] == "Mo-Fr 08:30-18:00"
    assert clean["country_code"] == "CN"
    assert (clean["lat"], clean["lng"], clean["crs"].name) == (33.9556, 116.7983, "wgs84")


def test_missing_required_fields_are_all_named():
    with pytest.raises(InvalidInput) as info:
        rules.validate_station({})
    assert info.value.detail == (
        "name: is missing; every station needs a name; "
        "kind: is missing; use one of love_station, water_point; "
        "lat: is missing; lng: is missing"
    )


def test_every_bad_field_is_listed_with_what_is_allowed():
    with pytest.raises(InvalidInput) as info:
        rules.validate_station(
            {
                "name": "x" * 201,
                "kind": "shop",
                "status": "gone",
                "access": "everyone",
                "amenities": ["wifi", "sauna"],
                "opening_hours": "every day",
                "time_zone": "China/Beijing",
                "country_code": "CHN",
                "verified_at": "yesterday",
                "lat": 95,
                "lng": "east",
            }
        )
    detail = info.value.detail
    expected = [
        "name: is longer than 200 characters; shorten it",
        "kind: 'shop' is not a station kind; use one of love_station, water_point (got 'shop')",
        "status: 'gone' is not a station status; use one of active, temporarily_closed, closed",
        "access: 'everyone' is not an access rule; use one of open_to_all, members_only, "
        "customers_only, key_or_app",
        f"amenities: 'sauna' is not a known amenity; use names from: {AMENITY_LIST}",
        "opening_hours: 'every day' is not valid OpenStreetMap opening_hours",
        "time_zone: 'China/Beijing' is not an IANA time zone; use a name like 'Asia/Shanghai'",
        "country_code: 'CHN' is not a two-letter ISO 3166 country code; write e.g. CN or FR",
        "verified_at: 'yesterday' is not a date and time; write ISO 8601, "
        "e.g. 2025-06-01T09:00:00+08:00",
        "lat: is outside -90..90; check that lat and lng are not swapped (got '95.0')",
        "lng: is not a number (got 'east')",
    ]
    for part in expected:
        assert part in detail
    assert info.value.field is None  # several fields: no single one to point at


def test_partial_update_checks_only_the_fields_given():
    assert rules.validate_station({"status": "temporarily_closed"}, partial=True) == {
        "status": "temporarily_closed"
    }
    with pytest.raises(InvalidInput) as info:
        rules.validate_station({"status": "gone"}, partial=True)
    assert info.value.field == "status"


def test_unknown_fields_are_refused_with_the_allowed_ones():
    with pytest.raises(InvalidInput) as info:
        rules.validate_station({"nmae": "驿站"}, partial=True)
    assert info.value.detail.startswith("nmae: not a station field; allowed: name, name_en, kind")


def test_the_zero_position_placeholder_is_refused():
    with pytest.raises(InvalidInput) as info:
        rules.validate_station({"name": "驿站", "kind": "water_point", "lat": 0, "lng": 0.0})
    assert info.value.detail == (
        "position: is within 1 km of (0, 0), the usual placeholder for an unknown position; "
        "give the real one"
    )


def test_importer_and_single_writes_give_the_same_reason():
    problems = Problems()
    rules.check_fields(pd.DataFrame({"amenities": ["sauna"]}), problems, partial=True)
    from_frame = problems.frame()["reason"].tolist()
    with pytest.raises(InvalidInput) as info:
        rules.validate_station({"amenities": "sauna"}, partial=True)
    assert info.value.detail == f"amenities: {from_frame[0]} (got 'sauna')"


def test_rules_on_a_frame_report_each_bad_row_once_per_field():
    frame = pd.DataFrame(
        {
            "name": ["甲", "", "丙", "丁"],
            "kind": ["love_station", "water_point", "kiosk", "kiosk"],
            "opening_hours": ["24/7", "bad hours", "bad hours", None],
        },
        index=[10, 11, 12, 13],
    )
    problems = Problems()
    cleaned = rules.check_fields(frame, problems)
    found = problems.frame().sort_values(["index", "field"])
    assert found[["index", "field", "code"]].values.tolist() == [
        [11, "name", "missing"],
        [11, "opening_hours", "bad_opening_hours"],
        [12, "kind", "not_allowed"],
        [12, "opening_hours", "bad_opening_hours"],
        [13, "kind", "not_allowed"],
    ]
    assert cleaned["kind"].tolist() == ["love_station", "water_point", None, None]


def test_names_match_ignoring_case_width_spaces_and_punctuation():
    assert name_key("相山公园 爱心驿站") == name_key("相山公园爱心驿站")
    assert name_key("Fontaine-Wallace") == name_key("ＦＯＮＴＡＩＮＥ wallace")
    assert name_key("驿站一") != name_key("驿站二")


def test_time_zone_and_country_follow_the_position():
    lat = np.array([33.9556, 43.80, 48.8566, 45.5017, 10.0])
    lng = np.array([116.7983, 87.60, 2.3522, -73.5673, -140.0])
    cells = h3cells.catalog_cells(lat, lng)[11]
    zones = infer_time_zones(lat, lng, cells).tolist()
    assert zones == [
        "Asia/Shanghai",
        "Asia/Urumqi",
        "Europe/Paris",
        "America/Toronto",
        "Etc/GMT+9",  # the Pacific: no land zone, the nautical one
    ]
    assert [country_of_zone(z) for z in zones] == ["CN", "CN", "FR", "CA", None]


def test_a_spreadsheet_text_marker_before_a_formula_start_is_taken_off():
    import pandas as pd

    from stations.catalog.text import as_text

    cells = pd.Series(["'=1+2", "'+86 138 0000 0000", "'-3", "'@home", "'s 驿站", "''", "x'=y"])
    assert as_text(cells).tolist() == [
        "=1+2",
        "+86 138 0000 0000",
        "-3",
        "@home",
        "'s 驿站",  # an apostrophe before anything else is the text's own
        "''",
        "x'=y",
    ]
