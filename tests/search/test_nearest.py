"""Nearest is exact: the API's answer equals a brute-force geodesic reference.

For 1,000 random points on the demo city and on the real Paris sample, with and
without filters, the ids and distances of ``GET /v1/stations/nearest`` must equal
those of pyproj's geodesic over every station (ties by id).
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from stations.catalog.vocab import AMENITY_BITS
from tests.factories import admin_headers
from tests.fixtures.search.app import running_app
from tests.fixtures.search.stations import (
    demo_city,
    insert_stations,
    is_open,
    paris_toilets,
    reference_nearest,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
PARIS = ZoneInfo("Europe/Paris")
INSTANTS = [
    datetime(2026, 7, 15, 14, 0, tzinfo=SHANGHAI),  # a Wednesday afternoon in July
    datetime(2026, 7, 16, 4, 0, tzinfo=SHANGHAI),  # 4 a.m.: the sanitation shift
    datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI),  # National Day (PH off applies)
    datetime(2026, 7, 18, 12, 30, tzinfo=SHANGHAI),  # Saturday lunchtime
]


def _assert_same(answer: dict[str, Any], expected: list[tuple[int, float]], context: Any) -> None:
    got = [(r["id"], r["distance_m"]) for r in answer["results"]]
    assert [g[0] for g in got] == [e[0] for e in expected], context
    for (_, got_d), (_, want_d) in zip(got, expected, strict=True):
        assert got_d == pytest.approx(want_d, abs=0.006), context  # answers round to cm


def _random_filters(rng: random.Random) -> tuple[dict[str, Any], Any]:
    """Query parameters and the matching predicate for the brute force."""
    query: dict[str, Any] = {}
    checks = []
    if rng.random() < 0.3:
        kind = rng.choice(["love_station", "water_point"])
        query["kind"] = kind
        checks.append(lambda r, kind=kind: r["kind"] == kind)
    if rng.random() < 0.5:
        wanted = rng.sample(["drinking_water", "restroom", "seating", "air_conditioning"], 2)
        wanted = wanted[: rng.choice([1, 2])]
        query["amenity"] = wanted
        checks.append(lambda r, wanted=wanted: set(wanted) <= set(r["amenities"]))
    if rng.random() < 0.3:
        query["access"] = "-customers_only"
        checks.append(lambda r: r["access"] != "customers_only")
    if rng.random() < 0.4:
        at = rng.choice(INSTANTS)
        query["open_at"] = at.isoformat()
        checks.append(lambda r, at=at: is_open(r, at))
    if rng.random() < 0.3:
        radius = rng.choice([200.0, 800.0, 3000.0])
        query["radius_m"] = radius
    return query, (lambda r: all(check(r) for check in checks))


async def _compare_many(client, rows, points, *, seed: int, with_filters: bool) -> int:
    rng = random.Random(seed)
    non_empty = 0
    for lat, lng in points:
        k = rng.randint(1, 12)
        query: dict[str, Any] = {"lat": lat, "lng": lng, "k": k}
        keep = None
        if with_filters:
            extra, keep = _random_filters(rng)
            query.update(extra)
        response = await client.get("/v1/stations/nearest", params=query)
        assert response.status_code == 200, response.text
        expected = reference_nearest(rows, lat, lng, k=k, radius_m=query.get("radius_m"), keep=keep)
        _assert_same(response.json(), expected, query)
        non_empty += bool(expected)
    return non_empty


def _points_around(lat: float, lng: float, spread_deg: float, n: int, seed: int):
    rng = np.random.default_rng(seed)
    lats = lat + rng.uniform(-spread_deg, spread_deg, n)
    lngs = lng + rng.uniform(-spread_deg, spread_deg, n)
    return list(zip(lats.round(6).tolist(), lngs.round(6).tolist(), strict=True))


async def test_nearest_equals_brute_force_on_the_demo_city(settings, conn):
    rows = demo_city(2000, seed=11)
    await insert_stations(conn, rows)
    points = _points_around(33.92, 116.82, 0.25, 1000, seed=1)
    async with running_app(settings) as (_, client):
        plain = await _compare_many(client, rows, points[:500], seed=2, with_filters=False)
        filtered = await _compare_many(client, rows, points[500:], seed=3, with_filters=True)
    assert plain == 500
    assert filtered > 300  # most filtered queries still find something


async def test_nearest_equals_brute_force_on_the_paris_sample(settings, conn):
    rows = paris_toilets()
    await insert_stations(conn, rows)
    points = _points_around(48.86, 2.34, 0.12, 1000, seed=4)
    async with running_app(settings) as (_, client):
        await _compare_many(client, rows, points[:400], seed=5, with_filters=False)
        rng = random.Random(6)
        for lat, lng in points[400:]:
            k = rng.randint(1, 8)
            at = rng.choice(
                [
                    datetime(2026, 7, 14, 12, 0, tzinfo=PARIS),  # Bastille Day (a PH in FR)
                    datetime(2026, 7, 15, 23, 30, tzinfo=PARIS),
                    datetime(2026, 1, 10, 7, 45, tzinfo=PARIS),
                ]
            )
            query = {"lat": lat, "lng": lng, "k": k, "open_at": at.isoformat()}
            if rng.random() < 0.5:
                query["amenity"] = "accessible"
            response = await client.get("/v1/stations/nearest", params=query)
            assert response.status_code == 200, response.text

            def keep(r, at=at, query=query):
                wants = query.get("amenity")
                return is_open(r, at) and (wants is None or wants in r["amenities"])

            _assert_same(response.json(), reference_nearest(rows, lat, lng, k=k, keep=keep), query)


async def test_ties_are_broken_by_id(settings, conn):
    rows = demo_city(50, seed=3)
    for row in rows:
        row.update(lat=33.95, lng=116.8, status="active")  # all on one spot
    await insert_stations(conn, rows)
    ids = sorted(r["id"] for r in rows)
    async with running_app(settings) as (_, client):
        body = (await client.get("/v1/stations/nearest?lat=33.96&lng=116.81&k=7")).json()
    assert [r["id"] for r in body["results"]] == ids[:7]
    assert len({r["distance_m"] for r in body["results"]}) == 1


async def test_no_station_within_the_radius_is_an_empty_list(settings, conn):
    await insert_stations(conn, demo_city(100, seed=5))
    async with running_app(settings) as (_, client):
        response = await client.get(
            "/v1/stations/nearest", params={"lat": 31.23, "lng": 121.47, "radius_m": 5000}
        )
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert response.json()["count"] == 0


async def test_very_selective_filters_are_still_exact(settings, conn):
    # Only a handful of stations pass: the search scans instead of growing k forever.
    rows = demo_city(1500, seed=8)
    for n, row in enumerate(rows):
        row["access"] = "key_or_app" if n % 300 == 0 else "open_to_all"
    await insert_stations(conn, rows)
    async with running_app(settings) as (_, client):
        for lat, lng in _points_around(33.9, 116.8, 0.5, 40, seed=9):
            response = await client.get(
                "/v1/stations/nearest",
                params={"lat": lat, "lng": lng, "k": 3, "access": "key_or_app"},
            )
            expected = reference_nearest(
                rows, lat, lng, k=3, keep=lambda r: r["access"] == "key_or_app"
            )
            _assert_same(response.json(), expected, (lat, lng))


async def test_min_rating_excludes_stations_without_ratings(settings, conn):
    await insert_stations(conn, demo_city(100, seed=2))
    async with running_app(settings) as (_, client):
        response = await client.get("/v1/stations/nearest?lat=33.95&lng=116.8&min_rating=1")
        assert response.status_code == 200
        assert response.json()["results"] == []
        bad = await client.get("/v1/stations/nearest?lat=33.95&lng=116.8&min_rating=6")
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("min_rating:")


async def test_batch_answers_equal_single_answers_in_order(settings, conn):
    rows = demo_city(1500, seed=21)
    await insert_stations(conn, rows)
    points = _points_around(33.92, 116.82, 0.2, 300, seed=22)
    async with running_app(settings) as (_, client):
        for body_filters, keep in [
            ({}, None),
            (
                {"amenity": ["drinking_water"], "open_at": INSTANTS[1].isoformat()},
                lambda r: "drinking_water" in r["amenities"] and is_open(r, INSTANTS[1]),
            ),
            ({"kind": ["water_point"], "radius_m": 1500}, lambda r: r["kind"] == "water_point"),
        ]:
            response = await client.post(
                "/v1/stations/nearest:batch",
                headers=admin_headers(settings),
                json={"points": [{"lat": a, "lng": b} for a, b in points], "k": 4, **body_filters},
            )
            assert response.status_code == 200, response.text
            answers = response.json()["answers"]
            assert len(answers) == len(points)
            for (lat, lng), answer in zip(points, answers, strict=True):
                expected = reference_nearest(
                    rows, lat, lng, k=4, radius_m=body_filters.get("radius_m"), keep=keep
                )
                _assert_same({"results": answer}, expected, (lat, lng, body_filters))


def test_amenity_bits_fit_the_index_mask():
    # The index keeps amenities as a bit mask in an int64.
    assert max(AMENITY_BITS.values()) < 2**62


async def test_a_catalog_of_one_station_answers_nearest(conn, settings):
    from tests.factories import create_station
    from tests.fixtures.search.app import running_app

    only = await create_station(conn, name="唯一的驿站")
    async with running_app(settings) as (_, client):
        response = await client.get("/v1/stations/nearest", params={"lat": 34.0, "lng": 116.8})
        filtered = await client.get(
            "/v1/stations/nearest", params={"lat": 34.0, "lng": 116.8, "k": 1, "radius_m": 100}
        )
    assert response.status_code == 200, response.text
    assert [s["id"] for s in response.json()["results"]] == [only["id"]]
    assert filtered.json()["results"] == []
