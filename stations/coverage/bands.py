"""Distance bands of the coverage analysis: ≤ 300 m, ≤ 500 m, ≤ 1 km, ≤ 15 minutes …

A band is an upper bound on the geodesic distance from a cell's centre to the nearest
station. "Minutes" bands turn a travel time into a distance with a speed: a
straight-line proxy (no road network, no waiting at crossings), which every surface
says next to the figures. Bands, speeds and the target band (the "15-minute service
circle") come from settings (``Settings.coverage``, passed down by the app and the
command line) and can be overridden per request.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from stations.errors import InvalidInput
from stations.settings import CoverageSettings

BEYOND = "beyond"
PROXY_NOTE = {
    "zh": "“分钟”按直线距离÷速度估算，未考虑道路网络，仅作近似。",
    "en": "Minutes are straight-line distance divided by speed: a proxy, not a route time.",
}


@dataclass(frozen=True)
class Band:
    """One band: cells whose nearest station is at most ``max_m`` metres away."""

    name: str
    max_m: float  # math.inf for "beyond"
    label_zh: str
    label_en: str

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en

    def as_dict(self, lang: str = "zh") -> dict[str, object]:
        return {
            "name": self.name,
            "max_m": None if math.isinf(self.max_m) else round(self.max_m, 1),
            "label": self.label(lang),
        }


def _metres_text(metres: float) -> tuple[str, str]:
    if metres >= 1000:
        km = f"{metres / 1000:.1f}".rstrip("0").rstrip(".")
        return f"{km} 公里", f"{km} km"
    return f"{metres:.0f} 米", f"{metres:.0f} m"


@dataclass(frozen=True)
class BandSet:
    """The ordered bands (nearest first, ``beyond`` last) and the target band."""

    bands: tuple[Band, ...]
    target: str

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.bands]

    @property
    def edges_m(self) -> np.ndarray:
        """Upper bounds of the finite bands, ascending (``beyond`` has none)."""
        return np.array([b.max_m for b in self.bands[:-1]], dtype=np.float64)

    @property
    def target_index(self) -> int:
        return self.names.index(self.target)

    @property
    def target_band(self) -> Band:
        return self.bands[self.target_index]

    @property
    def target_m(self) -> float:
        return self.target_band.max_m

    @property
    def reach_m(self) -> float:
        """The largest finite band: a station farther than this from a place serves it in none."""
        return float(self.edges_m.max())

    def inside_target(self, index: int) -> bool:
        """Whether band ``index`` lies inside the service circle (the target band or nearer)."""
        return index <= self.target_index

    def classify(self, distance_m: np.ndarray) -> np.ndarray:
        """Band index of each distance (a distance equal to an edge is inside that band)."""
        return np.searchsorted(self.edges_m, distance_m, side="left").astype(np.int8)

    def describe(self, lang: str = "zh") -> list[dict[str, object]]:
        return [b.as_dict(lang) for b in self.bands]


def band_set(
    *,
    settings: CoverageSettings | None = None,
    walk_kmh: float | None = None,
    ebike_kmh: float | None = None,
    minutes: float | None = None,
    target: str | None = None,
) -> BandSet:
    """The bands for a request: settings, with any of the speeds or the target overridden.

    The app and the command line pass their ``Settings.coverage``; without it the
    defaults are read from the environment (scripts, tests, benchmarks).
    """
    s = settings or CoverageSettings()
    walk = s.walk_kmh if walk_kmh is None else walk_kmh
    ebike = s.ebike_kmh if ebike_kmh is None else ebike_kmh
    mins = s.minutes if minutes is None else minutes
    for name, value, high in (
        ("walk_kmh", walk, 20),
        ("ebike_kmh", ebike, 60),
        ("minutes", mins, 120),
    ):
        if not (value > 0 and value <= high):
            raise InvalidInput(f"{name}: must be > 0 and ≤ {high}, not {value}", field=name)
    m = f"{mins:g}"
    bands: list[Band] = []
    for metres in s.distances_m:
        zh, en = _metres_text(metres)
        bands.append(Band(f"m{metres:.0f}", float(metres), f"≤ {zh}", f"≤ {en}"))
    walk_m = walk * 1000.0 * mins / 60.0
    ebike_m = ebike * 1000.0 * mins / 60.0
    wzh, wen = _metres_text(walk_m)
    ezh, een = _metres_text(ebike_m)
    bands.append(
        Band(f"walk_{m}min", walk_m, f"步行 {m} 分钟（≈{wzh}）", f"≤ {m} min on foot (≈{wen})")
    )
    bands.append(
        Band(
            f"ebike_{m}min", ebike_m, f"电动车 {m} 分钟（≈{ezh}）", f"≤ {m} min by e-bike (≈{een})"
        )
    )
    bands.sort(key=lambda b: (b.max_m, b.name))
    # "Beyond" names the farthest band it lies past: the service circle is the *target*
    # band, and every band past the target is outside it (the map's legend says which).
    farthest = bands[-1]
    bands.append(
        Band(
            BEYOND,
            math.inf,
            f"远于{farthest.label_zh.removeprefix('≤ ')}",
            f"beyond {farthest.label_en.removeprefix('≤ ')}",
        )
    )
    chosen = target
    if chosen is None:
        # The configured target names its minutes; follow them when they are overridden.
        chosen = re.sub(r"_\d+(\.\d+)?min$", f"_{m}min", s.target)
    names = [b.name for b in bands]
    if chosen not in names[:-1]:
        raise InvalidInput(
            f"target: {chosen!r} is not a band; allowed values: {', '.join(names[:-1])}",
            field="target",
        )
    return BandSet(tuple(bands), chosen)
