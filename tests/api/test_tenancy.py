"""Union branches: administrators and planners see and change only what is under theirs.

Two cities (淮北 3406, 西安 6101) and a province above one of them (安徽 34). Every
administrator and planner endpoint that names a record (a station, its stock, its
claims, its review, its QR code and poster, a campaign, a coverage region) answers 403
``outside_branch`` to the other city's staff and works for the city's own and for the
province's; lists (campaigns, review queue, accounts, branches) hold only what is
under the caller's branch, filtered in SQL. Members and operators of other stations
are refused as before. The settings' administrator token is the national root.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from stations.people import accounts, branches
from stations.visits import ratings
from tests.factories import (
    HUAIBEI_CENTRE,
    bearer,
    claim_at,
    create_branches,
    create_campaign,
    create_member,
    create_member_with_token,
    create_staff,
    create_station,
    handover_proof,
    run_cli,
    set_stock,
)

LAT, LNG = HUAIBEI_CENTRE
XIAN = (34.2610, 108.9420)


@pytest.fixture
async def world(conn, settings, client):
    await create_branches(
        conn, ("34", "安徽省总工会"), ("3406", "淮北市总工会"), ("6101", "西安市总工会")
    )
    huaibei = await create_station(
        conn, name="相山公园派水点", kind="water_point", district_code="340603"
    )
    xian = await create_station(
        conn,
        name="雁塔派水点",
        kind="water_point",
        district="雁塔区",
        district_code="610113",
        lat=XIAN[0],
        lng=XIAN[1],
    )
    campaign = await create_campaign(conn, [huaibei["id"]], branch="3406", name="淮北送清凉")
    await create_campaign(conn, [xian["id"]], branch="6101", name="西安送清凉")
    await set_stock(conn, huaibei["id"], 10)
    _, member = await create_member_with_token(conn, settings)
    claim = await claim_at(client, huaibei, member, settings)
    assert claim.status_code == 201, claim.text
    tokens = SimpleNamespace(
        national=settings.security.admin_token.get_secret_value(),
        province=await create_staff(conn, role="admin", branch="34", name="省总管理员"),
        city=await create_staff(conn, role="admin", branch="3406", name="淮北管理员"),
        other=await create_staff(conn, role="admin", branch="6101", name="西安管理员"),
        planner=await create_staff(conn, role="planner", branch="3406", name="淮北规划"),
        other_planner=await create_staff(conn, role="planner", branch="6101", name="西安规划"),
        operator=await create_staff(conn, station_ids=[huaibei["id"]], name="相山公园"),
        other_operator=await create_staff(conn, station_ids=[xian["id"]], name="雁塔"),
        member=member,
    )
    return SimpleNamespace(
        huaibei=huaibei,
        xian=xian,
        campaign=campaign,
        claim=claim.json()["claim_code"],
        proof=await handover_proof(conn, claim.json()["claim_code"]),
        tokens=tokens,
    )


def station_requests(w) -> list[tuple[str, str, dict | None]]:
    """Every administrator endpoint that names 淮北's station (or its claim)."""
    sid = w.huaibei["id"]
    return [
        ("PATCH", f"/v1/stations/{sid}", {"contact": "0561-00001234"}),
        ("POST", f"/v1/stations/{sid}:close", {"reason": "检修"}),
        ("POST", f"/v1/stations/{sid}:reopen", {"reason": "检修完毕"}),
        ("GET", f"/v1/stations/{sid}/stock", None),
        ("PUT", f"/v1/stations/{sid}/stock", {"allocated": 12}),
        ("POST", f"/v1/stations/{sid}/stock/top-up", {"count": 1}),
        ("PUT", f"/v1/stations/{sid}/stock/default", {"daily_allocation": 30}),
        ("GET", f"/v1/stations/{sid}/today", None),
        ("GET", f"/v1/stations/{sid}/qr.svg", None),
        ("GET", f"/v1/stations/{sid}/qr.png", None),
        ("GET", f"/v1/stations/{sid}/poster.pdf", None),
        ("GET", f"/v1/claims?station_id={sid}", None),
        ("POST", f"/v1/review-queue/{sid}/reviewed", {"note": "已核实"}),
        ("POST", f"/v1/claims/{w.claim}/handover", w.proof),
    ]


