"""Coordinate reference systems at the boundary: WGS84, GCJ-02, BD-09 and EPSG codes.

The catalog stores WGS84. Chinese map SDKs and exports do not: Amap, Tencent and
WeChat's ``getLocation`` give GCJ-02 (the officially obfuscated "Mars" datum, offset
by 100–700 m from WGS84 inside mainland China), Baidu gives BD-09 (a further shift of
GCJ-02). Neither is a proj CRS, so the formulas live here, vectorised with numpy; the
inverses are solved by fixed-point iteration to well under a millimetre. Projected
and other EPSG systems go through pyproj. Everything takes and returns (lat, lng).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyproj

from stations.errors import InvalidInput

NAMED = ("wgs84", "gcj02", "bd09")
ALLOWED_TEXT = "wgs84, gcj02, bd09 or EPSG:<code> (e.g. EPSG:32650)"

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
_BD_K = np.pi * 3000.0 / 180.0
_ITERATIONS = 30
_TOLERANCE_DEG = 1e-10


@dataclass(frozen=True)
class Crs:
    """A parsed CRS name: one of the named Chinese datums or an EPSG code."""

    name: str  # "wgs84", "gcj02", "bd09" or "EPSG:<n>"
    epsg: int | None = None

    @property
    def is_wgs84(self) -> bool:
        return self.name == "wgs84" or self.epsg == 4326

    @property
    def is_geographic(self) -> bool:
        """True when coordinates are latitude/longitude degrees (not metres)."""
        if self.epsg is None:
            return True
        return bool(_proj_crs(self.epsg).is_geographic)

    def __str__(self) -> str:
        return self.name


WGS84 = Crs("wgs84")


def parse_crs(text: str | None, *, field: str = "crs") -> Crs:
    """Parse ``wgs84|gcj02|bd09|EPSG:n`` (case-insensitive); anything else is refused."""
    if text is None:
        return Crs("wgs84")
    value = text.strip().lower().replace("-", "").replace("_", "")
    if value in ("wgs84", "gcj02", "bd09"):
        return Crs(value)
    match = re.fullmatch(r"epsg:(\d{4,6})", value)
    if match:
        code = int(match.group(1))
        if code == 4326:
            return Crs("wgs84")
        try:
            _proj_crs(code)
        except pyproj.exceptions.CRSError as exc:
            raise InvalidInput(
                f"{field}: EPSG:{code} is not a known coordinate system; use {ALLOWED_TEXT}",
                field=field,
            ) from exc
        return Crs(f"EPSG:{code}", code)
    raise InvalidInput(f"{field}: unknown CRS {text!r}; use {ALLOWED_TEXT}", field=field)


@lru_cache(maxsize=64)
def _proj_crs(code: int) -> pyproj.CRS:
    return pyproj.CRS.from_epsg(code)


@lru_cache(maxsize=64)
def _to_wgs84_transformer(code: int) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(_proj_crs(code), 4326, always_xy=True)


@lru_cache(maxsize=64)
def _from_wgs84_transformer(code: int) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(4326, _proj_crs(code), always_xy=True)


def outside_china(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """Where GCJ-02 equals WGS84: the usual rectangle test used by the Chinese SDKs."""
    return (lng < 72.004) | (lng > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lng - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat += common
    dlng += common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlng += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlng += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlng = (dlng * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlat, dlng


def wgs84_to_gcj02(lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat = np.asarray(lat, dtype=float)
    lng = np.asarray(lng, dtype=float)
    dlat, dlng = _delta(lat, lng)
    out = outside_china(lat, lng)
    return np.where(out, lat, lat + dlat), np.where(out, lng, lng + dlng)


def gcj02_to_wgs84(lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Invert GCJ-02 by fixed-point iteration (the forward map is a small smooth shift)."""
    lat = np.asarray(lat, dtype=float)
    lng = np.asarray(lng, dtype=float)
    wlat, wlng = lat.copy(), lng.copy()
    for _ in range(_ITERATIONS):
        glat, glng = wgs84_to_gcj02(wlat, wlng)
        elat, elng = glat - lat, glng - lng
        wlat = wlat - elat
        wlng = wlng - elng
        if np.all(np.abs(elat) < _TOLERANCE_DEG) and np.all(np.abs(elng) < _TOLERANCE_DEG):
            break
    return wlat, wlng


