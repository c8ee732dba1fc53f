"""Station codes computed by the bulk import equal the catalog's SQL function."""

from __future__ import annotations

import numpy as np

from stations.catalog.codes import station_codes


async def test_codes_equal_the_sql_function(conn):
    rng = np.random.default_rng(7)
    ids = np.concatenate(
        [np.arange(1, 5_001), rng.integers(5_001, 2_000_000_000, 5_000), [2**30, 2**31 - 1]]
    ).astype(np.int64)
    expected = await conn.fetch(
        "SELECT station_code(i) AS code FROM unnest($1::bigint[]) WITH ORDINALITY AS u(i, n) "
        "ORDER BY n",
        ids.tolist(),
    )
    assert station_codes(ids).to_pylist() == [r["code"] for r in expected]