def campaign_requests(w) -> list[tuple[str, str, dict | None]]:
    cid = w.campaign["id"]
    return [
        ("GET", f"/v1/campaigns/{cid}", None),
        ("PATCH", f"/v1/campaigns/{cid}", {"daily_allocation": 40}),
        ("POST", f"/v1/campaigns/{cid}/stations", {"add": [w.huaibei["id"]]}),
        ("GET", f"/v1/campaigns/{cid}/report?group=day,occupation", None),
        ("GET", f"/v1/campaigns/{cid}/report?format=xlsx", None),
        ("GET", f"/v1/campaigns/{cid}/stations", None),
    ]


async def send(client, token, method, path, body):
    return await client.request(method, path, json=body, headers=bearer(token))


async def test_another_branchs_administrator_is_refused_everywhere(client, conn, world):
    before = await conn.fetchval("SELECT count(*) FROM station_history")
    for method, path, body in station_requests(world) + campaign_requests(world):
        response = await send(client, world.tokens.other, method, path, body)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "outside_branch", (method, path)
        assert response.json()["branch"] == "6101"
    # Nothing was written on the way to the refusals.
    assert await conn.fetchval("SELECT count(*) FROM station_history") == before
    assert await conn.fetchval("SELECT allocated FROM water_stock") == 10
    assert await conn.fetchval("SELECT count(*) FROM water_defaults") == 0
    assert await conn.fetchval("SELECT handed_over_at FROM claims") is None
    assert (
        await conn.fetchval(
            "SELECT daily_allocation FROM campaigns WHERE id = $1", world.campaign["id"]
        )
        is None
    )


@pytest.mark.parametrize("who", ["city", "province", "national"])
async def test_the_branchs_own_and_higher_administrators_reach_it(client, conn, world, who):
    token = getattr(world.tokens, who)
    for method, path, body in station_requests(world) + campaign_requests(world):
        response = await send(client, token, method, path, body)
        assert response.status_code in (200, 201), (who, method, path, response.text)


async def test_members_and_other_operators_are_refused(client, world):
    for method, path, body in station_requests(world):
        for token in (world.tokens.member, world.tokens.other_operator):
            if token == world.tokens.member and path.startswith("/v1/claims?"):
                continue  # a member's GET /v1/claims lists their own claims, whatever else
            response = await send(client, token, method, path, body)
            assert response.status_code == 403, (method, path)
            assert response.json()["code"] in ("role_required", "not_station_operator")
    for method, path, body in campaign_requests(world):
        response = await send(client, world.tokens.member, method, path, body)
        assert response.status_code == 403 and response.json()["code"] == "role_required"


async def test_a_new_station_must_be_in_the_administrators_branch(client, conn, world):
    body = {"name": "淮北新驿站", "kind": "love_station", "lat": LAT + 0.01, "lng": LNG}
    outside = await send(
        client, world.tokens.other, "POST", "/v1/stations", {**body, "district_code": "340603"}
    )
    assert outside.status_code == 403 and outside.json()["district_code"] == "340603"
    none = await send(client, world.tokens.city, "POST", "/v1/stations", body)
    assert none.status_code == 403 and none.json()["code"] == "outside_branch"
    inside = await send(
        client, world.tokens.city, "POST", "/v1/stations", {**body, "district_code": "340603"}
    )
    assert inside.status_code == 201, inside.text
    # Nor may a station be moved out of the branch by its district code.
    moved = await send(
        client,
        world.tokens.city,
        "PATCH",
        f"/v1/stations/{world.huaibei['id']}",
        {"district_code": "610113"},
    )
    assert moved.status_code == 403 and moved.json()["district_code"] == "610113"


