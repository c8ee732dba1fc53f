"""Ratings: eligibility, replacement, aggregates, freshness and the review queue."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import pytest

from stations.catalog.vocab import OCCUPATIONS, RATING_TAGS, REVIEW_TAGS, MemberStatus
from stations.visits import presence, ratings
from tests.factories import (
    HUAIBEI_CENTRE,
    bearer,
    claim_at,
    code_for,
    create_campaign,
    create_member_with_token,
    create_staff,
    create_station,
    set_stock,
)

LAT, LNG = HUAIBEI_CENTRE


async def visited_member(client, conn, settings, station, *, present: bool = True) -> str:
    """A member who has just checked in at the station; returns their token.

    ``present``: the check-in carried the station's presence code (a verified visit)."""
    _, token = await create_member_with_token(conn, settings)
    body = {"code": code_for(station, settings), "lat": LAT, "lng": LNG}
    if present:
        shown = presence.current_code(station["code"], security=settings.security)
        body["presence_code"] = shown.code
    response = await client.post("/v1/checkins", json=body, headers=bearer(token))
    assert response.status_code == 201
    assert response.json()["presence_verified"] is present
    return token


async def rate(client, station, token, stars, tags=(), comment=None):
    body = {"stars": stars, "tags": list(tags)}
    if comment is not None:
        body["comment"] = comment
    return await client.post(
        f"/v1/stations/{station['id']}/ratings", json=body, headers=bearer(token)
    )


@pytest.fixture
async def station(conn):
    return await create_station(conn, name="相山公园爱心驿站")


# --- eligibility ----------------------------------------------------------------------


async def test_rating_refused_without_a_visit(client, conn, settings, station):
    _, token = await create_member_with_token(conn, settings)
    response = await rate(client, station, token, 5)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "no_recent_visit: you can rate a station within 24 hours of a visit; "
        "scan its QR code (check in or claim water) first",
        "code": "no_recent_visit",
    }
    assert await conn.fetchval("SELECT count(*) FROM ratings") == 0


async def test_rating_refused_when_the_visit_is_older_than_a_day(client, conn, settings, station):
    token = await visited_member(client, conn, settings, station)
    await conn.execute("UPDATE checkins SET checked_in_at = now() - interval '25 hours'")
    response = await rate(client, station, token, 4)
    assert response.status_code == 403
    assert response.json()["detail"].startswith("no_recent_visit: ")


async def test_visit_at_another_station_does_not_count(client, conn, settings, station):
    other = await create_station(conn)
    token = await visited_member(client, conn, settings, other)
    assert (await rate(client, station, token, 4)).status_code == 403


async def test_a_claim_is_a_visit_too(client, conn, settings):
    water = await create_station(conn, kind="water_point")
    await create_campaign(conn, [water["id"]])
    await set_stock(conn, water["id"], 3)
    _, token = await create_member_with_token(conn, settings)
    claimed = await claim_at(client, water, token, settings)
    assert claimed.status_code == 201
    response = await rate(client, water, token, 5, ["water_available", "friendly"])
    assert response.status_code == 201
    assert response.json()["rating"]["visit"] == "claim"


async def test_suspended_member_cannot_rate(client, conn, settings, station):
    token = await visited_member(client, conn, settings, station)
    await conn.execute("UPDATE members SET status = 'suspended'")
    response = await rate(client, station, token, 3)
    assert response.status_code == 403
    assert response.json()["detail"].startswith("member_suspended: ")
    assert response.json()["code"] == "member_suspended"


# --- what a rating may say -------------------------------------------------------------


async def test_unknown_tag_and_long_comment_are_refused(client, conn, settings, station):
    token = await visited_member(client, conn, settings, station)
    unknown = await rate(client, station, token, 4, ["tasty"])
    assert unknown.status_code == 422
    assert unknown.json() == {
        "detail": f"tags: 'tasty' is not a rating tag; use {', '.join(RATING_TAGS)}",
        "code": "invalid_parameter",
        "field": "tags",
    }
    long = await rate(client, station, token, 4, comment="水" * 281)
    assert long.status_code == 422
    assert long.json() == {
        "detail": "comment: at most 280 characters",
        "code": "invalid_parameter",
        "field": "comment",
    }
    fits = await rate(client, station, token, 4, comment="水" * 280)
    assert fits.status_code == 201
    stars = await rate(client, station, token, 6)
    assert stars.json() == {
        "detail": "stars: Input should be less than or equal to 5",
        "code": "invalid_parameter",
        "field": "stars",
    }


# --- aggregates -----------------------------------------------------------------------


