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

:func:`load_demo` hands the frames to the catalog and demand importers.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import asyncpg
import numpy as np
import pandas as pd

from stations.catalog.rules import STATION_FIELDS
from stations.catalog.vocab import AMENITIES, Access, Kind, Status
from stations.errors import InvalidInput, SetupError
from stations.geo import crs
from stations.geo.distance import geodesic, geodesic_m

CITIES_DIR = files("stations.demo") / "cities"  # package data: found wherever it is installed
CITIES: tuple[str, ...] = ("huaibei", "xian")
MIN_SPACING_M = 30.0
"""No two demo stations are closer than this (the catalog's near-duplicate distance)."""

STATION_COLUMNS: tuple[str, ...] = (
    "source_id",
    *(f for f in STATION_FIELDS if f != "attributes"),
    "lat",
    "lng",
)
DEMAND_COLUMNS: tuple[str, ...] = ("source_id", "lat", "lng", "weight", "activity", "observed_at")

PLACE_KINDS = (
    "commercial",
    "market",
    "transit",
    "hospital",
    "school",
    "leisure",
    "residential",
    "logistics",
    "industrial",
    "county",
)

_M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator)
_PLACEMENT_ATTEMPTS = 200
_VERIFIED_WITHIN_DAYS = 240
_DEMAND_DAYS = 7
_CN_DIGITS = "零一二三四五六七八九十"


# ---------------------------------------------------------------------------
# City inputs
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Extent:
    """A rough WGS84 bounding box."""

    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: np.ndarray | float, lng: np.ndarray | float) -> np.ndarray:
        lat = np.asarray(lat)
        lng = np.asarray(lng)
        return (lat >= self.south) & (lat <= self.north) & (lng >= self.west) & (lng <= self.east)


@dataclass(frozen=True)
class District:
    name: str
    code: str  # GB/T 2260
    extent: Extent
    subdistricts: tuple[str, ...]
    communities: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Place:
    """An anchor (one point) or a street (a polyline), in WGS84."""

    name: str
    short: str
    kind: str  # one of PLACE_KINDS, or "street"
    district: str
    subdistrict: str | None
    road: str
    numbered: bool  # addresses get a house number ("淮海中路123号")
    landmarks: tuple[str, ...]
    lats: np.ndarray
    lngs: np.ndarray
    radius_m: float
    station_weight: float
    demand_weight: float

    @property
    def is_street(self) -> bool:
        return self.kind == "street"


@dataclass(frozen=True, eq=False)
class CitySpec:
    """A city's demo inputs, read from ``cities/<key>.toml`` and converted to WGS84."""

    key: str
    name: str
    short: str
    province: str
    code: str
    phone_area: str
    time_zone: str
    country_code: str
    as_of: date
    union: str
    water_points: int
    love_stations: int
    demand_points: int
    extent: Extent
    hosts: dict[str, Any]
    districts: dict[str, District]
    places: tuple[Place, ...]

    @property
    def anchors(self) -> tuple[Place, ...]:
        return tuple(p for p in self.places if not p.is_street)

    @property
    def streets(self) -> tuple[Place, ...]:
        return tuple(p for p in self.places if p.is_street)


def city_file(city: str) -> Traversable:
    if city not in CITIES:
        raise InvalidInput(
            f"city: {city!r} has no demo inputs; choose one of {', '.join(CITIES)}", field="city"
        )
    return CITIES_DIR / f"{city}.toml"


def load_city(city: str) -> CitySpec:
    """Read a city's inputs and convert every anchor and street to WGS84."""
    path = city_file(city)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    head = raw["city"]
    districts = {
        d["name"]: District(
            name=d["name"],
            code=str(d["code"]),
            extent=Extent(**d["extent"]),
            subdistricts=tuple(d["subdistricts"]),
            communities=tuple(d["communities"]),
        )
        for d in raw["districts"]
    }
    places = [_place(a, districts, path, street=False) for a in raw.get("anchors", [])]
    places += [_place(s, districts, path, street=True) for s in raw.get("streets", [])]
    return CitySpec(
        key=head["key"],
        name=head["name"],
        short=head["short"],
        province=head["province"],
        code=str(head["code"]),
        phone_area=str(head["phone_area"]),
        time_zone=head["time_zone"],
        country_code=head["country_code"],
        as_of=head["as_of"],
        union=head["union"],
        water_points=int(head["water_points"]),
        love_stations=int(head["love_stations"]),
        demand_points=int(head["demand_points"]),
        extent=Extent(**head["extent"]),
        hosts=raw["hosts"],
        districts=districts,
        places=tuple(places),
    )