async def test_campaigns_take_only_stations_of_their_branch(client, conn, world):
    body = {
        "name": "跨市活动",
        "starts_on": "2026-06-01",
        "ends_on": "2026-09-30",
        "station_ids": [world.huaibei["id"], world.xian["id"]],
    }
    mixed = await send(client, world.tokens.city, "POST", "/v1/campaigns", body)
    assert mixed.status_code == 403 and mixed.json()["station_ids"] == [world.xian["id"]]
    assert await conn.fetchval("SELECT count(*) FROM campaigns WHERE name = '跨市活动'") == 0
    every = await send(
        client,
        world.tokens.city,
        "POST",
        "/v1/campaigns",
        {**body, "station_ids": [], "all_water_stations": True},
    )
    assert every.status_code == 201 and every.json()["stations"] == 1
    assert every.json()["branch"] == "3406"
    added = await send(
        client,
        world.tokens.city,
        "POST",
        f"/v1/campaigns/{world.campaign['id']}/stations",
        {"add": [world.xian["id"]]},
    )
    assert added.status_code == 403 and added.json()["station_ids"] == [world.xian["id"]]


async def test_lists_hold_only_what_is_under_the_callers_branch(client, conn, world):
    async def names(token, path, key="name"):
        response = await client.get(path, headers=bearer(token))
        assert response.status_code == 200, (path, response.text)
        return sorted(item[key] for item in response.json())

    assert await names(world.tokens.city, "/v1/campaigns") == ["淮北送清凉"]
    assert await names(world.tokens.other, "/v1/campaigns") == ["西安送清凉"]
    assert await names(world.tokens.province, "/v1/campaigns") == ["淮北送清凉"]
    assert await names(world.tokens.national, "/v1/campaigns") == ["淮北送清凉", "西安送清凉"]
    assert await names(world.tokens.operator, "/v1/campaigns") == ["淮北送清凉"]

    assert await names(world.tokens.city, "/v1/branches", "code") == ["3406"]
    assert await names(world.tokens.province, "/v1/branches", "code") == ["34", "3406"]
    assert await names(world.tokens.other_planner, "/v1/branches", "code") == ["6101"]
    assert await names(world.tokens.national, "/v1/branches", "code") == ["34", "3406", "6101"]

    city_accounts = await names(world.tokens.city, "/v1/accounts")
    assert city_accounts == sorted(["淮北管理员", "淮北规划", "相山公园"])
    province_accounts = await names(world.tokens.province, "/v1/accounts")
    assert province_accounts == sorted(["省总管理员", "淮北管理员", "淮北规划", "相山公园"])
    assert "淮北管理员" not in await names(world.tokens.other, "/v1/accounts")
    planner = await client.get("/v1/accounts", headers=bearer(world.tokens.planner))
    assert planner.status_code == 403


async def test_the_review_queue_is_filtered_by_branch_in_sql(conn, settings, world):
    for station in (world.huaibei, world.xian):
        for _ in range(3):
            member_id, _, _ = await create_member(conn, settings)
            await conn.execute(
                """INSERT INTO ratings (member_id, station_id, local_day, stars, tags,
                                        visit_kind, visited_at, visit_verified)
                   VALUES ($1, $2, current_date, 1, '{no_water}', 'claim', now(), true)""",
                member_id,
                station["id"],
            )
    everything = await ratings.review_queue(conn, station_ids=None)
    assert len(everything) == 2
    for branch, expected in (("3406", world.huaibei), ("6101", world.xian), ("34", world.huaibei)):
        queue = await ratings.review_queue(conn, station_ids=None, branch=branch)
        assert [q["station_id"] for q in queue] == [expected["id"]]


