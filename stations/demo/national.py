"""The national demo: love stations and water points across mainland China, at real size.

:func:`generate_national` spreads about 184,200 love stations and 209,500 free-water
points (393,700 map points: the national network's published size) over the
prefecture-level cities of the mainland and their county-level divisions
(``cities/china-divisions.csv``: GB/T 2260 codes and Amap's centres in GCJ-02, from the
``cpca`` package, MIT), each province getting its share of the 2020 census population
(``cities/china-population.toml``), split within the province over its districts and
counties by kind (:data:`UNIT_WEIGHTS`: a proxy, not a census figure). Stations lie
within a few kilometres of their division's centre (urban districts wider than county
seats), so they stand where the towns are, on land.

Positions are generated in WGS84 from the centres (converted from GCJ-02 with
:mod:`stations.geo.crs`), then handed to the importer in GCJ-02 as a union office's
export from a Chinese map app would be: the importer converts them back at its CRS
boundary and keeps the GCJ-02 original, as for any other import.

Names, operators, amenities, access rules and opening hours follow the host (union
station, bank branch, fuel station, 社区, courier depot, shop, sanitation depot, street
cabin, hospital, telecom shop, pharmacy) with the profiles of ``cities/hosts.toml``;
names carry the district and a street (``人民路``, ``解放路`` …: the common street names
of Chinese towns, not a street list of each town). Demand (worker activity for
coverage) is spread the same way but wider, so the edges of towns show as gaps.

Everything random comes from one ``numpy.random.default_rng(seed)`` drawn in a fixed
order, in whole arrays (393,700 rows in seconds); ``scale`` shrinks every count for
tests and quick looks.
"""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from stations.catalog.vocab import AMENITIES, Kind
from stations.demo.cities import CITIES_DIR, offset
from stations.demo.generator import (
    ACTIVITIES,
    DEMAND_COLUMNS,
    DEMAND_DAYS,
    STATION_COLUMNS,
    STATUSES,
    UNKNOWN_HOURS_SHARE,
    VERIFIED_WITHIN_DAYS,
    activity_hours,
)
from stations.demo.hosts import cn_ordinal, host_rules
from stations.errors import InvalidInput
from stations.geo import crs

LOVE_STATIONS = 184_200
"""Love stations (工会户外劳动者服务站点) of the national network."""
WATER_POINTS = 209_500
"""Free-water points: the rest of the network's 393,700 map points."""
DEMAND_POINTS = 500_000
AS_OF = pd.Timestamp("2025-07-01")
TIME_ZONE = "Asia/Shanghai"  # Beijing time, the one official time of the country
SOURCE = "demo-national"

DIVISIONS_FILE = CITIES_DIR / "china-divisions.csv"
POPULATION_FILE = CITIES_DIR / "china-population.toml"

UNIT_WEIGHTS = {"区": 2.0, "市": 1.4, "县": 1.0}
"""Share of its province's population a division gets, by kind: an urban district (区)
twice a county (县, 旗), a county-level city (市) in between. A prefecture-level city
with no county-level divisions (东莞, 中山, 儋州) counts as :data:`UNDIVIDED_WEIGHT`."""
UNDIVIDED_WEIGHT = 6.0
SPREAD_M = {"区": 1_800.0, "市": 1_300.0, "县": 900.0, "undivided": 5_000.0}
"""Typical distance of a station from its division's centre (Rayleigh scale)."""
DEMAND_SPREAD = 1.6  # demand reaches this many times further out than the stations

