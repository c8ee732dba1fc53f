"""The reference layer: where things are, drawn from data the project has, for maps that
have neither an online tile layer nor a local base-map file.

Without streets, coloured hexagons and station dots on a grey background leave a
planner guessing which city they are looking at. This layer gives the outlines of the
coverage cities (``stations/coverage/cities/*.geojson``), the districts of the demo
cities (their extents in ``stations/demo/cities/*.toml``, rough boxes, not the
administrative boundaries) and the demo cities' main roads (the streets the demo
generator lays stations along), as one GeoJSON FeatureCollection in WGS84 with a
``kind`` (``city``, ``district``, ``road``) and a ``name`` on every feature.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

from stations.coverage.regions import REGIONS_DIR, available_cities
from stations.demo import cities as demo_cities


def _box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


@cache
def reference_layer() -> dict[str, Any]:
    """The layer as a GeoJSON FeatureCollection (built once: its inputs are package data)."""
    features: list[dict[str, Any]] = []
    for key in available_cities():
        data = orjson.loads((REGIONS_DIR / f"{key}.geojson").read_bytes())
        for feature in data.get("features", [data]):
            props = feature.get("properties") or {}
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "kind": "city",
                        "name": props.get("name_zh", key),
                        "name_en": props.get("name_en", key),
                    },
                    "geometry": feature["geometry"],
                }
            )
    for key in demo_cities.CITIES:
        city = demo_cities.load_city(key)
        for district in city.districts.values():
            e = district.extent
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "kind": "district",
                        "name": district.name,
                        "code": district.code,
                    },
                    "geometry": _box(e.west, e.south, e.east, e.north),
                }
            )
        for street in city.streets:
            coords = [
                [round(float(lng), 6), round(float(lat), 6)]
                for lng, lat in zip(street.lngs, street.lats, strict=True)
            ]
            if len(coords) < 2:
                continue
            features.append(
                {
                    "type": "Feature",
                    "properties": {"kind": "road", "name": street.road or street.name},
                    "geometry": {"type": "LineString", "coordinates": coords},
                }
            )
    return {"type": "FeatureCollection", "features": features}