def _place(
    item: dict[str, Any], districts: dict[str, District], path: Traversable, *, street: bool
) -> Place:
    where = f"{path.name}: {item.get('name', '?')}"
    if item["district"] not in districts:
        raise InvalidInput(f"{where}: unknown district {item['district']!r}")
    datum = crs.parse_crs(item.get("datum"), field=f"{where}: datum")
    if not datum.is_geographic:
        raise InvalidInput(f"{where}: datum must be wgs84, gcj02 or bd09")
    if street:
        points = np.asarray(item["path"], dtype=float)
        if points.ndim != 2 or points.shape[0] < 2 or points.shape[1] != 2:
            raise InvalidInput(f"{where}: path must list at least two [lat, lng] pairs")
        lats, lngs = crs.to_wgs84(points[:, 0], points[:, 1], datum)
        kind = "street"
    else:
        lats, lngs = crs.to_wgs84(np.array([item["lat"]]), np.array([item["lng"]]), datum)
        kind = item["kind"]
        if kind not in PLACE_KINDS:
            raise InvalidInput(f"{where}: kind {kind!r} is not one of {', '.join(PLACE_KINDS)}")
    return Place(
        name=item["name"],
        short=item.get("short", item["name"]),
        kind=kind,
        district=item["district"],
        subdistrict=item.get("subdistrict"),
        road=item.get("road", item["name"]),
        numbered=bool(item.get("numbered", True)),
        landmarks=tuple(item.get("landmarks", ())),
        lats=np.asarray(lats, dtype=float),
        lngs=np.asarray(lngs, dtype=float),
        radius_m=float(item.get("radius_m", 60.0)),
        station_weight=float(item["stations"]),
        demand_weight=float(item["demand"]),
    )


# ---------------------------------------------------------------------------
# Geometry in local metres
# ---------------------------------------------------------------------------


