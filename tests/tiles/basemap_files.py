"""Tiny base-map files written in a test: an MBTiles database of solid-colour PNG tiles and
a PMTiles archive of the same tiles (with the ``pmtiles`` package's writer)."""

from __future__ import annotations

import sqlite3
import struct
import zlib
from pathlib import Path

from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer


def solid_png(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    """A ``size``×``size`` PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size, 9))
        + chunk(b"IEND", b"")
    )


def tiles_around(lat: float, lng: float, zooms: range) -> dict[tuple[int, int, int], bytes]:
    """The XYZ tile under (lat, lng) and its 8 neighbours at each zoom, in two colours
    (a chequerboard, so a test can tell the tiles apart on screen)."""
    import math

    out: dict[tuple[int, int, int], bytes] = {}
    light, dark = solid_png((233, 226, 208)), solid_png((200, 214, 229))
    for z in zooms:
        side = 1 << z
        x0 = int((lng + 180) / 360 * side)
        y0 = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * side)
        for dx in range(-2, 3):
            for dy in range(-3, 4):
                x, y = x0 + dx, y0 + dy
                if 0 <= x < side and 0 <= y < side:
                    out[z, x, y] = light if (x + y) % 2 else dark
    return out


def write_mbtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], **meta: str) -> Path:
    """An MBTiles 1.3 file: rows stored TMS-style (counted from the south)."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE metadata (name text, value text)")
    db.execute(
        "CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer,"
        " tile_data blob)"
    )
    zooms = [z for z, _, _ in tiles]
    values = {
        "name": "test streets",
        "format": "png",
        "minzoom": str(min(zooms)),
        "maxzoom": str(max(zooms)),
        "attribution": "测试底图",
        **meta,
    }
    db.executemany("INSERT INTO metadata VALUES (?, ?)", values.items())
    db.executemany(
        "INSERT INTO tiles VALUES (?, ?, ?, ?)",
        [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()],
    )
    db.commit()
    db.close()
    return path


def write_pmtiles(path: Path, tiles: dict[tuple[int, int, int], bytes]) -> Path:
    with path.open("wb") as f:
        writer = Writer(f)
        for (z, x, y), data in sorted(tiles.items(), key=lambda i: zxy_to_tileid(*i[0])):
            writer.write_tile(zxy_to_tileid(z, x, y), data)
        writer.finalize(
            {
                "tile_type": TileType.PNG,
                "tile_compression": Compression.NONE,
                "min_lon_e7": int(116.0 * 1e7),
                "min_lat_e7": int(33.0 * 1e7),
                "max_lon_e7": int(117.5 * 1e7),
                "max_lat_e7": int(34.5 * 1e7),
                "center_zoom": 12,
                "center_lon_e7": int(116.8 * 1e7),
                "center_lat_e7": int(33.95 * 1e7),
            },
            {"name": "test streets (pmtiles)", "attribution": "测试底图"},
        )
    return path


def vector_tiles_around(lat: float, lng: float, zooms: range) -> dict[tuple[int, int, int], bytes]:
    """Gzipped Mapbox Vector Tiles as base maps store them: in every tile a ``water``
    polygon (its west half) and a ``transportation`` line (a road across it)."""
    import gzip

    import mapbox_vector_tile

    tile = gzip.compress(
        mapbox_vector_tile.encode(
            [
                {
                    "name": "water",
                    "features": [
                        {
                            "geometry": "POLYGON ((0 0, 2048 0, 2048 4096, 0 4096, 0 0))",
                            "properties": {"class": "lake"},
                        }
                    ],
                },
                {
                    "name": "transportation",
                    "features": [
                        {
                            "geometry": "LINESTRING (0 1024, 4096 3072)",
                            "properties": {"class": "primary"},
                        }
                    ],
                },
            ]
        ),
        mtime=0,
    )
    return {key: tile for key in tiles_around(lat, lng, zooms)}
