"""Demo catalogs for 淮北 and 西安: synthetic, deterministic, and credible on a map.

:func:`generate_city` turns a city's inputs (``stations/demo/cities/<city>.toml``: districts,
anchors where outdoor workers gather, main streets, the local banks and fuel brands)
into two pandas frames: ``stations`` in the catalog importer's columns and ``demand``
(worker-activity points) in the demand importer's columns. Everything random comes
from one ``numpy.random.default_rng(seed)``, consumed in a fixed order, and every date
is relative to the city's ``as_of`` day, so a seed always gives the same frames.

Stations cluster around anchors (tens to a few hundred metres) and along street
frontages, never closer than :data:`MIN_SPACING_M` to each other. Each has a host
(union branch, bank branch, fuel station, community centre, courier depot, shop,
sanitation depot, street cabin, hospital, telecom shop) that decides its name,
operator, amenities, access rule and opening hours. Demand follows what workers do:
order pick-ups at shops and markets, parcel sorting at logistics hubs, sanitation
rounds along the main roads, ride-hail pick-ups at stations, freight at industrial
parks, with anchors weighted so that industrial parks and outer towns carry demand
but few stations: the gaps coverage analysis should find.

:func:`stations.demo.load.load_demo` hands the frames to the catalog and demand importers;
the inputs are read by :mod:`stations.demo.cities`, hosts chosen by :mod:`stations.demo.hosts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stations.catalog.fields import STATION_FIELDS
from stations.catalog.vocab import Kind, Status
from stations.demo.cities import (
    CitySpec,
    Place,
    SpacingGrid,
    anchor_points,
    load_city,
    offset,
    street_points,
)
from stations.demo.hosts import (
    amenities_for,
    cn_ordinal,
    host_for,
    host_rules,
    one_of,
    pick,
)
from stations.errors import InvalidInput

MIN_SPACING_M = 30.0
"""No two demo stations are closer than this (the catalog's near-duplicate distance)."""

STATION_COLUMNS: tuple[str, ...] = (
    "source_id",
    *(f for f in STATION_FIELDS if f != "attributes"),
    "lat",
    "lng",
)
DEMAND_COLUMNS: tuple[str, ...] = ("source_id", "lat", "lng", "weight", "activity", "observed_at")

_PLACEMENT_ATTEMPTS = 200
VERIFIED_WITHIN_DAYS = 240
DEMAND_DAYS = 7
STATUSES = ((Status.ACTIVE, 0.92), (Status.TEMPORARILY_CLOSED, 0.05), (Status.CLOSED, 0.03))
UNKNOWN_HOURS_SHARE = 0.03
_CONTACT_SHARE = 0.85


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DemoCity:
    """A generated city: its inputs, the seed, and the two frames."""

    spec: CitySpec
    seed: int
    stations: pd.DataFrame
    demand: pd.DataFrame

    crs = None  # the frames are in WGS84

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def source(self) -> str:
        """Source name of the stations (``demo-huaibei``): re-imports update, never duplicate."""
        return f"demo-{self.spec.key}"

    @property
    def demand_source(self) -> str:
        return f"demo-{self.spec.key}-demand"


def generate_city(city: str, *, seed: int = 1) -> DemoCity:
    """The demo catalog and worker activity of ``city`` ("huaibei" or "xian") for ``seed``."""
    spec = load_city(city)
    rng = np.random.default_rng(seed)
    stations = _generate_stations(spec, rng)
    demand = _generate_demand(spec, rng)
    return DemoCity(spec=spec, seed=seed, stations=stations, demand=demand)


def _generate_stations(spec: CitySpec, rng: np.random.Generator) -> pd.DataFrame:
    places = spec.places
    weights = np.array([p.station_weight for p in places], dtype=float)
    weights /= weights.sum()
    origin = float(np.mean([p.lats[0] for p in places]))
    grid = SpacingGrid(origin, MIN_SPACING_M)
    names: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    plan = (
        (Kind.LOVE_STATION, spec.love_stations, "ls"),
        (Kind.WATER_POINT, spec.water_points, "wp"),
    )
    for kind, count, tag in plan:
        for number in range(1, count + 1):
            place, lat, lng = _place_station(spec, places, weights, grid, rng)
            grid.add(lat, lng)
            row = _describe_station(spec, place, kind, rng)
            row["name"] = _unique(names, row["name"])
            row["source_id"] = f"{spec.key}-{tag}-{number:04d}"
            row["lat"] = round(lat, 7)
            row["lng"] = round(lng, 7)
            rows.append(row)
    frame = pd.DataFrame(rows)
    frame["verified_at"] = pd.to_datetime(frame["verified_at"]).dt.tz_localize(spec.time_zone)
    return frame.loc[:, list(STATION_COLUMNS)]


def _place_station(
    spec: CitySpec,
    places: tuple[Place, ...],
    weights: np.ndarray,
    grid: SpacingGrid,
    rng: np.random.Generator,
) -> tuple[Place, float, float]:
    for _ in range(_PLACEMENT_ATTEMPTS):
        place = places[int(rng.choice(len(places), p=weights))]
        if place.is_street:
            lats, lngs = street_points(place, rng, 1, sd_m=20.0, cap_m=45.0)
        else:
            lats, lngs = anchor_points(place, rng, 1, radius_m=place.radius_m, concentration=0.8)
        lat, lng = float(lats[0]), float(lngs[0])
        if bool(spec.extent.contains(lat, lng)) and grid.free(lat, lng):
            return place, lat, lng
    raise InvalidInput(
        f"{spec.key}: could not place a station {MIN_SPACING_M:.0f} m from all others after "
        f"{_PLACEMENT_ATTEMPTS} tries; widen the anchors' radius_m or lower the station count"
    )


def _unique(seen: dict[str, int], name: str) -> str:
    """Second and later stations of the same name get "二号点", "三号点" …"""
    count = seen.get(name, 0) + 1
    seen[name] = count
    return name if count == 1 else f"{name}{cn_ordinal(count)}号点"


def _describe_station(
    spec: CitySpec, place: Place, kind: Kind, rng: np.random.Generator
) -> dict[str, Any]:
    district = spec.districts[place.district]
    subdistrict = place.subdistrict or one_of(rng, district.subdistricts)
    community = one_of(rng, district.communities)  # the same one in name and address
    rules = host_rules()
    if kind is Kind.WATER_POINT:
        host_kind = pick(rng, rules.water_hosts)
        host = host_for(spec, place, host_kind, subdistrict, community, rng)
        name = f"一瓶水·传递爱 派水点（{host.label}）"
        water = rules.water_point
        amenities = amenities_for(rng, water)
        access = pick(rng, water.access)
        # Campaign hours for some; the host's own counter hours for the rest.
        if rng.random() < sum(w for _, w in water.hours):
            hours = pick(rng, water.hours)
        else:
            hours = pick(rng, rules.profiles[host_kind].hours)
    else:
        host_kind = pick(rng, rules.hosts_at[place.kind])
        host = host_for(spec, place, host_kind, subdistrict, community, rng)
        name = host.name
        profile = rules.profiles[host_kind]
        amenities = amenities_for(rng, profile)
        access = pick(rng, profile.access)
        hours = pick(rng, profile.hours)
    if rng.random() < UNKNOWN_HOURS_SHARE:
        hours = None
    contact = (
        f"{spec.phone_area}-0000{int(rng.integers(0, 10_000)):04d}"  # 0000…: never a real line
        if rng.random() < _CONTACT_SHARE
        else None
    )
    return {
        "name": name,
        "name_en": None,
        "kind": kind.value,
        "status": pick(rng, STATUSES).value,
        "amenities": amenities,
        "access": access.value,
        "opening_hours": hours,
        "time_zone": spec.time_zone,
        "country_code": spec.country_code,
        "address": _address(spec, place, subdistrict, community, rng),
        "district": district.name,
        "district_code": district.code,
        "operator": host.operator,
        "contact": contact,
        "verified_at": _verified_at(spec, rng),
    }


def _address(
    spec: CitySpec, place: Place, subdistrict: str, community: str, rng: np.random.Generator
) -> str:
    prefix = f"{spec.name}{place.district}"
    if place.numbered:
        return f"{prefix}{place.road}{int(rng.integers(1, 400))}号"
    if place.road.endswith(("街道", "镇")):
        return f"{prefix}{place.road}{community}社区"
    return f"{prefix}{subdistrict}{place.road}"


def _verified_at(spec: CitySpec, rng: np.random.Generator) -> pd.Timestamp:
    """A working-hours moment within the last months before ``as_of`` (local time)."""
    days = int(rng.integers(1, VERIFIED_WITHIN_DAYS))
    minutes = int(rng.integers(9 * 60, 18 * 60))
    return pd.Timestamp(spec.as_of) - pd.Timedelta(days=days) + pd.Timedelta(minutes=minutes)


# ---------------------------------------------------------------------------
# Worker activity (demand)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    """One kind of worker activity: where it happens and at what hours."""

    name: str
    share: float
    at: dict[str, float]  # place kind (or "street") -> factor on the place's demand weight
    spread: float  # demand spreads this many times an anchor's radius
    weight_scale: float  # mean weight ~ 2 x this (gamma with shape 2)
    hours: tuple[tuple[float, float, float], ...]  # (mean hour, sd hours, share)
    street_sd_m: float = 25.0


ACTIVITIES: tuple[Activity, ...] = (
    Activity(
        "order_pickup",
        0.42,
        {
            "commercial": 1.0,
            "market": 1.0,
            "county": 0.8,
            "residential": 0.6,
            "school": 0.6,
            "hospital": 0.5,
            "transit": 0.5,
            "leisure": 0.5,
            "street": 0.3,
        },
        spread=1.0,
        weight_scale=1.5,
        hours=((11.8, 0.8, 0.45), (18.2, 1.0, 0.4), (21.5, 1.2, 0.15)),
    ),
    Activity(
        "parcel_delivery",
        0.2,
        {"residential": 1.0, "commercial": 0.6, "county": 0.8, "school": 0.5, "industrial": 0.3},
        spread=1.3,
        weight_scale=2.0,
        hours=((10.0, 1.5, 0.5), (15.5, 1.5, 0.5)),
    ),
    Activity(
        "parcel_sorting",
        0.1,
        {"logistics": 1.0, "industrial": 0.4},
        spread=0.8,
        weight_scale=6.0,
        hours=((6.5, 1.0, 0.5), (21.5, 1.2, 0.5)),
    ),
    Activity(
        "sanitation_round",
        0.12,
        {"street": 1.0, "commercial": 0.3, "market": 0.3, "leisure": 0.3},
        spread=1.0,
        weight_scale=1.0,
        hours=((5.5, 0.8, 0.55), (14.5, 1.5, 0.45)),
        street_sd_m=12.0,
    ),
    Activity(
        "ride_hail_pickup",
        0.1,
        {"transit": 1.0, "hospital": 0.5, "commercial": 0.4},
        spread=0.9,
        weight_scale=1.2,
        hours=((8.0, 1.0, 0.35), (18.5, 1.2, 0.4), (23.0, 1.0, 0.25)),
    ),
    Activity(
        "freight_loading",
        0.06,
        {"industrial": 1.0, "logistics": 0.6},
        spread=1.1,
        weight_scale=3.0,
        hours=((9.0, 2.0, 0.6), (15.0, 2.0, 0.4)),
    ),
)
ACTIVITY_NAMES: tuple[str, ...] = tuple(a.name for a in ACTIVITIES)


def _generate_demand(spec: CitySpec, rng: np.random.Generator) -> pd.DataFrame:
    places = spec.places
    total = spec.demand_points
    counts = [round(a.share * total) for a in ACTIVITIES]
    counts[0] += total - sum(counts)
    lat_parts: list[np.ndarray] = []
    lng_parts: list[np.ndarray] = []
    weight_parts: list[np.ndarray] = []
    activity_parts: list[np.ndarray] = []
    hour_parts: list[np.ndarray] = []
    for activity, n in zip(ACTIVITIES, counts, strict=True):
        factors = np.array(
            [activity.at.get(p.kind, 0.0) * p.demand_weight for p in places], dtype=float
        )
        chosen = rng.choice(len(places), size=n, p=factors / factors.sum())
        lats = np.empty(n)
        lngs = np.empty(n)
        for index in np.unique(chosen):  # sorted: a fixed order of rng use
            mask = chosen == index
            lats[mask], lngs[mask] = _scatter(places[int(index)], activity, rng, int(mask.sum()))
        lat_parts.append(lats)
        lng_parts.append(lngs)
        weight_parts.append(np.round(rng.gamma(2.0, activity.weight_scale, n) + 0.1, 2))
        activity_parts.append(np.full(n, activity.name, dtype=object))
        hour_parts.append(activity_hours(activity, rng, n))
    lat = np.concatenate(lat_parts)
    lng = np.concatenate(lng_parts)
    keep = spec.extent.contains(lat, lng)
    days_back = rng.integers(1, DEMAND_DAYS + 1, size=len(lat))
    seconds = np.round(np.concatenate(hour_parts) * 3600).astype(np.int64)
    day0 = pd.Timestamp(spec.as_of).tz_localize(spec.time_zone)
    observed = day0 - pd.to_timedelta(days_back, unit="D") + pd.to_timedelta(seconds, unit="s")
    frame = pd.DataFrame(
        {
            "lat": np.round(lat, 7),
            "lng": np.round(lng, 7),
            "weight": np.concatenate(weight_parts),
            "activity": np.concatenate(activity_parts),
            "observed_at": observed,
        }
    )[keep].reset_index(drop=True)
    frame.insert(0, "source_id", [f"{spec.key}-d-{i:06d}" for i in range(1, len(frame) + 1)])
    return frame.loc[:, list(DEMAND_COLUMNS)]


def _scatter(
    place: Place, activity: Activity, rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray]:
    if place.is_street:
        return street_points(place, rng, n, sd_m=activity.street_sd_m, cap_m=60.0)
    radius = place.radius_m * activity.spread
    # A centred bell, cut off at twice the radius (resampled inside, not piled on the rim).
    r = np.abs(rng.normal(0.0, radius / 1.5, n))
    r = np.where(r > 2 * radius, rng.random(n) * 2 * radius, r)
    theta = rng.random(n) * 2 * np.pi
    return offset(place.lats[0], place.lngs[0], r * np.cos(theta), r * np.sin(theta))


def activity_hours(activity: Activity, rng: np.random.Generator, n: int) -> np.ndarray:
    """Local hour of day (0–24, fractional) from the activity's daily peaks."""
    shares = np.array([s for _, _, s in activity.hours], dtype=float)
    which = rng.choice(len(activity.hours), size=n, p=shares / shares.sum())
    means = np.array([m for m, _, _ in activity.hours])[which]
    sds = np.array([s for _, s, _ in activity.hours])[which]
    return np.mod(rng.normal(means, sds), 24.0)
