"""A small demo city for coverage tests: stations and demand in central Huaibei.

Deterministic (seeded) so expected numbers stay put; inserted through the same paths
the product uses (the station factory, the demand importer).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stations.demand import import_demand_frame
from tests.factories import create_station

DISTRICTS = ("相山区", "杜集区", "烈山区")
# Inside data/regions/huaibei.geojson (116.68–116.92 E, 33.82–34.06 N).
BOX = (33.84, 34.04, 116.70, 116.90)  # min_lat, max_lat, min_lng, max_lng


async def build_demo_city(conn, *, stations: int = 30, demand: int = 3000, seed: int = 7):
    """Active, closed and specialised stations, and weighted demand clustered downtown."""
    rng = np.random.default_rng(seed)
    created = []
    for i in range(stations):
        lat = float(rng.uniform(33.90, 34.00))
        lng = float(rng.uniform(116.74, 116.86))
        status = "closed" if i % 10 == 9 else "active"
        amenities = ["drinking_water", "seating"] + (["restroom"] if i % 3 == 0 else [])
        hours = "24/7" if i % 4 else "Mo-Fr 08:00-18:00"
        created.append(
            await create_station(
                conn,
                lat=lat,
                lng=lng,
                name=f"演示驿站{i + 1}",
                status=status,
                amenities=amenities,
                opening_hours=hours,
                district=DISTRICTS[i % 3],
            )
        )
    centre = np.array([33.955, 116.80])
    n_core = demand * 2 // 3
    core = rng.normal(centre, [0.03, 0.035], size=(n_core, 2))
    rest = np.column_stack(
        [rng.uniform(BOX[0], BOX[1], demand - n_core), rng.uniform(BOX[2], BOX[3], demand - n_core)]
    )
    points = np.vstack([core, rest])
    frame = pd.DataFrame(
        {
            "source_id": [f"p{i}" for i in range(demand)],
            "lat": points[:, 0],
            "lng": points[:, 1],
            "weight": rng.choice([0.5, 1.0, 2.0, 3.5], size=demand),
            "activity": "order_pickup",
        }
    )
    await import_demand_frame(conn, frame, source="demo-orders", actor="test")
    return created