ROADS = (
    "人民路", "解放路", "中山路", "建设路", "和平路", "胜利路", "文化路", "新华路", "长江路",
    "黄河路", "光明路", "朝阳路", "东风路", "团结路", "幸福路", "工业路", "学府路", "滨河路",
    "迎宾大道", "世纪大道", "府前街", "北京路", "青年路", "红旗路", "健康路", "五一路",
    "站前路", "振兴路", "复兴路", "民主路", "体育路", "花园路", "公园路", "环城路", "育才路",
    "金山路", "友谊路", "新建路", "兴业路", "开发大道",
)  # fmt: skip
COMMUNITIES = (
    "幸福", "和平", "新村", "东风", "建设", "光明", "兴华", "阳光", "锦绣", "花园", "康乐",
    "南苑", "北苑", "东方", "西城", "金桥", "翠苑", "华苑", "春晖", "长安", "民生", "顺安",
    "育才", "丰收", "龙泉", "凤凰", "新华", "文苑", "朝阳", "滨江",
)  # fmt: skip
BANKS = (
    ("中国工商银行", "工行驿站"),
    ("中国建设银行", "劳动者港湾"),
    ("中国农业银行", "爱心驿站"),
    ("中国银行", "爱心驿站"),
    ("中国邮政储蓄银行", "爱心驿站"),
    ("交通银行", "爱心驿站"),
)
FUEL = (("中国石化", "爱心驿站", "石油分公司"), ("中国石油", "司机之家", "销售分公司"))
COURIERS = ("中通快递", "圆通速递", "韵达快递", "申通快递", "顺丰速运", "京东物流", "极兔速递")
RIDERS = ("美团外卖", "饿了么")
SHOP_NAMES = ("惠民", "益民", "家家乐", "好邻居", "鑫源", "百姓", "如意", "金源", "万家福")
SHOPS = ("便民超市", "生鲜超市", "便利店", "平价超市")
MALLS = ("万达广场", "吾悦广场", "百货大楼", "购物中心")
HOSPITALS = ("人民医院", "中医院", "妇幼保健院", "第二人民医院")
TELECOMS = ("中国移动", "中国电信", "中国联通")
PHARMACIES = ("大药房", "医药连锁", "平价药房")
LOVE_HOSTS = (
    ("union", 2.0),
    ("bank", 3.0),
    ("fuel", 1.5),
    ("community", 3.0),
    ("courier", 2.0),
    ("shop", 1.5),
    ("mall", 1.0),
    ("sanitation", 2.5),
    ("cabin", 1.5),
    ("hospital", 0.5),
    ("telecom", 1.0),
)
_CONTACT_SHARE = 0.0  # no area codes in the divisions file: no contact numbers at all


# ---------------------------------------------------------------------------
# Inputs: divisions and their populations
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Divisions:
    """The county-level divisions stations are spread over, as parallel arrays."""

    code: np.ndarray  # GB/T 2260, six digits (province 2, city 4, county 6)
    name: np.ndarray
    unit: np.ndarray  # "区", "市", "县" or "undivided"
    city: np.ndarray  # the prefecture-level city's name (a municipality's own name)
    province: np.ndarray
    lat: np.ndarray  # WGS84 centre
    lng: np.ndarray
    weight: np.ndarray  # share of the national population, summing to 1

    def __len__(self) -> int:
        return len(self.code)

    @property
    def cities(self) -> int:
        return len({str(code)[:4] for code in self.code})


