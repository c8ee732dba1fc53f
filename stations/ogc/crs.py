"""Coordinate reference systems of ``/ogc`` (OGC API – Features Part 2, CRS by reference).

Each CRS is named by a URI. Three are EPSG/OGC ones: CRS84 (WGS84, longitude first: the
GeoJSON default and what the catalog stores), EPSG:4326 (WGS84 with the EPSG axis
order, **latitude first**) and EPSG:4490 (CGCS2000, China's official datum, latitude
first). Two are this service's own, because no registry names them: GCJ-02 (Amap,
Tencent, WeChat) and BD-09 (Baidu), longitude first like the map SDKs that use them,
under ``…/ogc/crs/gcj02`` and ``…/ogc/crs/bd09``. Every conversion goes through the one
boundary, :mod:`stations.geo.crs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stations.errors import BadQuery, InvalidInput
from stations.geo import region
from stations.geo.crs import Crs, from_wgs84, parse_crs

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"


@dataclass(frozen=True)
class OgcCrs:
    """A CRS as ``/ogc`` offers it: its URI, the CRS it converts through, its axis order."""

    key: str  # crs84, epsg4326, epsg4490, gcj02, bd09
    crs: Crs
    lat_first: bool
    epsg: int | None
    title_zh: str
    title_en: str
    note_zh: str
    note_en: str

    def uri(self, base: str) -> str:
        if self.key == "crs84":
            return CRS84
        if self.epsg is not None:
            return EPSG_URI.format(code=self.epsg)
        return f"{base}/crs/{self.key}"

    @property
    def is_registered(self) -> bool:
        """True for OGC/EPSG systems; False for the service's own (GCJ-02, BD-09)."""
        return self.key == "crs84" or self.epsg is not None

    def describe(self, base: str) -> dict[str, Any]:
        return {
            "id": self.key,
            "uri": self.uri(base),
            "title": self.title_zh,
            "title_en": self.title_en,
            "registered": self.is_registered,
            "axis_order": "lat,lon" if self.lat_first else "lon,lat",
            "note": self.note_zh,
            "note_en": self.note_en,
        }


OFFERED: tuple[OgcCrs, ...] = (
    OgcCrs(
        "crs84",
        parse_crs("wgs84"),
        False,
        None,
        "WGS84 经纬度（经度在前）",
        "WGS84 longitude/latitude",
        "GeoJSON 默认；目录按此存储。",
        "The GeoJSON default; the catalog stores it.",
    ),
    OgcCrs(
        "epsg4326",
        parse_crs("EPSG:4326"),
        True,
        4326,
        "WGS84（EPSG:4326，纬度在前）",
        "WGS84 (EPSG:4326, latitude first)",
        "坐标顺序为纬度、经度，bbox 亦然。",
        "Coordinates and bbox are latitude, longitude.",
    ),
    OgcCrs(
        "epsg4490",
        parse_crs("EPSG:4490"),
        True,
        4490,
        "CGCS2000 国家大地坐标系（EPSG:4490，纬度在前）",
        "CGCS2000, China's official datum (EPSG:4490, latitude first)",
        "自然资源部门的标准坐标系；与 WGS84 相差在厘米级。",
        "The datum of China's mapping authorities; within centimetres of WGS84.",
    ),
    OgcCrs(
        "gcj02",
        parse_crs("gcj02"),
        False,
        None,
        "GCJ-02（高德、腾讯、微信；非 EPSG，本服务自定义）",
        "GCJ-02 (Amap, Tencent, WeChat; not EPSG, defined by this service)",
        "非 EPSG 坐标系：无公认编号，只有本服务的 URI。经度在前。",
        "Not an EPSG system: no registry names it; this URI is this service's. Longitude first.",
    ),
    OgcCrs(
        "bd09",
        parse_crs("bd09"),
        False,
        None,
        "BD-09（百度；非 EPSG，本服务自定义）",
        "BD-09 (Baidu; not EPSG, defined by this service)",
        "非 EPSG 坐标系：无公认编号，只有本服务的 URI。经度在前。",
        "Not an EPSG system: no registry names it; this URI is this service's. Longitude first.",
    ),
)
BY_KEY: dict[str, OgcCrs] = {c.key: c for c in OFFERED}
DEFAULT = BY_KEY["crs84"]


def uris(base: str) -> list[str]:
    return [c.uri(base) for c in OFFERED]


def own_crs(key: str) -> OgcCrs | None:
    """The service's own CRS named by the last segment of its URI (``/ogc/crs/gcj02``)."""
    found = BY_KEY.get(key)
    return found if found is not None and not found.is_registered else None


def parse_ogc_crs(value: str | None, base: str, *, field: str = "crs") -> OgcCrs:
    """A CRS URI this service offers (CRS84 when not given); anything else is a 400."""
    if value is None:
        return DEFAULT
    text = value.strip().strip("<>")
    for offered in OFFERED:
        if text == offered.uri(base):
            return offered
    raise BadQuery(
        field,
        f"{field}: {value!r} is not a CRS this service offers; send one of {', '.join(uris(base))}",
    )


def to_crs(lats: np.ndarray, lngs: np.ndarray, target: OgcCrs) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 positions as (first, second) coordinates in ``target``'s axis order."""
    lat, lng = from_wgs84(lats, lngs, target.crs)
    return (lat, lng) if target.lat_first else (lng, lat)


def bbox_to_wgs84(text: str, given: OgcCrs, *, field: str = "bbox") -> list[float]:
    """A bbox in ``given``'s axis order (lat first for EPSG:4326/4490: minLat,minLon,
    maxLat,maxLon) as WGS84 west, south, east, north; a 3D bbox's heights are ignored."""
    parts = text.split(",")
    if len(parts) == 6:
        parts = [parts[i] for i in (0, 1, 3, 4)]
    if given.lat_first and len(parts) == 4:
        parts = [parts[1], parts[0], parts[3], parts[2]]
    try:
        box = region.parse_bbox(",".join(parts), field=field, antimeridian=True)
    except InvalidInput as exc:
        order = "minLat,minLon,maxLat,maxLon" if given.lat_first else "minLon,minLat,maxLon,maxLat"
        raise BadQuery(field, f"{exc.detail} (in this bbox-crs the order is {order})") from None
    return box.in_wgs84(given.crs).as_list()
