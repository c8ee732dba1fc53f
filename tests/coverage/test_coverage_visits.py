"""Members' visits in coverage: claims and check-ins as observed demand, and the
rating and today's water in the map's station popups."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from maps.assets import render_html
from maps.coverage import build_coverage_map
from stations.coverage import bands as bandmod
from stations.coverage.analysis import CoverageRequest, analyse_coverage
from stations.coverage.engine import DEMAND_UNIT
from stations.coverage.mapdata import load_map_stations
from stations.geo import h3cells
from stations.geo import region as geo_region
from stations.visits import ratings
from tests.factories import create_member, create_station, set_stock

BOX = "116.75,33.93,116.85,34.00"


async def _checkin(conn, member_id: int, station_id: int, lat: float, lng: float) -> None:
    await conn.execute(
        "INSERT INTO checkins (member_id, station_id, local_day, h3_cell) "
        "VALUES ($1, $2, current_date, $3)",
        member_id,
        station_id,
        h3cells.cell_from_latlng(lat, lng, 9),
    )


async def test_check_ins_count_as_demand_in_the_cell_they_were_made(conn, settings):
    station = await create_station(conn, lat=33.96, lng=116.80)
    member_id, _, _ = await create_member(conn, settings)
    # Three visits reported from one spot ~2 km east of the station, one from outside.
    for _ in range(3):
        await _checkin(conn, member_id, station["id"], 33.96, 116.82)
    await _checkin(conn, member_id, station["id"], 35.0, 118.0)
    request = CoverageRequest(region=geo_region.bbox_region(BOX), res=9, bands=bandmod.band_set())
    result = await analyse_coverage(conn, request=request)
    assert result.cells is not None
    where = h3cells.cell_from_latlng(33.96, 116.82, 9)
    demand_of = (result.cells.demand_micro / DEMAND_UNIT).tolist()
    demand = dict(zip(result.cells.cells.tolist(), demand_of, strict=True))
    assert demand[where] == 3.0
    assert result.total_demand == 3.0  # the visit outside the box is not counted
    assert np.count_nonzero(result.cells.demand_micro) == 1


async def test_map_popups_show_rating_and_water_left_today(conn, settings):
    point = await create_station(
        conn, name="派水点", kind="water_point", amenities=["drinking_water"], lat=33.96, lng=116.8
    )
    await set_stock(conn, point["id"], 120)
    for stars in (5, 4):
        member_id, _, _ = await create_member(conn, settings)
        await _checkin(conn, member_id, point["id"], 33.96, 116.8)
        await ratings.rate(
            conn, member_id=member_id, station_id=point["id"], stars=stars, tags=[], comment=None
        )
    request = CoverageRequest(region=geo_region.bbox_region(BOX), res=9, bands=bandmod.band_set())
    result = await analyse_coverage(conn, request=request)
    stations = await load_map_stations(conn, region=request.region, at=datetime.now(UTC))
    [shown] = [s for s in stations if s.id == point["id"]]
    assert (shown.visit.rating, shown.visit.ratings) == (4.5, 2)
    assert (shown.visit.water_remaining, shown.visit.water_allocated) == (120, 120)
    html = render_html(build_coverage_map(result, stations=stations, lang="en"))
    assert "4.5,2,120" in html.replace(" ", "")
