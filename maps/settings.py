"""Tile layer of the maps (``STATIONS_TILES_*``): none by default, so maps work offline.

Chinese tile providers (Amap/Gaode, Tencent) draw GCJ-02; set
``STATIONS_TILES_CRS=gcj02`` with such a URL and every drawn coordinate is shifted
with :func:`stations.geo.crs.wgs84_to_gcj02` so it lands on the right street.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from stations.settings import PROJECT_ROOT


class TileSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STATIONS_TILES_", env_file=PROJECT_ROOT / ".env", extra="ignore", frozen=True
    )

    url: str | None = Field(
        default=None, description="XYZ template, e.g. http://tiles.local/{z}/{x}/{y}.png"
    )
    crs: Literal["wgs84", "gcj02"] = "wgs84"
    attribution: str = "map tiles"
    max_zoom: int = Field(default=18, ge=1, le=22)
