"""H3 cells at the boundary: bigint in PostgreSQL, hex string in the API, lat/lng in between.

Every conversion between the three lives here (h3 v4 names). H3 indexes use 63 bits
(the top bit is reserved and zero), so they fit PostgreSQL's signed ``bigint`` as is.
The array helpers derive coarser cells with bit arithmetic, which is what lets the
importer index a million stations in a fraction of a second.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import h3
import numpy as np
from h3 import _cy as _h3_core  # pinned h3 4.5: see centres_array
from h3.api import basic_int

from stations.errors import InvalidInput

CATALOG_RESOLUTIONS: tuple[int, ...] = (7, 9, 11)
"""Resolutions stored for every station (columns ``h3_r7``, ``h3_r9``, ``h3_r11``)."""

_RES_OFFSET = 52
_RES_MASK = np.uint64(0xF) << np.uint64(_RES_OFFSET)
_MAX_RES = 15


def cell_from_latlng(lat: float, lng: float, res: int) -> int:
    """The cell (as an integer) that contains a WGS84 point."""
    return int(basic_int.latlng_to_cell(lat, lng, res))


def cell_to_latlng(cell: int) -> tuple[float, float]:
    """The centre of a cell as (lat, lng)."""
    lat, lng = basic_int.cell_to_latlng(cell)
    return float(lat), float(lng)


def cell_to_hex(cell: int) -> str:
    return h3.int_to_str(int(cell))


def cell_from_hex(text: str, *, field: str = "cell") -> int:
    """Parse an H3 hex string from the API; refuse anything that is not a valid cell."""
    try:
        value = h3.str_to_int(text.strip().lower())
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"{field}: {text!r} is not an H3 cell; send the 15-character hex form, "
            "e.g. '8931aa0a827ffff'",
            field=field,
        ) from exc
    if not basic_int.is_valid_cell(value):
        raise InvalidInput(
            f"{field}: {text!r} is not a valid H3 cell; send the 15-character hex form, "
            "e.g. '8931aa0a827ffff'",
            field=field,
        )
    return int(value)


def cell_resolution(cell: int) -> int:
    return int(basic_int.get_resolution(cell))


def cells_from_latlng_array(lats: np.ndarray, lngs: np.ndarray, res: int) -> np.ndarray:
    """Cells (uint64) for arrays of WGS84 points at one resolution."""
    to_cell = basic_int.latlng_to_cell
    out = np.fromiter(
        (to_cell(lat, lng, res) for lat, lng in zip(lats.tolist(), lngs.tolist(), strict=True)),
        dtype=np.uint64,
        count=len(lats),
    )
    return out


def parent_array(cells: np.ndarray, res: int) -> np.ndarray:
    """Parents of an array of cells at a coarser resolution, by bit arithmetic.

    A cell's index holds its resolution in bits 52–55 and one 3-bit digit per
    resolution; the parent keeps the leading digits and marks the rest unused (7).
    """
    cells = cells.astype(np.uint64, copy=False)
    if res < 0 or res > _MAX_RES:
        raise ValueError(f"resolution must be 0..15, not {res}")
    unused_bits = 3 * (_MAX_RES - res)
    unused = np.uint64((1 << unused_bits) - 1)
    out = (cells & ~_RES_MASK) | (np.uint64(res) << np.uint64(_RES_OFFSET))
    return out | unused


def catalog_cells(lats: np.ndarray, lngs: np.ndarray) -> dict[int, np.ndarray]:
    """The catalog's cells (res 7, 9, 11) for arrays of points, as int64 for PostgreSQL.

    Coarser cells are the H3 parents of the res-11 cell, so the three columns always
    nest (what aggregation by parent relies on). Within a few metres of a cell edge a
    parent can differ from looking the point up directly at that resolution: H3 cells
    do not nest exactly, geometrically.
    """
    finest = max(CATALOG_RESOLUTIONS)
    fine = cells_from_latlng_array(lats, lngs, finest)
    return {
        res: (fine if res == finest else parent_array(fine, res)).astype(np.int64)
        for res in CATALOG_RESOLUTIONS
    }


def catalog_cells_of(lat: float, lng: float) -> dict[int, int]:
    """The catalog's cells for one point, derived exactly as :func:`catalog_cells` does."""
    return {
        res: int(cells[0]) for res, cells in catalog_cells(np.array([lat]), np.array([lng])).items()
    }


def cells_to_hex(cells: Iterable[int]) -> list[str]:
    return [h3.int_to_str(int(c)) for c in cells]


def centres_array(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres (lat, lng) of an array of cells, as two float64 arrays."""
    # h3's Cython core directly: half the cost of the public wrapper per cell, and
    # national runs compute ten million centres. Same function, same validation.
    to_latlng = getattr(_h3_core, "cell_to_latlng", basic_int.cell_to_latlng)
    flat = np.fromiter(
        itertools.chain.from_iterable(map(to_latlng, cells.tolist())),
        dtype=np.float64,
        count=2 * len(cells),
    )
    return flat[0::2].copy(), flat[1::2].copy()


def cells_to_int_array(cells: Iterable[int | str]) -> np.ndarray:
    """Cells given as ints or hex strings, as a uint64 array."""
    return np.fromiter(
        (h3.str_to_int(c) if isinstance(c, str) else int(c) for c in cells), dtype=np.uint64
    )


def children_array(cells: np.ndarray, res: int) -> np.ndarray:
    """Children at ``res`` of each cell, one row per cell (n × 7^k, uint64).

    A pentagon has one child fewer per level; its missing slots are 0 (never a cell).
    """
    from h3.api import numpy_int

    cells = np.asarray(cells, dtype=np.uint64)
    if len(cells) == 0:
        return np.empty((0, 1), dtype=np.uint64)
    width = 7 ** (res - cell_resolution(int(cells[0])))
    out = np.zeros((len(cells), width), dtype=np.uint64)
    for i, cell in enumerate(cells.tolist()):
        kids = numpy_int.cell_to_children(cell, res)
        out[i, : len(kids)] = kids
    return out
