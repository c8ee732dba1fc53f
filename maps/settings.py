"""Tile layer of the maps (``STATIONS_TILES_*``): none by default, so maps work offline.

The settings are a group of :class:`stations.settings.Settings` (``settings.tiles``),
handed to the map builders by the app and the command line; the class is named here
too for the map code that takes it.
"""

from __future__ import annotations

from stations.settings import TileSettings

__all__ = ["TileSettings"]
