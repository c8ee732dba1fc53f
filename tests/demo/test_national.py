"""The national demo: its size, spread over China by population, codes, names and CRS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stations.demo.national import (
    LOVE_STATIONS,
    SPREAD_M,
    WATER_POINTS,
    generate_national,
    load_divisions,
    short_name,
)
from stations.errors import InvalidInput
from stations.geo import crs
from stations.geo.distance import geodesic_m


@pytest.fixture(scope="module")
def national():
    return generate_national(seed=1)


def test_the_national_catalog_has_the_networks_size(national):
    stations = national.stations
    counts = stations["kind"].value_counts()
    assert counts["love_station"] == LOVE_STATIONS == 184_200
    assert counts["water_point"] == WATER_POINTS == 209_500
    assert len(stations) == 393_700
    assert stations["source_id"].is_unique and stations["name"].is_unique
    assert 330 <= national.cities <= 345  # prefecture-level, plus the 省直辖 groups
    assert len(national.demand) == 500_000


def test_stations_follow_the_census_by_province(national):
    share = national.stations["district_code"].str[:2].value_counts(normalize=True)
    # 2020 census: Guangdong 126.0 M, Shandong 101.5 M, Tibet 3.6 M of 1,409.8 M.
    assert share["44"] == pytest.approx(126_012_510 / 1_409_778_724, rel=0.03)
    assert share["37"] == pytest.approx(101_527_453 / 1_409_778_724, rel=0.03)
    assert share["54"] == pytest.approx(3_648_100 / 1_409_778_724, rel=0.15)
    assert set(share.index) == {str(code)[:2] for code in load_divisions().code}


def test_district_codes_are_real_county_codes_under_their_city(national):
    divisions = load_divisions()
    known = dict(zip(divisions.code, divisions.name, strict=True))
    stations = national.stations
    assert stations["district_code"].str.fullmatch(r"\d{6}").all()
    assert stations["district_code"].isin(known).all()
    assert (stations["district_code"].map(known) == stations["district"]).all()
    # The address names the province, city and district the code says.
    row = stations[stations["district_code"] == "340603"].iloc[0]
    assert row["address"].startswith("安徽省淮北市相山区"), row["address"]
    row = stations[stations["district_code"] == "310101"].iloc[0]
    assert row["address"].startswith("上海市黄浦区"), row["address"]


def test_positions_are_gcj02_near_their_division_centre(national):
    """The frame is GCJ-02 (as a union export from a map app); in WGS84 each station lies
    within three spreads of its division's centre, and the two systems differ by the
    hundreds of metres GCJ-02 shifts by in China."""
    divisions = load_divisions()
    at = {code: i for i, code in enumerate(divisions.code)}
    sample = national.stations.sample(5_000, random_state=3)
    index = sample["district_code"].map(at).to_numpy()
    lat, lng = crs.to_wgs84(sample["lat"].to_numpy(), sample["lng"].to_numpy(), crs.Crs("gcj02"))
    away = geodesic_m(lat, lng, divisions.lat[index], divisions.lng[index])
    limit = np.array([SPREAD_M[u] for u in divisions.unit[index]]) * 3 * 1.01  # flat-earth offsets
    assert (away <= limit).all()
    shift = geodesic_m(lat, lng, sample["lat"].to_numpy(), sample["lng"].to_numpy())
    assert 50 < float(np.median(shift)) < 900


def test_the_same_seed_gives_the_same_catalog():
    first = generate_national(seed=5, scale=0.01)
    again = generate_national(seed=5, scale=0.01)
    other = generate_national(seed=6, scale=0.01)
    pd.testing.assert_frame_equal(first.stations, again.stations)
    pd.testing.assert_frame_equal(first.demand, again.demand)
    assert not first.stations["lat"].equals(other.stations["lat"])


def test_names_read_like_chinese_station_names(national):
    names = national.stations["name"]
    love = names[national.stations["kind"] == "love_station"]
    assert love.str.contains("驿站|服务站|休息点|作息点|骑手之家|劳动者港湾|司机之家").all()
    assert (
        names[national.stations["kind"] == "water_point"]
        .str.startswith("一瓶水·传递爱 派水点（")
        .all()
    )
    assert short_name("延边朝鲜族自治州") == "延边"
    assert short_name("内蒙古自治区") == "内蒙古"
    assert short_name("淮北市") == "淮北" and short_name("濉溪县") == "濉溪"


def test_a_scale_outside_zero_to_one_is_refused():
    with pytest.raises(InvalidInput, match="scale"):
        generate_national(scale=0)