@cache
def load_divisions() -> Divisions:
    """Read the divisions and weigh each by its province's census population."""
    rows = list(csv.DictReader(io.StringIO(DIVISIONS_FILE.read_text(encoding="utf-8"))))
    population = {
        str(k): int(v)
        for k, v in tomllib.loads(POPULATION_FILE.read_text(encoding="utf-8"))[
            "province_population"
        ].items()
    }
    names = {row["adcode"]: row["name"] for row in rows}
    counties = [r for r in rows if r["adcode"][4:] != "00"]
    with_counties = {r["adcode"][:4] for r in counties}
    undivided = [
        r
        for r in rows
        if r["adcode"][2:] != "0000" and r["adcode"][4:] == "00"
        if r["adcode"][:4] not in with_counties
    ]
    chosen = sorted(counties + undivided, key=lambda r: r["adcode"])
    code = np.array([r["adcode"] for r in chosen], dtype=object)
    unknown = sorted({c[:2] for c in code} - set(population))
    if unknown:
        raise InvalidInput(f"{POPULATION_FILE.name}: no population for provinces {unknown}")
    unit = np.array([_unit(r, with_counties) for r in chosen], dtype=object)
    city = np.array([_city_name(c, names) for c in code], dtype=object)
    province = np.array([names[c[:2] + "0000"] for c in code], dtype=object)
    gcj_lat = np.array([float(r["lat_gcj02"]) for r in chosen])
    gcj_lng = np.array([float(r["lng_gcj02"]) for r in chosen])
    lat, lng = crs.to_wgs84(gcj_lat, gcj_lng, crs.parse_crs("gcj02"))
    raw = np.array([UNIT_WEIGHTS.get(u, UNDIVIDED_WEIGHT) for u in unit])
    weight = np.zeros(len(code))
    prefix = np.array([c[:2] for c in code], dtype=object)
    for key, people in population.items():
        mask = prefix == key
        weight[mask] = people * raw[mask] / raw[mask].sum()
    return Divisions(
        code=code,
        name=np.array([r["name"] for r in chosen], dtype=object),
        unit=unit,
        city=city,
        province=province,
        lat=lat,
        lng=lng,
        weight=weight / weight.sum(),
    )


def _unit(row: dict[str, str], with_counties: set[str]) -> str:
    if row["adcode"][4:] == "00":
        return "undivided"
    last = row["name"][-1]
    return last if last in ("区", "市") else "县"


def _city_name(code: str, names: dict[str, str]) -> str:
    """The prefecture-level city of a division; a municipality's or 省直辖 city's own."""
    if code[:2] in ("11", "12", "31", "50"):
        return names[code[:2] + "0000"]
    if code[2:4] == "90":  # county-level city under the province directly
        return names[code]
    return names.get(code[:4] + "00", names[code])


