"""The demo generator: deterministic, in the vocabulary, and where workers are."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from stations.catalog.hours import validate_opening_hours
from stations.catalog.vocab import AMENITIES, Access, Kind, Status
from stations.demo.cities import CITIES, load_city
from stations.demo.generator import (
    ACTIVITY_NAMES,
    DEMAND_COLUMNS,
    MIN_SPACING_M,
    STATION_COLUMNS,
    DemoCity,
    generate_city,
)
from stations.errors import InvalidInput
from stations.geo import crs
from stations.geo.distance import geodesic_m

CJK = re.compile(r"[\u4e00-\u9fff]")
NEAR_ANCHOR_M = 3_000.0


@pytest.fixture(scope="module")
def cities() -> dict[str, DemoCity]:
    return {city: generate_city(city, seed=1) for city in CITIES}


@pytest.fixture(scope="module", params=CITIES)
def city(request: pytest.FixtureRequest, cities: dict[str, DemoCity]) -> DemoCity:
    return cities[request.param]


def _local_metres(lat: np.ndarray, lng: np.ndarray, lat0: float = 34.0) -> np.ndarray:
    """Planar metres, one scale for every call so that trees and queries agree."""
    return np.column_stack(
        [np.asarray(lng) * 111_320.0 * np.cos(np.radians(lat0)), np.asarray(lat) * 111_320.0]
    )


def _place_points(demo: DemoCity) -> tuple[np.ndarray, np.ndarray]:
    """Anchors, and streets densified every ~50 m."""
    lats: list[float] = []
    lngs: list[float] = []
    for place in demo.spec.places:
        if not place.is_street:
            lats.append(float(place.lats[0]))
            lngs.append(float(place.lngs[0]))
            continue
        for i in range(len(place.lats) - 1):
            length = float(
                geodesic_m(place.lats[i], place.lngs[i], place.lats[i + 1], place.lngs[i + 1])
            )
            t = np.linspace(0.0, 1.0, max(2, int(length / 50) + 1))
            lats.extend(place.lats[i] + t * (place.lats[i + 1] - place.lats[i]))
            lngs.extend(place.lngs[i] + t * (place.lngs[i + 1] - place.lngs[i]))
    return np.array(lats), np.array(lngs)


def test_same_seed_gives_identical_frames(city: DemoCity):
    again = generate_city(city.spec.key, seed=1)
    pd.testing.assert_frame_equal(again.stations, city.stations)
    pd.testing.assert_frame_equal(again.demand, city.demand)


def test_different_seed_gives_a_different_catalog(city: DemoCity):
    other = generate_city(city.spec.key, seed=2)
    assert not other.stations[["lat", "lng"]].equals(city.stations[["lat", "lng"]])
    assert (other.stations["name"] != city.stations["name"]).any()
    assert not other.demand[["lat", "lng"]].equals(city.demand[["lat", "lng"]])


def test_huaibei_has_exactly_164_water_points_and_dozens_of_love_stations(cities):
    kinds = cities["huaibei"].stations["kind"].value_counts()
    assert kinds[Kind.WATER_POINT.value] == 164
    assert 40 <= kinds[Kind.LOVE_STATION.value] <= 120


def test_xian_has_several_hundred_love_stations_most_handing_out_water(cities):
    stations = cities["xian"].stations
    assert set(stations["kind"]) == {Kind.LOVE_STATION.value}
    assert 500 <= len(stations) <= 700
    with_water = stations["amenities"].map(lambda names: "drinking_water" in names)
    assert with_water.mean() > 0.9


def test_frames_have_the_importers_columns(city: DemoCity):
    assert tuple(city.stations.columns) == STATION_COLUMNS
    assert tuple(city.demand.columns) == DEMAND_COLUMNS


def test_every_value_is_in_the_catalog_vocabulary(city: DemoCity):
    stations = city.stations
    assert set(stations["kind"]) <= {k.value for k in Kind}
    assert set(stations["status"]) <= {s.value for s in Status}
    assert set(stations["access"]) == {a.value for a in Access}
    for names in stations["amenities"]:
        assert names, "every station offers something"
        assert set(names) <= set(AMENITIES)
        assert len(set(names)) == len(names)
    assert set(stations["time_zone"]) == {"Asia/Shanghai"}
    assert set(stations["country_code"]) == {"CN"}


def test_every_opening_hours_expression_parses(city: DemoCity):
    hours = city.stations["opening_hours"].dropna()
    assert len(hours) > 0.9 * len(city.stations)
    for text in hours.unique():
        assert validate_opening_hours(text) == text


def test_hours_and_statuses_vary_like_a_real_catalog(city: DemoCity):
    hours = city.stations["opening_hours"]
    assert (hours == "24/7").any()
    assert hours.str.startswith("Mo-Fr 08:30-", na=False).any()
    assert hours.str.contains("04:30", na=False).any(), "sanitation depots open early"
    assert hours.str.contains("PH off", na=False).any()
    assert hours.isna().any(), "a few stations have unknown hours"
    statuses = set(city.stations["status"])
    assert {Status.ACTIVE.value, Status.TEMPORARILY_CLOSED.value, Status.CLOSED.value} <= statuses
    assert (city.stations["status"] == Status.ACTIVE.value).mean() > 0.85


def test_stations_lie_in_the_city_near_an_anchor_or_street(city: DemoCity):
    stations = city.stations
    assert city.spec.extent.contains(stations["lat"], stations["lng"]).all()
    lats, lngs = _place_points(city)
    tree = cKDTree(_local_metres(lats, lngs))
    distance, _ = tree.query(_local_metres(stations["lat"].to_numpy(), stations["lng"].to_numpy()))
    assert distance.max() < NEAR_ANCHOR_M


def test_stations_cluster_instead_of_spreading_over_the_city(city: DemoCity):
    lats, lngs = _place_points(city)
    tree = cKDTree(_local_metres(lats, lngs))
    distance, _ = tree.query(
        _local_metres(city.stations["lat"].to_numpy(), city.stations["lng"].to_numpy())
    )
    assert np.median(distance) < 400


def test_xian_stations_stay_out_of_the_qinling_foothills(cities):
    # South of the 长安 and 鄠邑 towns the land rises into the 秦岭 within a few km.
    assert cities["xian"].stations["lat"].min() > 34.09


def test_no_two_stations_closer_than_the_minimum_spacing(city: DemoCity):
    stations = city.stations
    points = _local_metres(stations["lat"].to_numpy(), stations["lng"].to_numpy())
    pairs = cKDTree(points).query_pairs(r=MIN_SPACING_M * 1.05)
    for i, j in pairs:  # the planar check is a superset; confirm on the sphere
        a, b = stations.iloc[i], stations.iloc[j]
        assert geodesic_m(a["lat"], a["lng"], b["lat"], b["lng"]) >= MIN_SPACING_M


def test_names_are_unique_chinese_and_water_points_name_their_host(city: DemoCity):
    names = city.stations["name"]
    assert names.map(lambda n: bool(CJK.search(n)) and n.strip() == n and len(n) <= 200).all()
    assert names.is_unique
    water = city.stations[city.stations["kind"] == Kind.WATER_POINT.value]
    assert water["name"].str.startswith("一瓶水·传递爱 派水点（").all()


def test_source_ids_are_unique_and_stable_across_seeds(city: DemoCity):
    ids = city.stations["source_id"]
    assert ids.is_unique
    assert ids.str.fullmatch(rf"{city.spec.key}-(ls|wp)-\d{{4}}").all()
    assert list(generate_city(city.spec.key, seed=7).stations["source_id"]) == list(ids)
    assert city.demand["source_id"].is_unique


def test_districts_and_addresses_belong_to_the_city(city: DemoCity):
    spec = city.spec
    known = {d.name: d.code for d in spec.districts.values()}
    pairs = set(zip(city.stations["district"], city.stations["district_code"], strict=True))
    assert all(known[name] == code for name, code in pairs)
    assert all(code.startswith(spec.code[:4]) for _, code in pairs)
    assert len(pairs) >= 4
    assert city.stations["address"].str.startswith(spec.name).all()
    assert (city.stations["address"].map(lambda a, s=spec: a[len(s.name) :][:3]) != "").all()


def test_community_stations_sit_in_the_community_they_are_named_after(city: DemoCity):
    stations = city.stations
    rows = stations[
        stations["name"].str.contains("社区党群服务中心") & stations["address"].str.endswith("社区")
    ]
    assert len(rows) > 0
    for name, address in zip(rows["name"], rows["address"], strict=True):
        community = re.search(r"([^（]+?)社区党群服务中心", name)
        assert community is not None
        assert address.endswith(f"{community.group(1)}社区"), (name, address)


def test_contact_numbers_are_obviously_fictitious(city: DemoCity):
    contacts = city.stations["contact"].dropna()
    area = city.spec.phone_area
    assert len(contacts) > 0
    assert contacts.str.fullmatch(rf"{area}-0000\d{{4}}").all()


def test_amenities_follow_the_host(city: DemoCity):
    stations = city.stations.set_index("name")
    banks = stations[stations.index.str.contains("银行")]
    banks = banks[banks["kind"] == Kind.LOVE_STATION.value]
    assert len(banks) > 0
    assert banks["amenities"].map(lambda a: {"seating", "air_conditioning"} <= set(a)).all()
    sanitation = stations[stations.index.str.contains("环卫")]
    assert len(sanitation) > 0
    assert sanitation["amenities"].map(lambda a: "handwashing" in a).all()
    assert sanitation["opening_hours"].str.contains("0[45]:[03]0", na=True).all()
    fuel = stations[stations.index.str.contains("加油站") & (stations["kind"] == "love_station")]
    assert fuel["amenities"].map(lambda a: "restroom" in a).all()


def test_verified_dates_spread_over_the_months_before_as_of(city: DemoCity):
    verified = city.stations["verified_at"]
    as_of = pd.Timestamp(city.spec.as_of).tz_localize("Asia/Shanghai")
    assert verified.dt.tz is not None
    assert (verified < as_of).all()
    assert (verified > as_of - pd.Timedelta(days=300)).all()
    assert verified.dt.month.nunique() >= 6


def test_demand_points_are_many_inside_the_city_and_weighted(city: DemoCity):
    demand = city.demand
    assert len(demand) >= 20_000
    assert city.spec.extent.contains(demand["lat"], demand["lng"]).all()
    assert (demand["weight"] > 0).all()
    assert set(demand["activity"]) == set(ACTIVITY_NAMES)
    as_of = pd.Timestamp(city.spec.as_of).tz_localize("Asia/Shanghai")
    assert (demand["observed_at"] < as_of).all()
    assert (demand["observed_at"] >= as_of - pd.Timedelta(days=8)).all()


def test_demand_follows_the_working_day(city: DemoCity):
    demand = city.demand
    hour = demand["observed_at"].dt.hour
    pickups = hour[demand["activity"] == "order_pickup"]
    meals = pickups.isin([11, 12, 17, 18, 19]).mean()
    small_hours = pickups.isin([2, 3, 4]).mean()
    assert meals > 0.5
    assert small_hours < 0.02
    sweeping = hour[demand["activity"] == "sanitation_round"]
    assert sweeping.isin([4, 5, 6]).mean() > 0.4


def test_industrial_parks_carry_demand_but_few_stations(city: DemoCity):
    # The gaps coverage analysis should find: workers at the parks, stations elsewhere.
    parks = [p for p in city.spec.anchors if p.kind in ("industrial", "logistics")]
    assert parks

    def share_near(frame: pd.DataFrame, weights: np.ndarray | None = None) -> float:
        near = np.zeros(len(frame), dtype=bool)
        for park in parks:
            near |= (
                geodesic_m(frame["lat"], frame["lng"], park.lats[0], park.lngs[0])
                < park.radius_m * 1.5
            )
        w = np.ones(len(frame)) if weights is None else weights
        return float(w[near].sum() / w.sum())

    demand_share = share_near(city.demand, city.demand["weight"].to_numpy())
    station_share = share_near(city.stations)
    assert demand_share > 3 * station_share


def test_anchors_given_in_gcj02_are_stored_in_wgs84():
    spec = load_city("xian")
    bell_tower = next(p for p in spec.anchors if p.name == "钟楼商圈")
    lat, lng = crs.gcj02_to_wgs84(34.2610, 108.9470)
    assert geodesic_m(bell_tower.lats[0], bell_tower.lngs[0], lat, lng) < 0.01
    # The datum shift in Xi'an is a few hundred metres: not converting would show.
    assert geodesic_m(bell_tower.lats[0], bell_tower.lngs[0], 34.2610, 108.9470) > 200


def test_unknown_city_is_refused_with_the_choices():
    with pytest.raises(InvalidInput, match="huaibei, xian"):
        generate_city("paris")


def test_demo_command_refuses_an_unknown_city():
    from typer.testing import CliRunner

    from stations.cli import app

    result = CliRunner().invoke(app, ["demo", "--city", "paris"])
    assert result.exit_code != 0
    assert isinstance(result.exception, InvalidInput)
    assert "huaibei, xian" in str(result.exception)


@pytest.mark.parametrize(
    "arguments", [[], ["--city", "huaibei", "--national"]], ids=["neither", "both"]
)
def test_demo_command_wants_a_city_or_the_national_demo(arguments):
    from typer.testing import CliRunner

    from stations.cli import app

    result = CliRunner().invoke(app, ["demo", *arguments])
    assert result.exit_code == 2
    assert "name a city with --city, or give --national" in result.output
