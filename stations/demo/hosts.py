"""Who runs a demo station (bank branch, fuel station, 社区, 环卫所 …) and what that implies.

A host decides a station's name, operator, amenities, access rule and opening hours,
from the profiles in ``stations/demo/cities/hosts.toml``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from stations.catalog.vocab import AMENITIES, Access
from stations.demo.cities import CITIES_DIR, CitySpec, Place
from stations.errors import InvalidInput

_CN_DIGITS = "零一二三四五六七八九十"


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
def host_rules() -> _HostRules:
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


def pick(rng: np.random.Generator, options: Sequence[tuple[Any, float]]) -> Any:
    weights = np.array([w for _, w in options], dtype=float)
    return options[int(rng.choice(len(options), p=weights / weights.sum()))][0]


def one_of(rng: np.random.Generator, items: Sequence[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


def amenities_for(rng: np.random.Generator, profile: _HostProfile) -> list[str]:
    chosen = set(profile.base)
    for name, p in profile.optional:
        if rng.random() < p:
            chosen.add(name)
    return [name for name in AMENITIES if name in chosen]  # vocabulary order


def district_short(name: str) -> str:
    return name[:-1] if name.endswith(("区", "县")) and len(name) > 2 else name


@dataclass
class Host:
    label: str  # the host's own name, e.g. "中国建设银行淮北相山支行"
    name: str  # the station's name
    operator: str


def host_for(
    spec: CitySpec,
    place: Place,
    host: str,
    subdistrict: str,
    community: str,
    rng: np.random.Generator,
) -> Host:
    """Name, operator and label of a station run by ``host`` at ``place``."""
    hosts = spec.hosts
    district = place.district
    short = place.short
    road = place.road if place.numbered else short
    if host == "union":
        label = one_of(
            rng,
            (f"{district}总工会{short}职工服务站", f"{short}工会驿站", f"{short}户外劳动者服务站"),
        )
        name = label if label.endswith(("站", "驿站")) else f"{label}爱心驿站"
        operator = spec.union if rng.random() < 0.3 else f"{district}总工会"
        return Host(label, name, operator)
    if host == "bank":
        bank = one_of(rng, hosts["banks"])
        branch = short if rng.random() < 0.6 else district_short(district)
        label = f"{bank['name']}{spec.short}{branch}支行"
        operator = bank.get("operator", f"{bank['name']}{spec.short}分行")
        return Host(label, f"{label}{bank['brand']}", operator)
    if host == "fuel":
        brand = one_of(rng, hosts["fuel"])
        label = f"{brand['name']}{road}加油站"
        return Host(label, f"{label}{brand['brand']}", brand["operator"])
    if host == "community":
        label = f"{community}社区党群服务中心"
        suffix = one_of(rng, ("爱心驿站", "户外劳动者服务站", "暖心驿站"))
        return Host(label, f"{label}{suffix}", f"{subdistrict}{community}社区居民委员会")
    if host == "courier":
        if rng.random() < 0.65:
            courier = one_of(rng, hosts["couriers"])
            label = f"{courier}{short}营业部"
            return Host(label, f"{label}快递小哥驿站", f"{courier}{spec.short}分公司")
        rider = one_of(rng, hosts["riders"])
        label = f"{rider}{short}站点"
        return Host(label, f"{label}骑手之家", f"{rider}{spec.short}配送站")
    if host == "shop":
        chains = hosts.get("chains", [])
        if chains and rng.random() < 0.5:
            label = f"{one_of(rng, chains)}{short}店"
        elif rng.random() < 0.5:
            label = f"{one_of(rng, hosts['shop_names'])}{one_of(rng, hosts['shops'])}{short}店"
        else:
            label = f"{short}{one_of(rng, hosts['shops'])}"
        return Host(label, f"{label}爱心驿站", label)
    if host == "mall":
        label = one_of(rng, place.landmarks) if place.landmarks else f"{short}购物广场"
        suffix = one_of(rng, ("骑手驿站", "新就业群体服务站", "爱心驿站"))
        return Host(label, f"{label}{suffix}", label)
    if host == "sanitation":
        label = f"{subdistrict}环卫所"
        name = one_of(rng, (f"{label}{road}环卫工人休息点", f"{road}环卫作息点"))
        return Host(label, name, f"{district}环境卫生管理所")
    if host == "cabin":
        name = one_of(rng, (f"{road}户外劳动者智慧驿站", f"{short}爱心驿站（集装箱）"))
        return Host(name, name, f"{district}总工会")
    if host == "hospital":
        label = place.landmarks[0] if place.landmarks else place.name
        return Host(label, f"{label}爱心驿站", label)
    if host == "telecom":
        if rng.random() < 0.2:
            label = f"{hosts['power']}{short}供电营业厅"
            return Host(label, f"{label}爱心驿站", hosts["power"])
        company = one_of(rng, hosts["telecoms"])
        label = f"{company}{short}营业厅"
        return Host(label, f"{label}爱心驿站", f"{company}{spec.short}分公司")
    if host == "pharmacy":
        label = f"{short}{one_of(rng, hosts['pharmacies'])}"
        return Host(label, label, label)
    raise ValueError(f"unknown host {host!r}")


def cn_ordinal(n: int) -> str:
    if n <= 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return f"{_CN_DIGITS[tens] if tens > 1 else ''}十{_CN_DIGITS[ones] if ones else ''}"
