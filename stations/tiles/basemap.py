"""A local base map: one MBTiles or PMTiles file served as XYZ tiles, for networks with no
internet (``STATIONS_BASEMAP_FILE``).

MBTiles is a SQLite database (the ``tiles`` table in TMS rows, counted from the south;
``metadata`` with format, zooms, bounds and attribution), read with Python's own
:mod:`sqlite3`, read-only. PMTiles is a single-file archive with a header and
directories, read with the ``pmtiles`` package (the format's reference reader, kept by
the Protomaps project). Either holds raster tiles (PNG, JPEG, WebP) or vector tiles
(``pbf``, Mapbox Vector Tiles, usually gzipped); the service hands the tile's bytes out
as they are stored, with the media type and encoding the file declares.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pmtiles.reader import MmapSource, Reader

from stations.errors import SetupError
from stations.tiles.grid import Tile

MEDIA_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "pbf": "application/vnd.mapbox-vector-tile",
}
_PMTILES_TYPES = {1: "pbf", 2: "png", 3: "jpg", 4: "webp"}
_GZIP = b"\x1f\x8b"


@dataclass(frozen=True)
class BasemapInfo:
    """What a client needs to draw the file: its format, zooms, area and credit."""

    format: str  # png, jpg, webp or pbf
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float] | None  # west, south, east, north
    name: str
    attribution: str
    vector_layers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    @property
    def vector(self) -> bool:
        return self.format == "pbf"


class Basemap:
    """An open base-map file; :meth:`tile` is safe to call from any thread."""

    info: BasemapInfo

    def tile(self, tile: Tile) -> bytes | None:
        raise NotImplementedError

    def close(self) -> None:
        """Let go of the file."""


def _unreadable(path: Path, why: str) -> SetupError:
    return SetupError(
        f"STATIONS_BASEMAP_FILE {str(path)!r} cannot be served: {why}",
        code="basemap_unreadable",
        path=str(path),
    )


def _format(value: str | None, path: Path) -> str:
    name = (value or "").lower().strip()
    name = {"jpeg": "jpg", "mvt": "pbf", "vector": "pbf"}.get(name, name)
    if name not in MEDIA_TYPES:
        raise _unreadable(path, f"its tile format {value!r} is not one of png, jpg, webp, pbf")
    return name


def _bounds(value: Any) -> tuple[float, float, float, float] | None:
    try:
        west, south, east, north = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return west, south, east, north


class MBTiles(Basemap):
    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
            )
            meta = dict(self._db.execute("SELECT name, value FROM metadata").fetchall())
            self._db.execute("SELECT 1 FROM tiles LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise _unreadable(path, f"not an MBTiles file ({exc})") from exc
        self._lock = threading.Lock()
        zooms = self._db.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
        bounds = meta.get("bounds")
        layers = []
        if meta.get("json"):
            try:
                layers = json.loads(meta["json"]).get("vector_layers", [])
            except (ValueError, AttributeError):
                layers = []
        self.info = BasemapInfo(
            format=_format(meta.get("format"), path),
            min_zoom=int(meta.get("minzoom", zooms[0] if zooms[0] is not None else 0)),
            max_zoom=int(meta.get("maxzoom", zooms[1] if zooms[1] is not None else 0)),
            bounds=_bounds(bounds.split(",")) if bounds else None,
            name=str(meta.get("name", path.stem)),
            attribution=str(meta.get("attribution", "")),
            vector_layers=layers,
        )

    def tile(self, tile: Tile) -> bytes | None:
        tms_row = (1 << tile.z) - 1 - tile.y  # MBTiles counts rows from the south
        with self._lock:
            row = self._db.execute(
                "SELECT tile_data FROM tiles"
                " WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (tile.z, tile.x, tms_row),
            ).fetchone()
        return bytes(row[0]) if row else None

    def close(self) -> None:
        self._db.close()


class PMTiles(Basemap):
    def __init__(self, path: Path) -> None:
        try:
            self._file: BinaryIO = path.open("rb")
            self._reader = Reader(MmapSource(self._file))  # maps the file, read-only
            header = self._reader.header()
            meta = self._reader.metadata()
        except (OSError, ValueError, KeyError, IndexError) as exc:
            raise _unreadable(path, f"not a PMTiles v3 file ({exc})") from exc
        kind = _PMTILES_TYPES.get(int(header["tile_type"].value))
        self._gzip = int(header["tile_compression"].value) == 2
        self.info = BasemapInfo(
            format=_format(kind, path),
            min_zoom=int(header["min_zoom"]),
            max_zoom=int(header["max_zoom"]),
            bounds=(
                header["min_lon_e7"] / 1e7,
                header["min_lat_e7"] / 1e7,
                header["max_lon_e7"] / 1e7,
                header["max_lat_e7"] / 1e7,
            ),
            name=str(meta.get("name", path.stem)),
            attribution=str(meta.get("attribution", "")),
            vector_layers=list(meta.get("vector_layers", [])),
        )
        self._lock = threading.Lock()

    def tile(self, tile: Tile) -> bytes | None:
        with self._lock:
            data = self._reader.get(tile.z, tile.x, tile.y)
        return bytes(data) if data else None

    def close(self) -> None:
        self._file.close()


def open_basemap(path: Path) -> Basemap:
    """The file at ``path`` opened by its kind (``.pmtiles`` or an MBTiles database).

    A file that is missing or not a tile set is refused here, when the service starts,
    with what is wrong: never as a 500 on the first tile.
    """
    if not path.is_file():
        raise _unreadable(path, "no such file")
    with path.open("rb") as f:
        magic = f.read(7)
    if magic == b"PMTiles":
        return PMTiles(path)
    return MBTiles(path)


def is_gzipped(data: bytes) -> bool:
    return data[:2] == _GZIP