async def test_summary_counts_mean_bayesian_score_and_tags(client, conn, settings, station):
    first = await visited_member(client, conn, settings, station)
    second = await visited_member(client, conn, settings, station)
    await rate(client, station, first, 5, ["clean", "friendly"])
    response = await rate(client, station, second, 4, ["clean", "crowded", "clean"])
    summary = response.json()["summary"]
    # (C·m + Σstars) / (C + n) = (5 × 3.5 + 9) / 7
    expected = round((ratings.PRIOR_WEIGHT * ratings.PRIOR_MEAN + 9) / 7, 3)
    assert summary == {
        "ratings": 2,
        "mean_stars": 4.5,
        "score": float(expected),
        "tag_counts": {"clean": 2, "crowded": 1, "friendly": 1},
    }
    found = await ratings.rating_summaries(conn, [station["id"]])
    assert found[station["id"]].score == float(expected) == 3.786
    assert found[station["id"]].top_tags == ["clean", "crowded", "friendly"]
    public = await client.get(f"/v1/stations/{station['id']}/ratings")
    assert public.json()["ratings"] == 2 and public.json()["freshness"] == 1.0


async def test_second_rating_the_same_day_replaces_the_first(client, conn, settings, station):
    token = await visited_member(client, conn, settings, station)
    first = await rate(client, station, token, 2, ["dirty", "crowded"], comment="人太多")
    assert first.json()["replaced"] is False
    second = await rate(client, station, token, 5, ["clean"])
    assert second.status_code == 201
    assert second.json()["replaced"] is True
    assert second.json()["rating"]["comment"] is None
    assert second.json()["summary"] == {
        "ratings": 1,
        "mean_stars": 5.0,
        "score": float(round((Decimal("17.5") + 5) / 6, 3)),
        "tag_counts": {"clean": 1},
    }
    assert await conn.fetchval("SELECT count(*) FROM ratings") == 1


async def test_aggregates_stay_consistent_under_concurrent_ratings(client, conn, settings, station):
    tokens = [await visited_member(client, conn, settings, station) for _ in range(12)]
    stars = [(i % 5) + 1 for i in range(12)]
    # Every member rates twice at once (the second replaces the first, whichever wins).
    await asyncio.gather(
        *(rate(client, station, t, s, ["clean"]) for t, s in zip(tokens, stars, strict=True)),
        *(rate(client, station, t, s, ["crowded"]) for t, s in zip(tokens, stars, strict=True)),
    )
    row = await conn.fetchrow("SELECT * FROM station_rating_summary")
    truth = await conn.fetchrow(
        "SELECT count(*) AS n, sum(stars) AS total FROM ratings WHERE station_id = $1",
        station["id"],
    )
    assert (row["ratings"], row["stars_sum"]) == (truth["n"], truth["total"]) == (12, sum(stars))
    tag_truth = await conn.fetchval(
        "SELECT jsonb_object_agg(tag, n) FROM (SELECT tag, count(*) n FROM ratings, "
        "unnest(tags) tag GROUP BY tag) t"
    )
    assert row["tag_counts"] == tag_truth
    assert sum(row["tag_counts"].values()) == 12


# --- freshness and the review queue ----------------------------------------------------


async def test_reports_from_several_members_queue_the_station_for_its_operator(
    client, conn, settings, station
):
    other_station = await create_station(conn)
    operator = bearer(await create_staff(conn, station_ids=[station["id"]]))
    stranger = bearer(await create_staff(conn, station_ids=[other_station["id"]]))
    admin = bearer(settings.security.admin_token.get_secret_value())

    first = await visited_member(client, conn, settings, station)
    await rate(client, station, first, 1, ["no_water"])
    assert (await client.get("/v1/review-queue", headers=operator)).json() == []
    summary = (await ratings.rating_summaries(conn, [station["id"]]))[station["id"]]
    assert (summary.reporters, summary.freshness) == (1, 0.5)

    second = await visited_member(client, conn, settings, station)
    await rate(client, station, second, 1, ["closed_when_listed_open", "no_water"])
    queue = (await client.get("/v1/review-queue", headers=operator)).json()
    assert [(q["station_id"], q["reporters"]) for q in queue] == [(station["id"], 2)]
    assert queue[0]["tags"] == {"no_water": 2, "closed_when_listed_open": 1}
    assert queue[0]["freshness"] == 0.25
    assert (await client.get("/v1/review-queue", headers=stranger)).json() == []
    assert len((await client.get("/v1/review-queue", headers=admin)).json()) == 1

    reviewed = await client.post(
        f"/v1/review-queue/{station['id']}/reviewed",
        json={"note": "水已补上"},
        headers=operator,
    )
    assert reviewed.status_code == 200
    assert (await client.get("/v1/review-queue", headers=operator)).json() == []
    summary = (await ratings.rating_summaries(conn, [station["id"]]))[station["id"]]
    assert (summary.reporters, summary.freshness) == (0, 1.0)


