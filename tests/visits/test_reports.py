"""Campaign reports: totals equal the claims table after a concurrent run, in JSON,
CSV and XLSX; branch-scoped; formula-safe cells."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from stations.catalog.vocab import OCCUPATIONS
from stations.tables import Table, csv_bytes, safe_cell, xlsx_bytes
from stations.visits.campaigns import PrizeSpec
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
    set_stock,
)

LAT, LNG = HUAIBEI_CENTRE
TRADES = ["courier", "food_delivery", "sanitation", "ride_hailing", "truck_driver"]


async def backfill_claim(conn, *, member_id, station_id, campaign_id, day, handed_over=False):
    """A claim of an earlier day, as claim_water_batch stores one (the report reads the
    table; the concurrent run below makes today's claims through the API)."""
    await conn.execute(
        """
        INSERT INTO claims (member_id, station_id, campaign_id, local_day, slot, daily_quota,
                            idempotency_key, h3_cell, handed_over_at, handed_over_by)
        VALUES ($1, $2, $3, $4, 1, 1, $5, 0, $6, $7)
        """,
        member_id,
        station_id,
        campaign_id,
        day,
        str(uuid.uuid4()),
        None if not handed_over else day,
        None if not handed_over else "operator:test",
    )


@pytest.fixture
async def run(conn, settings, client):
    """Three stations in two districts of 淮北, a campaign that began three days ago with
    a prize pool, 24 members of five trades, two earlier days of claims and a concurrent
    run of today's claims (one station runs dry)."""
    await create_branches(conn, ("3406", "淮北市总工会"), ("6101", "西安市总工会"))
    park = await create_station(
        conn, name="相山公园派水点", kind="water_point", district_code="340603"
    )
    lake = await create_station(
        conn,
        name='=HYPERLINK("http://x")南湖',
        kind="water_point",
        district="杜集区",
        district_code="340602",
        lat=LAT + 0.001,
    )
    quiet = await create_station(
        conn,
        name="烈山派水点",
        kind="water_point",
        district="烈山区",
        district_code="340604",
        lat=LAT - 0.001,
    )
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the stations' local day
    campaign = await create_campaign(
        conn,
        [park["id"], lake["id"], quiet["id"]],
        branch="3406",
        name="淮北送清凉",
        starts_on=today - timedelta(days=3),
        ends_on=today + timedelta(days=30),
        prizes=[PrizeSpec("夏日礼包", 5, 0.5)],
    )
    await set_stock(conn, park["id"], 100)
    await set_stock(conn, lake["id"], 6)  # runs out in the concurrent run
    members = []
    for n in range(24):
        member_id, token = await create_member_with_token(
            conn, settings, occupation=TRADES[n % len(TRADES)]
        )
        members.append((member_id, token))
    for n, (member_id, _) in enumerate(members[:10]):
        await backfill_claim(
            conn,
            member_id=member_id,
            station_id=park["id"] if n % 2 else quiet["id"],
            campaign_id=campaign["id"],
            day=today - timedelta(days=2 + n % 2),
            handed_over=n % 3 == 0,
        )
    responses = await asyncio.gather(
        *(
            claim_at(client, park if n % 3 == 0 else lake, token, settings)
            for n, (_, token) in enumerate(members)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) >= 10 and set(statuses) <= {201, 409}, statuses
    # Members' ratings: in the range, and one before the campaign (not counted).
    for n, (station, stars, tags, days_ago) in enumerate(
        [
            (park, 5, [], 0),
            (park, 4, ["clean"], 1),
            (lake, 2, ["no_water"], 0),
            (lake, 1, ["no_water", "closed_when_listed_open"], 1),
            (quiet, 3, ["closed_when_listed_open"], 2),
            (quiet, 1, ["no_water"], 10),
        ]
    ):
        await conn.execute(
            "INSERT INTO ratings (member_id, station_id, local_day, stars, tags, visit_kind,"
            " visited_at) VALUES ($1, $2, $3, $4, $5, 'claim', now())",
            members[n][0],
            station["id"],
            today - timedelta(days=days_ago),
            stars,
            tags,
        )
    admin = await create_staff(conn, role="admin", branch="3406", name="淮北管理员")
    return SimpleNamespace(
        park=park, lake=lake, quiet=quiet, campaign=campaign, admin=admin, today=today
    )


async def report(client, run, **params):
    return await client.get(
        f"/v1/campaigns/{run.campaign['id']}/report",
        params=params,
        headers=bearer(run.admin),
    )


async def test_report_totals_equal_an_independent_count_of_the_claims(client, conn, run):
    cid = run.campaign["id"]
    answer = await report(client, run, group="day,station,district,occupation", silent_days=2)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["from"] == (run.today - timedelta(days=3)).isoformat()

    expected = await conn.fetchrow(
        "SELECT count(*) AS claims, count(DISTINCT member_id) AS members, "
        "count(handed_over_at) AS handed_over, count(prize_pool_id) AS prizes "
        "FROM claims WHERE campaign_id = $1",
        cid,
    )
    totals = body["totals"]
    assert totals["claims"] == expected["claims"] > 10
    assert totals["members"] == expected["members"]
    assert totals["handed_over"] == expected["handed_over"] > 0
    assert totals["prizes"] == expected["prizes"]
    today_count = await conn.fetchval(
        "SELECT count(*) FROM claims WHERE campaign_id = $1 AND local_day = $2", cid, run.today
    )
    assert totals["claims_today"] == today_count > 0

    by_day = {
        r["local_day"].isoformat(): (r["claims"], r["members"])
        for r in await conn.fetch(
            "SELECT local_day, count(*) AS claims, count(DISTINCT member_id) AS members "
            "FROM claims WHERE campaign_id = $1 GROUP BY local_day",
            cid,
        )
    }
    days = body["groups"]["day"]
    assert [d["day"] for d in days] == [
        (run.today - timedelta(days=k)).isoformat() for k in (3, 2, 1, 0)
    ]
    assert {d["day"]: (d["claims"], d["members"]) for d in days if d["claims"]} == by_day
    assert sum(d["claims"] for d in days) == totals["claims"]

    by_trade = {
        r["occupation"]: (r["claims"], r["members"])
        for r in await conn.fetch(
            "SELECT m.occupation, count(*) AS claims, count(DISTINCT c.member_id) AS members "
            "FROM claims c JOIN members m ON m.id = c.member_id WHERE c.campaign_id = $1 "
            "GROUP BY m.occupation",
            cid,
        )
    }
    trades = body["groups"]["occupation"]
    assert [t["occupation"] for t in trades] == list(OCCUPATIONS)  # every trade, in order
    assert {t["occupation"]: (t["claims"], t["members"]) for t in trades if t["claims"]} == by_trade
    assert trades[0]["label_zh"] == "快递员"

    by_station = {
        r["station_id"]: r["claims"]
        for r in await conn.fetch(
            "SELECT station_id, count(*) AS claims FROM claims WHERE campaign_id = $1 "
            "GROUP BY station_id",
            cid,
        )
    }
    assert {s["station_id"]: s["claims"] for s in body["groups"]["station"] if s["claims"]} == (
        by_station
    )
    districts = {d["district_code"]: d for d in body["groups"]["district"]}
    assert set(districts) == {"340602", "340603", "340604"}
    assert districts["340602"]["claims"] == by_station[run.lake["id"]]
    assert sum(d["claims"] for d in districts.values()) == totals["claims"]

    # The lake station ran dry today; the quiet one has had no claim since its backfill.
    assert [s["station_id"] for s in body["stock_out"]] == [run.lake["id"]]
    assert body["stock_out"][0]["out_today"] is True
    silent = {s["station_id"]: s for s in body["silent"]}
    assert run.quiet["id"] in silent and run.park["id"] not in silent
    assert silent[run.quiet["id"]]["days_silent"] == 2  # yesterday and today without claims
    (prize,) = body["prizes"]
    assert prize["awarded"] == expected["prizes"] == prize["total"] - prize["remaining"]


async def test_report_range_limits_days_and_counts(client, conn, run):
    day = run.today - timedelta(days=2)
    answer = await report(
        client, run, group="day", **{"from": day.isoformat(), "to": day.isoformat()}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = await conn.fetchval(
        "SELECT count(*) FROM claims WHERE campaign_id = $1 AND local_day = $2",
        run.campaign["id"],
        day,
    )
    assert body["totals"]["claims"] == expected > 0
    assert [d["day"] for d in body["groups"]["day"]] == [day.isoformat()]


async def test_report_as_xlsx_reads_back_with_the_same_numbers(client, conn, run):
    json_body = (await report(client, run, group="day,occupation,station,district")).json()
    answer = await report(client, run, group="day,occupation,station,district", format="xlsx")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in answer.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == [
        "汇总",
        "按日",
        "按职业",
        "按站点",
        "按区县",
        "奖品",
        "断水站点",
        "无人领取站点",
        "评价与反映",
    ]
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(min_row=2, values_only=True)}
    totals = json_body["totals"]
    assert summary["领取(瓶)"] == totals["claims"]
    assert summary["惠及会员(人)"] == totals["members"]
    assert summary["已确认交付(瓶)"] == totals["handed_over"]
    days = list(book["按日"].iter_rows(values_only=True))
    assert days[0] == ("日期", "领取(瓶)", "已确认交付(瓶)", "惠及会员(人)")
    assert [(r[0].date().isoformat(), r[1], r[3]) for r in days[1:]] == [
        (d["day"], d["claims"], d["members"]) for d in json_body["groups"]["day"]
    ]
    trades = list(book["按职业"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[1], r[3]) for r in trades] == [
        (t["label_zh"], t["claims"], t["members"]) for t in json_body["groups"]["occupation"]
    ]
    # A station name that a spreadsheet would run as a formula is plain text.
    names = [r[1] for r in book["按站点"].iter_rows(min_row=2, values_only=True)]
    assert '\'=HYPERLINK("http://x")南湖' in names
    out = list(book["断水站点"].iter_rows(min_row=2, values_only=True))
    assert out[0][3] == 1 and out[0][5] == "是"


async def test_report_ratings_equal_an_independent_count(client, conn, run):
    body = (await report(client, run)).json()
    expected = await conn.fetch(
        """
        SELECT r.station_id, count(*) AS n, avg(r.stars) AS mean,
               count(*) FILTER (WHERE 'no_water' = ANY (r.tags)) AS no_water,
               count(*) FILTER (WHERE 'closed_when_listed_open' = ANY (r.tags)) AS closed
        FROM ratings r JOIN campaign_stations cs ON cs.station_id = r.station_id
        WHERE cs.campaign_id = $1 AND r.local_day BETWEEN $2 AND $3
        GROUP BY r.station_id
        """,
        run.campaign["id"],
        date.fromisoformat(body["from"]),
        date.fromisoformat(body["to"]),
    )
    got = {r["station_id"]: r for r in body["ratings"]}
    assert (
        set(got)
        == {r["station_id"] for r in expected}
        == {
            run.park["id"],
            run.lake["id"],
            run.quiet["id"],
        }
    )
    for row in expected:
        mine = got[row["station_id"]]
        assert mine["ratings"] == row["n"]
        assert mine["mean_stars"] == pytest.approx(float(row["mean"]), abs=0.005)
        assert (mine["no_water"], mine["closed_when_listed_open"]) == (
            row["no_water"],
            row["closed"],
        )
    # the stations with the most reports that the listing is wrong come first
    assert body["ratings"][0]["station_id"] == run.lake["id"]
    assert got[run.quiet["id"]]["ratings"] == 1  # its rating before the campaign is left out


async def test_report_as_csv_in_english_holds_the_group_tables(client, run):
    answer = await client.get(
        f"/v1/campaigns/{run.campaign['id']}/report?group=station&lang=en",
        headers=bearer(run.admin) | {"Accept": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    text = answer.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "Station code",
        "Station",
        "District",
        "Claims (bottles)",
        "Handed over (bottles)",
        "Members reached",
        "Last claim",
    ]
    lake = next(r for r in rows[1:] if r[0] == run.lake["code"])
    assert lake[1].startswith("'=")
    json_body = (await report(client, run, group="station")).json()
    assert sum(int(r[3]) for r in rows[1:]) == json_body["totals"]["claims"]


async def test_report_is_refused_outside_the_branch_and_to_other_roles(client, conn, run, settings):
    other = await create_staff(conn, role="admin", branch="6101", name="西安管理员")
    operator = await create_staff(conn, station_ids=[run.park["id"]], name="相山公园")
    planner_other = await create_staff(conn, role="planner", branch="6101", name="西安规划")
    _, member = await create_member_with_token(conn, settings)
    path = f"/v1/campaigns/{run.campaign['id']}/report"
    refused = await client.get(path, headers=bearer(other))
    assert refused.status_code == 403 and refused.json()["code"] == "outside_branch"
    for token in (operator, member, planner_other):
        for fmt in ("json", "xlsx"):
            answer = await client.get(path, params={"format": fmt}, headers=bearer(token))
            assert answer.status_code == 403 and answer.json()["code"] == "role_required"
    national = settings.security.admin_token.get_secret_value()
    assert (await client.get(path, headers=bearer(national))).status_code == 200
    missing = await client.get("/v1/campaigns/999999/report", headers=bearer(run.admin))
    assert missing.status_code == 404 and missing.json()["code"] == "campaign_not_found"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group": "week"}, "group"),
        ({"group": ","}, "group"),
        ({"from": "2026-07-10", "to": "2026-07-01"}, "to"),
        ({"from": "2000-01-01", "to": "2026-07-01"}, "to"),
        ({"silent_days": "0"}, "silent_days"),
        ({"format": "pdf"}, "format"),
    ],
)
async def test_bad_report_parameters_are_422_naming_the_field(client, run, params, field):
    answer = await report(client, run, **params)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_parameter"
    assert answer.json()["field"] == field


def test_cells_that_start_a_formula_are_written_as_text():
    for text in ("=1+1", "+86 139", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert safe_cell(text) == "'" + text
    for value in ("相山公园", "", 5, -3, 2.5, None, date(2026, 7, 1)):
        assert safe_cell(value) == value
    table = Table("t", ["name", "n"], [["=cmd|' /C calc'!A0", -3]])
    rows = list(csv.reader(io.StringIO(csv_bytes([table]).decode("utf-8-sig"))))
    assert rows == [["name", "n"], ["'=cmd|' /C calc'!A0", "-3"]]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes([table])))["t"]
    assert sheet["A2"].value == "'=cmd|' /C calc'!A0" and sheet["A2"].data_type == "s"
    assert sheet["B2"].value == -3


async def test_members_of_no_claim_make_no_row(conn, settings):
    """Members who never claimed appear nowhere; trades without claims show zeros."""
    from stations.visits import reports

    station = await create_station(conn, kind="water_point")
    campaign = await create_campaign(conn, [station["id"]])
    await create_member(conn, settings, occupation="courier")
    body = await reports.campaign_report(
        conn, campaign_id=campaign["id"], groups=["occupation", "station"]
    )
    assert body["totals"]["claims"] == 0 and body["totals"]["members"] == 0
    assert all(t["claims"] == 0 for t in body["groups"]["occupation"])
    assert [s["station_id"] for s in body["groups"]["station"]] == [station["id"]]
