"""H3 conversions between bigint, hex and lat/lng."""

from __future__ import annotations

import h3
import numpy as np
import pytest

from stations.errors import InvalidInput
from stations.geo import h3cells


def test_hex_and_int_round_trip_and_fit_a_signed_bigint():
    cell = h3cells.cell_from_latlng(33.9556, 116.7983, 11)
    assert 0 < cell < 2**63
    assert h3cells.cell_from_hex(h3cells.cell_to_hex(cell)) == cell
    assert h3cells.cell_to_hex(cell) == h3.latlng_to_cell(33.9556, 116.7983, 11)


def test_parent_array_equals_h3_cell_to_parent():
    rng = np.random.default_rng(1)
    lats = rng.uniform(-80, 80, 5_000)
    lngs = rng.uniform(-180, 180, 5_000)
    fine = h3cells.cells_from_latlng_array(lats, lngs, 11)
    for res in (0, 5, 7, 9, 10, 11):
        ours = h3cells.parent_array(fine, res)
        expected = [h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), res)) for c in fine]
        assert ours.tolist() == expected


def test_catalog_cells_of_one_point_equal_the_array_version():
    cells = h3cells.catalog_cells(np.array([34.2655]), np.array([108.9540]))
    one = h3cells.catalog_cells_of(34.2655, 108.9540)
    assert {res: int(v[0]) for res, v in cells.items()} == one
    assert set(one) == {7, 9, 11}
    assert {h3cells.cell_resolution(c) for c in one.values()} == {7, 9, 11}


@pytest.mark.parametrize("text", ["", "zzz", "8928308280fffff0", "0"])
def test_cell_from_hex_refuses_garbage(text):
    with pytest.raises(InvalidInput, match="H3 cell"):
        h3cells.cell_from_hex(text)


def test_catalog_cells_nest_even_where_a_direct_lookup_would_not():
    # Points scattered densely enough that some fall where the res-9 cell holding the
    # point is not the parent of its res-11 cell; the catalog's cells must still nest.
    rng = np.random.default_rng(3)
    lats = 34.26 + rng.uniform(-0.05, 0.05, 20_000)
    lngs = 108.95 + rng.uniform(-0.05, 0.05, 20_000)
    cells = h3cells.catalog_cells(lats, lngs)
    direct_r9 = h3cells.cells_from_latlng_array(lats, lngs, 9).astype(np.int64)
    assert (direct_r9 != cells[9]).any(), "the sample should include edge cases"
    parents = h3cells.parent_array(cells[11].astype(np.uint64), 9).astype(np.int64)
    assert (parents == cells[9]).all()


def test_cell_to_latlng_is_inside_the_cell():
    cell = h3cells.cell_from_latlng(34.26, 108.95, 9)
    lat, lng = h3cells.cell_to_latlng(cell)
    assert h3cells.cell_from_latlng(lat, lng, 9) == cell
