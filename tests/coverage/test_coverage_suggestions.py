"""Site suggestions: greedy maximal covering against brute force, and on the demo city."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from stations.coverage import bands as bandmod
from stations.coverage import regions
from stations.coverage.analysis import CoverageRequest, analyse_coverage
from stations.coverage.suggestions import (
    GREEDY_BOUND,
    candidates_from_frame,
    greedy_max_cover,
    suggest_sites,
)
from stations.errors import InvalidInput
from tests.fixtures.coverage.demo_city import build_demo_city


def brute_force_optimum(covers, weights, n):
    best = 0
    for combo in itertools.combinations(range(len(covers)), n):
        nodes = np.unique(np.concatenate([covers[j] for j in combo]))
        best = max(best, int(weights[nodes].sum()))
    return best


def covered_by(picks, covers, weights):
    nodes = np.unique(np.concatenate([covers[j] for j, _ in picks]))
    return int(weights[nodes].sum())


def test_greedy_meets_the_one_minus_one_over_e_bound_against_brute_force():
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(40):
        nodes, cands, n = 14, 9, 3
        weights = rng.integers(1, 20, nodes)
        covers = [np.flatnonzero(rng.random(nodes) < 0.3) for _ in range(cands)]
        picks = greedy_max_cover(covers, weights, n)
        got = covered_by(picks, covers, weights)
        best = brute_force_optimum(covers, weights, n)
        assert got >= GREEDY_BOUND * best
        assert sum(g for _, g in picks) == got  # reported gains add up to the coverage
        hits += got == best
    # Greedy usually finds the optimum on instances this small; say how often.
    print(f"greedy hit the brute-force optimum on {hits}/40 random instances")
    assert hits >= 20


def test_greedy_can_miss_the_optimum_on_the_classic_instance():
    # A covers the middle of two groups; B and C each cover one group entirely.
    weights = np.array([1, 1, 1, 1, 1, 1])
    covers = [np.array([1, 2, 3, 4]), np.array([0, 1, 2]), np.array([3, 4, 5])]
    picks = greedy_max_cover(covers, weights, 2)
    assert [j for j, _ in picks] == [0, 1]
    assert [g for _, g in picks] == [4, 1]
    best = brute_force_optimum(covers, weights, 2)
    assert best == 6
    assert covered_by(picks, covers, weights) / best == pytest.approx(5 / 6)
    assert 1 - 1 / math.e <= 5 / 6


def test_greedy_stops_when_nothing_more_can_be_covered():
    covers = [np.array([0]), np.array([0]), np.array([], dtype=np.int64)]
    assert greedy_max_cover(covers, np.array([5]), 3) == [(0, 5)]


async def test_suggested_sites_raise_coverage_by_their_reported_gains(conn):
    await build_demo_city(conn)
    bands = bandmod.band_set()
    request = CoverageRequest(region=regions.load_city("huaibei"), res=9, bands=bands)
    before = await analyse_coverage(conn, request=request)
    suggestions = suggest_sites(before, n=4)
    sites = suggestions.rows
    assert [s["rank"] for s in sites] == [1, 2, 3, 4]
    gains = [s["gain"] for s in sites]
    assert gains == sorted(gains, reverse=True) and gains[0] > 0

    # Build the suggested stations and measure again: coverage rises by exactly the gains.
    from tests.factories import create_station

    for s in sites:
        await create_station(conn, lat=s["lat"], lng=s["lng"], name=f"建议{s['rank']}")
    after = await analyse_coverage(conn, request=request)
    assert after.covered_demand == pytest.approx(before.covered_demand + sum(gains), abs=1e-6)
    assert suggestions.covered_share_after == pytest.approx(after.covered_share, abs=1e-9)


async def test_uploaded_candidates_in_gcj02_are_ranked(conn):
    await build_demo_city(conn)
    result = await analyse_coverage(
        conn,
        request=CoverageRequest(
            region=regions.load_city("huaibei"), res=9, bands=bandmod.band_set()
        ),
    )
    worst = result.summary("en")["worst_cells"][0]
    from stations.geo.crs import wgs84_to_gcj02

    glat, glng = wgs84_to_gcj02(np.array([worst["lat"], 33.83]), np.array([worst["lng"], 116.69]))
    frame = pd.DataFrame(
        {"id": ["shop-1", "shop-2"], "name": ["便利店", "远郊"], "lat": glat, "lng": glng}
    )
    cands = candidates_from_frame(frame, crs="gcj02")
    assert cands.lat[0] == pytest.approx(worst["lat"], abs=1e-7)
    suggestions = suggest_sites(result, n=2, candidates=cands)
    assert suggestions.rows[0]["id"] == "shop-1"
    assert suggestions.rows[0]["name"] == "便利店"
    assert suggestions.rows[0]["gain"] >= worst["uncovered_demand"]
    assert suggestions.candidate_kind == "uploaded"


def test_candidate_list_without_coordinates_is_refused():
    with pytest.raises(InvalidInput, match="candidates: missing column"):
        candidates_from_frame(pd.DataFrame({"id": ["a"], "lon": [1.0]}))
    with pytest.raises(InvalidInput, match=r"candidates: rows \[2\] have no valid lat/lng"):
        candidates_from_frame(pd.DataFrame({"lat": [33.9, 95.0], "lng": [116.8, 116.8]}))