async def test_a_review_without_a_body_verifies_the_station_in_its_history(
    client, conn, settings, station
):
    operator = await create_staff(conn, station_ids=[station["id"]], name="相山驿站站长")
    for _ in range(2):
        await rate(client, station, await visited_member(client, conn, settings, station), 1, [])
    assert await conn.fetchval("SELECT verified_at FROM stations") is None

    reviewed = await client.post(
        f"/v1/review-queue/{station['id']}/reviewed", headers=bearer(operator)
    )

    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["note"] is None
    verified_at = await conn.fetchval("SELECT verified_at FROM stations")
    assert verified_at is not None
    assert verified_at.isoformat() == reviewed.json()["reviewed_at"].replace("Z", "+00:00")
    history = (
        await client.get(f"/v1/stations/{station['id']}/history", headers=bearer(operator))
    ).json()["items"]
    assert history[0]["action"] == "update"
    assert history[0]["actor"] == "operator:相山驿站站长"
    assert history[0]["reason"] == "reviewed on the review queue"
    assert history[0]["old_values"]["verified_at"] is None
    assert history[0]["new_values"]["verified_at"] is not None
    # Search shows it verified at once (verified_days_ago).
    found = await client.get("/v1/stations/nearest", params={"lat": LAT, "lng": LNG, "k": 1})
    assert found.json()["results"][0]["verified_days_ago"] == 0

    noted = await client.post(
        f"/v1/review-queue/{station['id']}/reviewed",
        json={"note": "水已补上"},
        headers=bearer(operator),
    )
    assert noted.status_code == 200
    history = (await client.get(f"/v1/stations/{station['id']}/history")).json()["items"]
    assert history[0]["reason"] == "reviewed on the review queue: 水已补上"


async def test_reports_from_visits_by_position_alone_put_nothing_on_the_queue(
    client, conn, settings, station
):
    """A check-in without the presence code can be sent from anywhere: its rating is kept,
    its report that the listing is wrong does not queue the station."""
    admin = bearer(settings.security.admin_token.get_secret_value())
    for _ in range(3):
        token = await visited_member(client, conn, settings, station, present=False)
        rated = await rate(client, station, token, 1, ["no_water", "closed_when_listed_open"])
        assert rated.status_code == 201
        assert rated.json()["rating"]["visit_verified"] is False
    assert (await client.get("/v1/review-queue", headers=admin)).json() == []
    summary = (await ratings.rating_summaries(conn, [station["id"]]))[station["id"]]
    assert (summary.ratings, summary.reporters, summary.freshness) == (3, 0, 1.0)
    assert summary.tag_counts == {"closed_when_listed_open": 3, "no_water": 3}

    # Two members whose check-ins carried the station's code: verified, queued.
    for _ in range(2):
        token = await visited_member(client, conn, settings, station)
        rated = await rate(client, station, token, 1, ["no_water"])
        assert rated.json()["rating"]["visit_verified"] is True
    queue = (await client.get("/v1/review-queue", headers=admin)).json()
    assert [(q["station_id"], q["reporters"]) for q in queue] == [(station["id"], 2)]


async def test_a_granted_claim_is_a_verified_visit(client, conn, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 3)
    _, token = await create_member_with_token(conn, settings)
    granted = await claim_at(client, station, token, settings)
    assert granted.status_code == 201, granted.text
    rated = await rate(client, station, token, 2, ["no_water"])
    assert rated.json()["rating"]["visit"] == "claim"
    assert rated.json()["rating"]["visit_verified"] is True


async def test_one_member_reporting_twice_counts_once(client, conn, settings, station):
    token = await visited_member(client, conn, settings, station)
    await rate(client, station, token, 1, ["no_water"])
    await rate(client, station, token, 1, ["no_water", "closed_when_listed_open"])
    admin = bearer(settings.security.admin_token.get_secret_value())
    assert (await client.get("/v1/review-queue", headers=admin)).json() == []


async def test_old_reports_stop_counting(client, conn, settings, station):
    for _ in range(3):
        token = await visited_member(client, conn, settings, station)
        await rate(client, station, token, 1, ["no_water"])
    await conn.execute("UPDATE ratings SET updated_at = now() - interval '4 days'")
    summary = (await ratings.rating_summaries(conn, [station["id"]]))[station["id"]]
    assert summary.freshness == 1.0
    admin = bearer(settings.security.admin_token.get_secret_value())
    assert (await client.get("/v1/review-queue", headers=admin)).json() == []


async def test_station_without_ratings_has_the_prior_score(conn, station):
    summary = (await ratings.rating_summaries(conn, [station["id"]]))[station["id"]]
    assert (summary.ratings, summary.mean_stars, summary.score) == (0, None, 3.5)
    assert summary.tag_counts == {} and summary.top_tags == []


async def _check_values(conn, table: str, column: str) -> set[str]:
    definition = await conn.fetchval(
        """
        SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
        WHERE c.conrelid = $1::regclass AND c.contype = 'c'
          AND pg_get_constraintdef(c.oid) LIKE '%(' || $2 || ' %'
        """,
        table,
        column,
    )
    assert definition, f"no CHECK constraint found for {table}.{column}"
    return set(re.findall(r"'([a-z_]+)'::text", definition))


async def test_vocabularies_match_the_database(conn):
    assert await _check_values(conn, "ratings", "tags") == set(RATING_TAGS)
    assert await _check_values(conn, "members", "occupation") == set(OCCUPATIONS)
    assert await _check_values(conn, "members", "status") == {s.value for s in MemberStatus}
    assert set(RATING_TAGS) >= REVIEW_TAGS
    for zh, en in [*RATING_TAGS.values(), *OCCUPATIONS.values()]:
        assert zh and en