async def test_coverage_regions_must_lie_within_the_planners_branch(client, conn, world):
    own = {"district": "相山区", "res": 7}
    other = {"district": "雁塔区", "res": 7}
    box = {"bbox": f"{LNG - 0.02},{LAT - 0.02},{LNG + 0.02},{LAT + 0.02}", "res": 7}
    for path in ("/v1/coverage/summary", "/v1/coverage/cells", "/maps/coverage"):
        for token, params in ((world.tokens.planner, own), (world.tokens.planner, box)):
            response = await client.get(path, params=params, headers=bearer(token))
            assert response.status_code == 200, (path, params, response.text)
        for token, params in (
            (world.tokens.planner, other),
            (world.tokens.other_planner, own),
            (world.tokens.other_planner, box),
            (world.tokens.other, box),
        ):
            response = await client.get(path, params=params, headers=bearer(token))
            assert response.status_code == 403, (path, params)
            assert response.json()["code"] == "outside_branch"
    # The province's planner-administrator and the national root reach both cities.
    for token in (world.tokens.province, world.tokens.national):
        response = await client.get("/v1/coverage/summary", params=own, headers=bearer(token))
        assert response.status_code == 200


async def test_branches_and_branch_accounts_from_the_cli(settings, conn):
    code, out, err = await run_cli(settings, "branches", "add", "34", "安徽省总工会")
    assert code == 0, err
    code, out, err = await run_cli(settings, "branches", "add", "3406", "淮北市总工会")
    assert code == 0 and "city branch 3406" in out
    code, out, err = await run_cli(settings, "branches", "add", "340", "坏代码")
    assert code == 1 and "not a branch code" in err
    code, out, err = await run_cli(settings, "branches", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].strip().startswith("34 ") and lines[2].startswith("    3406 ")
    code, out, err = await run_cli(
        settings, "accounts", "add", "淮北管理员", "--role", "admin", "--branch", "3406"
    )
    assert code == 0, err
    assert (await accounts.get_account(conn, name="淮北管理员"))["branch"] == "3406"
    code, out, err = await run_cli(
        settings, "accounts", "add", "无名", "--role", "planner", "--branch", "3499"
    )
    assert code == 1 and "no union branch has the code 3499" in err
    assert [b["code"] for b in await branches.list_branches(conn, under="34")] == ["34", "3406"]


async def test_members_belong_to_a_branch_by_their_district(conn, settings):
    from stations.people import members

    rows = [
        {
            "member_no": "HB1",
            "phone": "13900000001",
            "occupation": "快递员",
            "district_code": "340603",
        },
        {"member_no": "HB2", "phone": "13900000002", "occupation": "快递员", "district_code": ""},
        {
            "member_no": "HB3",
            "phone": "13900000003",
            "occupation": "快递员",
            "district_code": "相山",
        },
    ]
    report = await members.import_members(conn, rows=rows, security=settings.security)
    assert [r.action for r in report.rows] == ["created", "created", "rejected"]
    stored = dict(await conn.fetch("SELECT member_no, district_code FROM members ORDER BY 1"))
    assert stored == {"HB1": "340603", "HB2": None}
    # Under the city's branch by the same predicate as stations; none: the national root's.
    under = await conn.fetchval(
        "SELECT array_agg(member_no ORDER BY member_no) FROM members"
        " WHERE in_branch(district_code, '3406')"
    )
    assert under == ["HB1"]
    assert (
        await conn.fetchval("SELECT count(*) FROM members WHERE in_branch(district_code, NULL)")
        == 2
    )


async def test_campaign_station_choices_hold_only_the_branchs_stations(client, world):
    city = await send(client, world.tokens.city, "GET", "/v1/campaign-stations", None)
    assert city.status_code == 200, city.text
    ids = [s["id"] for d in city.json()["districts"] for s in d["stations"]]
    assert ids == [world.huaibei["id"]]
    assert city.json()["districts"][0]["district_code"] == "340603"
    national = await send(client, world.tokens.national, "GET", "/v1/campaign-stations", None)
    every = {s["id"] for d in national.json()["districts"] for s in d["stations"]}
    assert every == {world.huaibei["id"], world.xian["id"]}
    for token in (world.tokens.member, world.tokens.operator, world.tokens.planner):
        refused = await send(client, token, "GET", "/v1/campaign-stations", None)
        assert refused.status_code == 403 and refused.json()["code"] == "role_required"