def _offset(
    lat: np.ndarray | float, lng: np.ndarray | float, east_m: np.ndarray, north_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move points by metres east and north (flat-earth; fine for a few kilometres)."""
    lat = np.asarray(lat, dtype=float)
    lng = np.asarray(lng, dtype=float)
    new_lat = lat + north_m / _M_PER_DEG
    new_lng = lng + east_m / (_M_PER_DEG * np.cos(np.radians(lat)))
    return new_lat, new_lng


def _street_points(
    place: Place, rng: np.random.Generator, n: int, *, sd_m: float, cap_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points along a street: uniform by length, offset across it (frontage, not road)."""
    seg = geodesic_m(place.lats[:-1], place.lngs[:-1], place.lats[1:], place.lngs[1:])
    cumulative = np.concatenate([[0.0], np.cumsum(seg)])
    at = rng.random(n) * cumulative[-1]
    i = np.clip(np.searchsorted(cumulative, at, side="right") - 1, 0, len(seg) - 1)
    t = (at - cumulative[i]) / np.where(seg[i] > 0, seg[i], 1.0)
    lat = place.lats[i] + t * (place.lats[i + 1] - place.lats[i])
    lng = place.lngs[i] + t * (place.lngs[i + 1] - place.lngs[i])
    # Unit normal of the segment, in metres.
    north = (place.lats[i + 1] - place.lats[i]) * _M_PER_DEG
    east = (place.lngs[i + 1] - place.lngs[i]) * _M_PER_DEG * np.cos(np.radians(lat))
    norm = np.hypot(north, east)
    norm = np.where(norm > 0, norm, 1.0)
    across = np.clip(rng.normal(0.0, sd_m, n), -cap_m, cap_m)
    return _offset(lat, lng, -north / norm * across, east / norm * across)


def _anchor_points(
    place: Place, rng: np.random.Generator, n: int, *, radius_m: float, concentration: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points in a disc around an anchor; concentration > 0.5 crowds them to the centre."""
    r = radius_m * rng.random(n) ** concentration
    theta = rng.random(n) * 2 * np.pi
    return _offset(place.lats[0], place.lngs[0], r * np.cos(theta), r * np.sin(theta))


class _SpacingGrid:
    """Accepted points hashed on a grid as wide as the spacing: a check touches 9 cells."""

    def __init__(self, origin_lat: float, spacing_m: float) -> None:
        self.cos0 = float(np.cos(np.radians(origin_lat)))
        self.spacing = spacing_m
        self.cells: dict[tuple[int, int], list[tuple[float, float]]] = {}

    def _cell(self, lat: float, lng: float) -> tuple[int, int]:
        y = lat * _M_PER_DEG
        x = lng * _M_PER_DEG * self.cos0
        return int(np.floor(x / self.spacing)), int(np.floor(y / self.spacing))

    def free(self, lat: float, lng: float) -> bool:
        cx, cy = self._cell(lat, lng)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for other_lat, other_lng in self.cells.get((cx + dx, cy + dy), ()):
                    if geodesic(lat, lng, other_lat, other_lng)[0] < self.spacing:
                        return False
        return True

    def add(self, lat: float, lng: float) -> None:
        self.cells.setdefault(self._cell(lat, lng), []).append((lat, lng))


# ---------------------------------------------------------------------------
# Hosts: who runs a station decides what it offers
# ---------------------------------------------------------------------------

HOSTS_FILE = CITIES_DIR / "hosts.toml"


@dataclass(frozen=True)
class _HostProfile:
    """What a kind of host offers: amenities always there, others with a probability."""

    base: tuple[str, ...]
    optional: tuple[tuple[str, float], ...]
    access: tuple[tuple[Access, float], ...]
    hours: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class _HostRules:
    """``cities/hosts.toml``: which hosts where, and what each offers."""

    hosts_at: dict[str, tuple[tuple[str, float], ...]]
    water_hosts: tuple[tuple[str, float], ...]
    profiles: dict[str, _HostProfile]
    water_point: _HostProfile  # its ``hours`` are the campaign hours


@cache
def _host_rules() -> _HostRules:
    raw = tomllib.loads(HOSTS_FILE.read_text(encoding="utf-8"))

    def profile(name: str, item: dict[str, Any], hours_key: str = "hours") -> _HostProfile:
        amenities = [*item["base"], *item.get("optional", {})]
        unknown = sorted(set(amenities) - set(AMENITIES))
        if unknown:
            raise InvalidInput(f"{HOSTS_FILE.name}: {name}: unknown amenities {unknown}")
        return _HostProfile(
            base=tuple(item["base"]),
            optional=tuple(item.get("optional", {}).items()),
            access=tuple((Access(k), float(v)) for k, v in item["access"].items()),
            hours=tuple((k, float(v)) for k, v in item[hours_key].items()),
        )

    profiles = {name: profile(name, item) for name, item in raw["profiles"].items()}
    hosts_at = {kind: tuple(hosts.items()) for kind, hosts in raw["hosts_at"].items()}
    named = {h for hosts in hosts_at.values() for h, _ in hosts} | set(raw["water_hosts"])
    if named - set(profiles):
        raise InvalidInput(
            f"{HOSTS_FILE.name}: hosts without a profile: {sorted(named - set(profiles))}"
        )
    return _HostRules(
        hosts_at=hosts_at,
        water_hosts=tuple(raw["water_hosts"].items()),
        profiles=profiles,
        water_point=profile("water_point", raw["water_point"], "campaign_hours"),
    )


_STATUSES = ((Status.ACTIVE, 0.92), (Status.TEMPORARILY_CLOSED, 0.05), (Status.CLOSED, 0.03))
_UNKNOWN_HOURS_SHARE = 0.03
_CONTACT_SHARE = 0.85


def _pick(rng: np.random.Generator, options: Sequence[tuple[Any, float]]) -> Any:
    weights = np.array([w for _, w in options], dtype=float)
    return options[int(rng.choice(len(options), p=weights / weights.sum()))][0]


def _one(rng: np.random.Generator, items: Sequence[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


def _amenities(rng: np.random.Generator, profile: _HostProfile) -> list[str]:
    chosen = set(profile.base)
    for name, p in profile.optional:
        if rng.random() < p:
            chosen.add(name)
    return [name for name in AMENITIES if name in chosen]  # vocabulary order


def _district_short(name: str) -> str:
    return name[:-1] if name.endswith(("区", "县")) and len(name) > 2 else name


@dataclass
class _Host:
    label: str  # the host's own name, e.g. "中国建设银行淮北相山支行"
    name: str  # the station's name
    operator: str


def _host(
    spec: CitySpec,
    place: Place,
    host: str,
    subdistrict: str,
    community: str,
    rng: np.random.Generator,
) -> _Host:
    """Name, operator and label of a station run by ``host`` at ``place``."""
    hosts = spec.hosts
    district = place.district
    short = place.short
    road = place.road if place.numbered else short
    if host == "union":
        label = _one(
            rng,
            (f"{district}总工会{short}职工服务站", f"{short}工会驿站", f"{short}户外劳动者服务站"),
        )
        name = label if label.endswith(("站", "驿站")) else f"{label}爱心驿站"
        operator = spec.union if rng.random() < 0.3 else f"{district}总工会"
        return _Host(label, name, operator)
    if host == "bank":
        bank = _one(rng, hosts["banks"])
        branch = short if rng.random() < 0.6 else _district_short(district)
        label = f"{bank['name']}{spec.short}{branch}支行"
        operator = bank.get("operator", f"{bank['name']}{spec.short}分行")
        return _Host(label, f"{label}{bank['brand']}", operator)
    if host == "fuel":
        brand = _one(rng, hosts["fuel"])
        label = f"{brand['name']}{road}加油站"
        return _Host(label, f"{label}{brand['brand']}", brand["operator"])
    if host == "community":
        label = f"{community}社区党群服务中心"
        suffix = _one(rng, ("爱心驿站", "户外劳动者服务站", "暖心驿站"))
        return _Host(label, f"{label}{suffix}", f"{subdistrict}{community}社区居民委员会")
    if host == "courier":
        if rng.random() < 0.65:
            courier = _one(rng, hosts["couriers"])
            label = f"{courier}{short}营业部"
            return _Host(label, f"{label}快递小哥驿站", f"{courier}{spec.short}分公司")
        rider = _one(rng, hosts["riders"])
        label = f"{rider}{short}站点"
        return _Host(label, f"{label}骑手之家", f"{rider}{spec.short}配送站")
    if host == "shop":
        chains = hosts.get("chains", [])
        if chains and rng.random() < 0.5:
            label = f"{_one(rng, chains)}{short}店"
        elif rng.random() < 0.5:
            label = f"{_one(rng, hosts['shop_names'])}{_one(rng, hosts['shops'])}{short}店"
        else:
            label = f"{short}{_one(rng, hosts['shops'])}"
        return _Host(label, f"{label}爱心驿站", label)
    if host == "mall":
        label = _one(rng, place.landmarks) if place.landmarks else f"{short}购物广场"
        suffix = _one(rng, ("骑手驿站", "新就业群体服务站", "爱心驿站"))
        return _Host(label, f"{label}{suffix}", label)
    if host == "sanitation":
        label = f"{subdistrict}环卫所"
        name = _one(rng, (f"{label}{road}环卫工人休息点", f"{road}环卫作息点"))
        return _Host(label, name, f"{district}环境卫生管理所")
    if host == "cabin":
        name = _one(rng, (f"{road}户外劳动者智慧驿站", f"{short}爱心驿站（集装箱）"))
        return _Host(name, name, f"{district}总工会")
    if host == "hospital":
        label = place.landmarks[0] if place.landmarks else place.name
        return _Host(label, f"{label}爱心驿站", label)
    if host == "telecom":
        if rng.random() < 0.2:
            label = f"{hosts['power']}{short}供电营业厅"
            return _Host(label, f"{label}爱心驿站", hosts["power"])
        company = _one(rng, hosts["telecoms"])
        label = f"{company}{short}营业厅"
        return _Host(label, f"{label}爱心驿站", f"{company}{spec.short}分公司")
    if host == "pharmacy":
        label = f"{short}{_one(rng, hosts['pharmacies'])}"
        return _Host(label, label, label)
    raise ValueError(f"unknown host {host!r}")


def _cn_ordinal(n: int) -> str:
    if n <= 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return f"{_CN_DIGITS[tens] if tens > 1 else ''}十{_CN_DIGITS[ones] if ones else ''}"


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
    grid = _SpacingGrid(origin, MIN_SPACING_M)
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
    grid: _SpacingGrid,
    rng: np.random.Generator,
) -> tuple[Place, float, float]:
    for _ in range(_PLACEMENT_ATTEMPTS):
        place = places[int(rng.choice(len(places), p=weights))]
        if place.is_street:
            lats, lngs = _street_points(place, rng, 1, sd_m=20.0, cap_m=45.0)
        else:
            lats, lngs = _anchor_points(place, rng, 1, radius_m=place.radius_m, concentration=0.8)
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
    return name if count == 1 else f"{name}{_cn_ordinal(count)}号点"


def _describe_station(
    spec: CitySpec, place: Place, kind: Kind, rng: np.random.Generator
) -> dict[str, Any]:
    district = spec.districts[place.district]
    subdistrict = place.subdistrict or _one(rng, district.subdistricts)
    community = _one(rng, district.communities)  # the same one in name and address
    rules = _host_rules()
    if kind is Kind.WATER_POINT:
        host_kind = _pick(rng, rules.water_hosts)
        host = _host(spec, place, host_kind, subdistrict, community, rng)
        name = f"一瓶水·传递爱 派水点（{host.label}）"
        water = rules.water_point
        amenities = _amenities(rng, water)
        access = _pick(rng, water.access)
        # Campaign hours for some; the host's own counter hours for the rest.
        if rng.random() < sum(w for _, w in water.hours):
            hours = _pick(rng, water.hours)
        else:
            hours = _pick(rng, rules.profiles[host_kind].hours)
    else:
        host_kind = _pick(rng, rules.hosts_at[place.kind])
        host = _host(spec, place, host_kind, subdistrict, community, rng)
        name = host.name
        profile = rules.profiles[host_kind]
        amenities = _amenities(rng, profile)
        access = _pick(rng, profile.access)
        hours = _pick(rng, profile.hours)
    if rng.random() < _UNKNOWN_HOURS_SHARE:
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
        "status": _pick(rng, _STATUSES).value,
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
    days = int(rng.integers(1, _VERIFIED_WITHIN_DAYS))
    minutes = int(rng.integers(9 * 60, 18 * 60))
    return pd.Timestamp(spec.as_of) - pd.Timedelta(days=days) + pd.Timedelta(minutes=minutes)


# ---------------------------------------------------------------------------
# Worker activity (demand)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Activity:
    """One kind of worker activity: where it happens and at what hours."""

    name: str
    share: float
    at: dict[str, float]  # place kind (or "street") -> factor on the place's demand weight
    spread: float  # demand spreads this many times an anchor's radius
    weight_scale: float  # mean weight ~ 2 x this (gamma with shape 2)
    hours: tuple[tuple[float, float, float], ...]  # (mean hour, sd hours, share)
    street_sd_m: float = 25.0


_ACTIVITIES: tuple[_Activity, ...] = (
    _Activity(
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
    _Activity(
        "parcel_delivery",
        0.2,
        {"residential": 1.0, "commercial": 0.6, "county": 0.8, "school": 0.5, "industrial": 0.3},
        spread=1.3,
        weight_scale=2.0,
        hours=((10.0, 1.5, 0.5), (15.5, 1.5, 0.5)),
    ),
    _Activity(
        "parcel_sorting",
        0.1,
        {"logistics": 1.0, "industrial": 0.4},
        spread=0.8,
        weight_scale=6.0,
        hours=((6.5, 1.0, 0.5), (21.5, 1.2, 0.5)),
    ),
    _Activity(
        "sanitation_round",
        0.12,
        {"street": 1.0, "commercial": 0.3, "market": 0.3, "leisure": 0.3},
        spread=1.0,
        weight_scale=1.0,
        hours=((5.5, 0.8, 0.55), (14.5, 1.5, 0.45)),
        street_sd_m=12.0,
    ),
    _Activity(
        "ride_hail_pickup",
        0.1,
        {"transit": 1.0, "hospital": 0.5, "commercial": 0.4},
        spread=0.9,
        weight_scale=1.2,
        hours=((8.0, 1.0, 0.35), (18.5, 1.2, 0.4), (23.0, 1.0, 0.25)),
    ),
    _Activity(
        "freight_loading",
        0.06,
        {"industrial": 1.0, "logistics": 0.6},
        spread=1.1,
        weight_scale=3.0,
        hours=((9.0, 2.0, 0.6), (15.0, 2.0, 0.4)),
    ),
)
ACTIVITY_NAMES: tuple[str, ...] = tuple(a.name for a in _ACTIVITIES)


def _generate_demand(spec: CitySpec, rng: np.random.Generator) -> pd.DataFrame:
    places = spec.places
    total = spec.demand_points
    counts = [round(a.share * total) for a in _ACTIVITIES]
    counts[0] += total - sum(counts)
    lat_parts: list[np.ndarray] = []
    lng_parts: list[np.ndarray] = []
    weight_parts: list[np.ndarray] = []
    activity_parts: list[np.ndarray] = []
    hour_parts: list[np.ndarray] = []
    for activity, n in zip(_ACTIVITIES, counts, strict=True):
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
        hour_parts.append(_hours(activity, rng, n))
    lat = np.concatenate(lat_parts)
    lng = np.concatenate(lng_parts)
    keep = spec.extent.contains(lat, lng)
    days_back = rng.integers(1, _DEMAND_DAYS + 1, size=len(lat))
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
    place: Place, activity: _Activity, rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray]:
    if place.is_street:
        return _street_points(place, rng, n, sd_m=activity.street_sd_m, cap_m=60.0)
    radius = place.radius_m * activity.spread
    # A centred bell, cut off at twice the radius (resampled inside, not piled on the rim).
    r = np.abs(rng.normal(0.0, radius / 1.5, n))
    r = np.where(r > 2 * radius, rng.random(n) * 2 * radius, r)
    theta = rng.random(n) * 2 * np.pi
    return _offset(place.lats[0], place.lngs[0], r * np.cos(theta), r * np.sin(theta))


def _hours(activity: _Activity, rng: np.random.Generator, n: int) -> np.ndarray:
    """Local hour of day (0–24, fractional) from the activity's daily peaks."""
    shares = np.array([s for _, _, s in activity.hours], dtype=float)
    which = rng.choice(len(activity.hours), size=n, p=shares / shares.sum())
    means = np.array([m for m, _, _ in activity.hours])[which]
    sds = np.array([s for _, s, _ in activity.hours])[which]
    return np.mod(rng.normal(means, sds), 24.0)


# ---------------------------------------------------------------------------
# Loading through the importers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLoadReport:
    """What loading a demo city did: the importers' own reports."""

    city: str
    seed: int
    dry_run: bool
    stations: Any
    demand: Any


def _importer(module: str, function: str, what: str) -> Callable[..., Any]:
    """The importer function, or SetupError saying it is missing from this checkout."""
    try:
        found = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as exc:
        raise SetupError(
            f"cannot load demo data: {module}.{function} ({what}) is not in this checkout; "
            "the demo generator works on its own (stations.demo.generator.generate_city), "
            "but loading needs that importer merged in"
        ) from exc
    return found  # type: ignore[no-any-return]


def require_importers() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The catalog and demand importers, or SetupError naming what this checkout lacks."""
    return (
        _importer("stations.importer", "import_frame", "the catalog importer"),
        _importer("stations.coverage.demand", "import_demand_frame", "the demand importer"),
    )


async def load_demo(
    conn: asyncpg.Connection,
    demo: DemoCity,
    *,
    actor: str = "demo",
    dry_run: bool = False,
) -> DemoLoadReport:
    """Import a generated city's stations and demand points through the importers.

    Both importers are idempotent per (source, source_id), so loading the same seed
    again creates nothing new. Both must be present: nothing is written otherwise.
    """
    import_frame, import_demand = require_importers()
    stations_report = await import_frame(
        conn, demo.stations, source=demo.source, actor=actor, dry_run=dry_run
    )
    demand_report = await import_demand(
        conn, demo.demand, source=demo.demand_source, actor=actor, dry_run=dry_run
    )
    return DemoLoadReport(
        city=demo.spec.key,
        seed=demo.seed,
        dry_run=dry_run,
        stations=stations_report,
        demand=demand_report,
    )


__all__ = [
    "ACTIVITY_NAMES",
    "CITIES",
    "DEMAND_COLUMNS",
    "MIN_SPACING_M",
    "STATION_COLUMNS",
    "CitySpec",
    "DemoCity",
    "DemoLoadReport",
    "District",
    "Extent",
    "Place",
    "generate_city",
    "load_city",
    "load_demo",
    "require_importers",
]