def gcj02_to_bd09(lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat = np.asarray(lat, dtype=float)
    lng = np.asarray(lng, dtype=float)
    z = np.sqrt(lng * lng + lat * lat) + 0.00002 * np.sin(lat * _BD_K)
    theta = np.arctan2(lat, lng) + 0.000003 * np.cos(lng * _BD_K)
    return z * np.sin(theta) + 0.006, z * np.cos(theta) + 0.0065


def bd09_to_gcj02(lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baidu's published inverse, refined by iteration so a round trip stays sub-millimetre."""
    lat = np.asarray(lat, dtype=float)
    lng = np.asarray(lng, dtype=float)
    x = lng - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_K)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_K)
    glat, glng = z * np.sin(theta), z * np.cos(theta)
    for _ in range(_ITERATIONS):
        blat, blng = gcj02_to_bd09(glat, glng)
        elat, elng = blat - lat, blng - lng
        glat = glat - elat
        glng = glng - elng
        if np.all(np.abs(elat) < _TOLERANCE_DEG) and np.all(np.abs(elng) < _TOLERANCE_DEG):
            break
    return glat, glng


def to_wgs84(
    a: np.ndarray | float, b: np.ndarray | float, crs: Crs
) -> tuple[np.ndarray, np.ndarray]:
    """Convert to WGS84 (lat, lng).

    For geographic CRSs ``a, b`` are (lat, lng); for projected EPSG systems they are
    (x, y) = (easting, northing) in the system's units.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if crs.is_wgs84:
        return a, b
    if crs.name == "gcj02":
        return gcj02_to_wgs84(a, b)
    if crs.name == "bd09":
        return gcj02_to_wgs84(*bd09_to_gcj02(a, b))
    assert crs.epsg is not None
    transformer = _to_wgs84_transformer(crs.epsg)
    if crs.is_geographic:
        lng, lat = transformer.transform(b, a)
    else:
        lng, lat = transformer.transform(a, b)
    return np.asarray(lat, dtype=float), np.asarray(lng, dtype=float)


def from_wgs84(
    lat: np.ndarray | float, lng: np.ndarray | float, crs: Crs
) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 (lat, lng) to ``crs``; the inverse of :func:`to_wgs84`."""
    lat = np.asarray(lat, dtype=float)
    lng = np.asarray(lng, dtype=float)
    if crs.is_wgs84:
        return lat, lng
    if crs.name == "gcj02":
        return wgs84_to_gcj02(lat, lng)
    if crs.name == "bd09":
        return gcj02_to_bd09(*wgs84_to_gcj02(lat, lng))
    assert crs.epsg is not None
    transformer = _from_wgs84_transformer(crs.epsg)
    x, y = transformer.transform(lng, lat)
    if crs.is_geographic:
        return np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def point_to_wgs84(lat: float, lng: float, crs: Crs) -> tuple[float, float]:
    """Scalar convenience for one (lat, lng) point in a geographic CRS."""
    wlat, wlng = to_wgs84(lat, lng, crs)
    return float(wlat), float(wlng)


# --- the boundary of every request: positions in a named CRS ------------------------


def parse_named_crs(value: str | None, *, field: str = "crs") -> Crs:
    """Only the named geographic CRSs (what phones and map SDKs report positions in)."""
    if value is None:
        return WGS84
    text = str(value).strip().lower().replace("-", "").replace("_", "")
    if text not in NAMED:
        raise InvalidInput(
            f"{field}: unknown CRS {value!r}; allowed values: {', '.join(NAMED)}", field=field
        )
    return Crs(text)


def positions_to_wgs84(
    lat: np.ndarray, lng: np.ndarray, crs: Crs, *, field: str = "lat/lng"
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (degrees, already range-checked in ``crs``) in WGS84, longitude wrapped
    to -180..180; refused when one has no WGS84 equivalent (GCJ-02 near a pole, say)."""
    if crs.is_wgs84:
        return np.asarray(lat, dtype=float), np.asarray(lng, dtype=float)
    out_lat, out_lng = to_wgs84(lat, lng, crs)
    if not (np.all(np.isfinite(out_lat)) and np.all(np.isfinite(out_lng))) or not np.all(
        np.abs(out_lat) <= 90
    ):
        raise InvalidInput(
            f"{field}: {'the point has' if out_lat.size == 1 else 'some positions have'} "
            f"no WGS84 equivalent in {crs.name}; send {'it' if out_lat.size == 1 else 'them'} "
            "in wgs84",
            field=field,
        )
    return out_lat, (out_lng + 180.0) % 360.0 - 180.0


def position_to_wgs84(
    lat: float, lng: float, crs: Crs, *, field: str = "lat/lng"
) -> tuple[float, float]:
    """One position in WGS84 (see :func:`positions_to_wgs84`)."""
    if crs.is_wgs84:
        return float(lat), float(lng)
    out_lat, out_lng = positions_to_wgs84(np.array(lat), np.array(lng), crs, field=field)
    return float(out_lat), float(out_lng)


def point_from_wgs84(lat: float, lng: float, crs: Crs) -> tuple[float, float]:
    out_lat, out_lng = from_wgs84(lat, lng, crs)
    return float(out_lat), float(out_lng)