def short_name(name: str) -> str:
    """淮北市 → 淮北, 相山区 → 相山, 延边朝鲜族自治州 → 延边, 黑龙江省 → 黑龙江."""
    if "自治" in name or name.endswith("盟"):
        return name[:3] if name.startswith(("内蒙古", "黑龙江")) else name[:2]
    for suffix in ("特别行政区", "地区", "省", "市", "区", "县", "旗"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DemoNational:
    """The generated national catalog and worker activity (the loader's input)."""

    seed: int
    scale: float
    stations: pd.DataFrame  # positions in GCJ-02 (``crs``), as an export would give them
    demand: pd.DataFrame
    cities: int
    divisions: int

    key = "national"
    name = "全国"
    crs = "gcj02"
    source = SOURCE
    demand_source = f"{SOURCE}-demand"


def generate_national(*, seed: int = 1, scale: float = 1.0) -> DemoNational:
    """The national catalog for ``seed``; ``scale`` (0–1] shrinks every count."""
    if not 0 < scale <= 1:
        raise InvalidInput(f"scale: {scale} must be above 0 and at most 1", field="scale")
    divisions = load_divisions()
    rng = np.random.default_rng(seed)
    love = _stations(divisions, rng, Kind.LOVE_STATION, round(LOVE_STATIONS * scale), "ls")
    water = _stations(divisions, rng, Kind.WATER_POINT, round(WATER_POINTS * scale), "wp")
    stations = pd.concat([love, water], ignore_index=True)
    stations["name"] = _unique(stations["name"])
    demand = _demand(divisions, rng, round(DEMAND_POINTS * scale))
    return DemoNational(
        seed=seed,
        scale=scale,
        stations=stations.loc[:, list(STATION_COLUMNS)],
        demand=demand,
        cities=divisions.cities,
        divisions=len(divisions),
    )


def _positions(
    divisions: Divisions, rng: np.random.Generator, n: int, spread: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Division of each of ``n`` points (by weight, sorted) and its WGS84 position."""
    where = np.sort(rng.choice(len(divisions), size=n, p=divisions.weight))
    scale_m = np.array([SPREAD_M[u] for u in divisions.unit])[where] * spread
    r = np.minimum(rng.rayleigh(1.0, n), 3.0) * scale_m
    theta = rng.random(n) * 2 * np.pi
    east, north = r * np.cos(theta), r * np.sin(theta)
    lat, lng = offset(divisions.lat[where], divisions.lng[where], east, north)
    return where, lat, lng


def _stations(
    divisions: Divisions, rng: np.random.Generator, kind: Kind, n: int, tag: str
) -> pd.DataFrame:
    where, lat, lng = _positions(divisions, rng, n, 1.0)
    rules = host_rules()
    options = LOVE_HOSTS if kind is Kind.LOVE_STATION else rules.water_hosts
    host = _choose(rng, options, n)
    road = rng.integers(len(ROADS), size=n)
    community = rng.integers(len(COMMUNITIES), size=n)
    which = rng.integers(1 << 30, size=n)  # picks from the short lists (bank, brand …)
    variant = rng.random(n)
    number = rng.integers(1, 400, size=n)
    names, operators = _names(divisions, kind, where, host, road, community, which, variant)
    amenities = np.empty(n, dtype=object)
    access = np.empty(n, dtype=object)
    hours = np.empty(n, dtype=object)
    water = rules.water_point
    for name in dict.fromkeys(h for h, _ in options):  # file order: a fixed order of draws
        mask = host == name
        m = int(mask.sum())
        profile = water if kind is Kind.WATER_POINT else rules.profiles[name]
        for at, offered in zip(np.flatnonzero(mask), _amenities(rng, profile, m), strict=True):
            amenities[at] = offered
        access[mask] = [a.value for a in _choose(rng, profile.access, m)]
        own = _choose(rng, rules.profiles[name].hours, m)
        if kind is Kind.WATER_POINT:  # campaign hours for some, the counter's for the rest
            campaign = _choose(rng, water.hours, m)
            share = sum(w for _, w in water.hours)
            own = np.where(rng.random(m) < share, campaign, own)
        hours[mask] = own
    hours[rng.random(n) < UNKNOWN_HOURS_SHARE] = None
    status = _choose(rng, STATUSES, n)
    verified = (
        AS_OF
        - pd.to_timedelta(rng.integers(1, VERIFIED_WITHIN_DAYS, size=n), unit="D")
        + pd.to_timedelta(rng.integers(9 * 60, 18 * 60, size=n), unit="min")
    ).tz_localize(TIME_ZONE)
    gcj_lat, gcj_lng = crs.from_wgs84(lat, lng, crs.parse_crs("gcj02"))
    return pd.DataFrame(
        {
            "source_id": [f"{tag}-{divisions.code[w]}-{i:06d}" for i, w in enumerate(where, 1)],
            "name": names,
            "name_en": None,
            "kind": kind.value,
            "status": [s.value for s in status],
            "amenities": amenities,
            "access": access,
            "opening_hours": hours,
            "time_zone": TIME_ZONE,
            "country_code": "CN",
            "address": [
                _address(divisions, int(w), ROADS[r], int(k))
                for w, r, k in zip(where, road, number, strict=True)
            ],
            "district": divisions.name[where],
            "district_code": divisions.code[where],
            "operator": operators,
            "contact": None,
            "verified_at": verified,
            "lat": np.round(gcj_lat, 7),
            "lng": np.round(gcj_lng, 7),
        }
    )


def _choose(rng: np.random.Generator, options: Any, n: int) -> np.ndarray:
    values = np.empty(len(options), dtype=object)
    values[:] = [value for value, _ in options]
    weights = np.array([w for _, w in options], dtype=float)
    return values[rng.choice(len(options), size=n, p=weights / weights.sum())]


def _amenities(rng: np.random.Generator, profile: Any, m: int) -> list[list[str]]:
    base, optional = profile.base, profile.optional
    offered = rng.random((m, len(optional))) < np.array([p for _, p in optional])
    order = {name: i for i, name in enumerate(AMENITIES)}
    rows = []
    for flags in offered:
        chosen = set(base) | {name for (name, _), on in zip(optional, flags, strict=True) if on}
        rows.append(sorted(chosen, key=order.__getitem__))  # vocabulary order
    return rows


def _address(divisions: Divisions, w: int, road: str, number: int) -> str:
    province, city, district = divisions.province[w], divisions.city[w], divisions.name[w]
    head = city if province == city else f"{province}{city}"
    if district == city:  # 东莞市 …: no county level
        return f"{head}{road}{number}号"
    return f"{head}{district}{road}{number}号"


def _names(
    divisions: Divisions,
    kind: Kind,
    where: np.ndarray,
    host: np.ndarray,
    road: np.ndarray,
    community: np.ndarray,
    which: np.ndarray,
    variant: np.ndarray,
) -> tuple[list[str], list[str]]:
    city_short = {c: short_name(c) for c in set(divisions.city)}
    province_short = {p: short_name(p) for p in set(divisions.province)}
    names: list[str] = []
    operators: list[str] = []
    for i, w in enumerate(where):
        district = str(divisions.name[w])
        city = str(divisions.city[w])
        place = _Place(
            district=district,
            district_short=short_name(district),
            city=city,
            city_short=city_short[city],
            province_short=province_short[divisions.province[w]],
            road=ROADS[road[i]],
            community=COMMUNITIES[community[i]],
            county_seat=divisions.unit[w] == "县",
        )
        label, name, operator = _host(str(host[i]), place, int(which[i]), float(variant[i]))
        if kind is Kind.WATER_POINT:
            name = f"一瓶水·传递爱 派水点（{label}）"
        names.append(name)
        operators.append(operator)
    return names, operators


@dataclass(frozen=True)
class _Place:
    district: str
    district_short: str
    city: str
    city_short: str
    province_short: str
    road: str
    community: str
    county_seat: bool

    @property
    def road_stem(self) -> str:
        return self.road.removesuffix("大道").removesuffix("路").removesuffix("街")

    @property
    def subdistrict(self) -> str:
        return "城关镇" if self.county_seat else f"{self.road_stem}街道"


def _host(host: str, p: _Place, which: int, variant: float) -> tuple[str, str, str]:
    """(label, station name, operator) of a station run by ``host`` at ``p``."""
    ds, cs, road = p.district_short, p.city_short, p.road
    if host == "union":
        options = (
            f"{p.district}总工会{p.road_stem}职工服务站",
            f"{ds}{road}工会驿站",
            f"{ds}{p.community}户外劳动者服务站",
        )
        label = options[which % 3]
        union = f"{p.city}总工会" if variant < 0.3 else f"{p.district}总工会"
        return label, f"{label}爱心驿站" if label.endswith("服务站") else label, union
    if host == "bank":
        if which % 7 == 6:
            bank, brand = f"{cs}农商银行", "爱心驿站"
        else:
            bank, brand = BANKS[which % 7 % len(BANKS)]
        branch = p.road_stem if variant < 0.6 else ds
        label = f"{bank}{cs}{branch}支行"
        return label, f"{label}{brand}", bank if bank.endswith("农商银行") else f"{bank}{cs}分行"
    if host == "fuel":
        company, brand, unit = FUEL[which % 2]
        label = f"{company}{ds}{road}加油站"
        return label, f"{label}{brand}", f"{company}{p.province_short}{cs}{unit}"
    if host == "community":
        label = f"{ds}{p.community}社区党群服务中心"
        suffix = ("爱心驿站", "户外劳动者服务站", "暖心驿站")[which % 3]
        return label, f"{label}{suffix}", f"{p.subdistrict}{p.community}社区居民委员会"
    if host == "courier":
        if variant < 0.65:
            courier = COURIERS[which % len(COURIERS)]
            label = f"{courier}{ds}{p.road_stem}营业部"
            return label, f"{label}快递小哥驿站", f"{courier}{cs}分公司"
        rider = RIDERS[which % len(RIDERS)]
        label = f"{rider}{ds}{p.community}站点"
        return label, f"{label}骑手之家", f"{rider}{cs}配送站"
    if host in ("shop", "pharmacy"):
        shop = SHOP_NAMES[which % len(SHOP_NAMES)]
        kind = PHARMACIES if host == "pharmacy" else SHOPS
        label = f"{shop}{kind[which // 16 % len(kind)]}{ds}{p.road_stem}店"
        return label, f"{label}爱心驿站", label
    if host == "mall":
        label = f"{cs}{ds}{MALLS[which % len(MALLS)]}"
        suffix = ("骑手驿站", "新就业群体服务站", "爱心驿站")[which // 8 % 3]
        return label, f"{label}{suffix}", label
    if host == "sanitation":
        label = f"{p.subdistrict}环卫所"
        name = f"{ds}{road}环卫工人休息点" if variant < 0.5 else f"{ds}{road}环卫作息点"
        return label, name, f"{p.district}环境卫生管理所"
    if host == "cabin":
        name = f"{ds}{road}户外劳动者智慧驿站"
        return name, name, f"{p.district}总工会"
    if host == "hospital":
        label = f"{ds}{HOSPITALS[which % len(HOSPITALS)]}"
        return label, f"{label}爱心驿站", label
    if host == "telecom":
        if variant < 0.2:
            power = f"国网{cs}供电公司"
            label = f"{power}{ds}供电营业厅"
            return label, f"{label}爱心驿站", power
        company = TELECOMS[which % len(TELECOMS)]
        label = f"{company}{ds}{p.road_stem}营业厅"
        return label, f"{label}爱心驿站", f"{company}{cs}分公司"
    raise ValueError(f"unknown host {host!r}")


def _unique(names: pd.Series) -> pd.Series:
    """The second and later stations of one name get "二号点", "三号点" … (or "123号点")."""
    count = names.groupby(names).cumcount().to_numpy() + 1
    return pd.Series(
        [
            name if k == 1 else f"{name}{cn_ordinal(k) if k < 100 else k}号点"
            for name, k in zip(names, count, strict=True)
        ],
        index=names.index,
    )


def _demand(divisions: Divisions, rng: np.random.Generator, n: int) -> pd.DataFrame:
    where, lat, lng = _positions(divisions, rng, n, DEMAND_SPREAD)
    shares = np.array([a.share for a in ACTIVITIES])
    which = rng.choice(len(ACTIVITIES), size=n, p=shares / shares.sum())
    weight = np.empty(n)
    seconds = np.empty(n)
    for i, activity in enumerate(ACTIVITIES):
        mask = which == i
        m = int(mask.sum())
        weight[mask] = np.round(rng.gamma(2.0, activity.weight_scale, m) + 0.1, 2)
        seconds[mask] = np.round(activity_hours(activity, rng, m) * 3600)
    days_back = rng.integers(1, DEMAND_DAYS + 1, size=n)
    day0 = AS_OF.tz_localize(TIME_ZONE)
    observed = (
        day0
        - pd.to_timedelta(days_back, unit="D")
        + pd.to_timedelta(seconds.astype(np.int64), unit="s")
    )
    gcj_lat, gcj_lng = crs.from_wgs84(lat, lng, crs.parse_crs("gcj02"))
    frame = pd.DataFrame(
        {
            "source_id": [f"d-{divisions.code[w]}-{i:07d}" for i, w in enumerate(where, 1)],
            "lat": np.round(gcj_lat, 7),
            "lng": np.round(gcj_lng, 7),
            "weight": weight,
            "activity": np.array([a.name for a in ACTIVITIES], dtype=object)[which],
            "observed_at": observed,
        }
    )
    return frame.loc[:, list(DEMAND_COLUMNS)]
