"""The dask engine gives exactly the single-machine numbers on the same input."""

from __future__ import annotations

import numpy as np
import pytest

from stations.coverage import bands as bandmod
from stations.coverage import regions
from stations.coverage.analysis import CoverageRequest, analyse_coverage
from stations.coverage.dask_engine import group_parents
from stations.coverage.regions import partition_parents
from stations.geo import region as geo_region
from tests.fixtures.coverage.demo_city import build_demo_city


@pytest.fixture(scope="module")
def dask_client():
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


async def test_dask_engine_equals_numpy_engine_on_the_demo_city(conn, dask_client):
    await build_demo_city(conn, stations=40, demand=4000)
    # A polygon region so that partitions are cut by a real boundary.
    polygon = (
        '{"type":"Polygon","coordinates":[[[116.70,33.86],[116.90,33.88],[116.88,34.03],'
        "[116.78,34.05],[116.72,33.98],[116.70,33.86]]]}"
    )
    request = CoverageRequest(
        region=geo_region.parse_polygon(polygon), res=9, bands=bandmod.band_set(), top_n=25
    )
    single = await analyse_coverage(conn, request=request, engine="numpy")
    spread = await analyse_coverage(conn, request=request, engine="dask", client=dask_client)

    assert len(group_parents(partition_parents(request.region, 9), 9)) > 1
    for name in (
        "band_cells",
        "band_demand",
        "district_cells",
        "district_demand",
        "district_covered",
    ):
        np.testing.assert_array_equal(getattr(spread.totals, name), getattr(single.totals, name))
    np.testing.assert_array_equal(spread.totals.worst, single.totals.worst)
    for name in ("cells", "station", "distance_m", "band", "demand_micro"):
        np.testing.assert_array_equal(getattr(spread.cells, name), getattr(single.cells, name))
    a, b = single.summary("en"), spread.summary("en")
    for key in ("bands", "worst_cells", "districts", "demand", "target"):
        assert a[key] == b[key]
    assert spread.engine == "dask"


async def test_dask_engine_can_drop_cells_for_national_runs(conn, dask_client):
    await build_demo_city(conn, stations=10, demand=500)
    request = CoverageRequest(region=regions.load_city("huaibei"), res=8, bands=bandmod.band_set())
    lean = await analyse_coverage(
        conn, request=request, engine="dask", client=dask_client, keep_cells=False
    )
    full = await analyse_coverage(conn, request=request, engine="numpy")
    assert lean.cells is None
    assert lean.summary("en")["bands"] == full.summary("en")["bands"]
