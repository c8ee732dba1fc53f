"""A demo city's inputs, and the local geometry the generator places things with.

A city file (``stations/demo/cities/<city>.toml``) lists districts, anchors where
outdoor workers gather (commercial streets, stations, logistics hubs, hospitals …) and
main streets, in GCJ-02 as read off a map app; :func:`load_city` reads it into a
:class:`CitySpec` in WGS84. Offsets are in local metres (flat-earth: fine for a few
kilometres).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import numpy as np

from stations.errors import InvalidInput
from stations.geo import crs
from stations.geo.distance import geodesic, geodesic_m

CITIES_DIR = files("stations.demo") / "cities"  # package data: found wherever it is installed
CITIES: tuple[str, ...] = ("huaibei", "xian")

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

M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator)


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
    places = [place_from(a, districts, path, street=False) for a in raw.get("anchors", [])]
    places += [place_from(s, districts, path, street=True) for s in raw.get("streets", [])]
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


def place_from(
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


def offset(
    lat: np.ndarray | float, lng: np.ndarray | float, east_m: np.ndarray, north_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move points by metres east and north (flat-earth; fine for a few kilometres)."""
    lat = np.asarray(lat, dtype=float)
    lng = np.asarray(lng, dtype=float)
    new_lat = lat + north_m / M_PER_DEG
    new_lng = lng + east_m / (M_PER_DEG * np.cos(np.radians(lat)))
    return new_lat, new_lng


def street_points(
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
    north = (place.lats[i + 1] - place.lats[i]) * M_PER_DEG
    east = (place.lngs[i + 1] - place.lngs[i]) * M_PER_DEG * np.cos(np.radians(lat))
    norm = np.hypot(north, east)
    norm = np.where(norm > 0, norm, 1.0)
    across = np.clip(rng.normal(0.0, sd_m, n), -cap_m, cap_m)
    return offset(lat, lng, -north / norm * across, east / norm * across)


def anchor_points(
    place: Place, rng: np.random.Generator, n: int, *, radius_m: float, concentration: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points in a disc around an anchor; concentration > 0.5 crowds them to the centre."""
    r = radius_m * rng.random(n) ** concentration
    theta = rng.random(n) * 2 * np.pi
    return offset(place.lats[0], place.lngs[0], r * np.cos(theta), r * np.sin(theta))


class SpacingGrid:
    """Accepted points hashed on a grid as wide as the spacing: a check touches 9 cells."""

    def __init__(self, origin_lat: float, spacing_m: float) -> None:
        self.cos0 = float(np.cos(np.radians(origin_lat)))
        self.spacing = spacing_m
        self.cells: dict[tuple[int, int], list[tuple[float, float]]] = {}

    def _cell(self, lat: float, lng: float) -> tuple[int, int]:
        y = lat * M_PER_DEG
        x = lng * M_PER_DEG * self.cos0
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
