"""``stations list`` and ``stations show``: the catalog without curl, filtered like the API."""

from __future__ import annotations

import json

from stations.visits import ratings as ratings_domain
from tests.factories import create_member, create_station, run_cli, set_stock


async def test_list_filters_like_the_api_and_prints_a_table_or_json(conn, settings):
    water = await create_station(
        conn,
        name="人民路派水点",
        name_en="Renmin Road Water Point",
        kind="water_point",
        address="淮北市相山区人民路 12 号",
    )
    love = await create_station(conn, name="相山公园爱心驿站", district="烈山区", lat=33.96)
    closed = await create_station(conn, name="关了的驿站", status="closed", lat=33.97)
    await set_stock(conn, water["id"], 12)

    code, out, err = await run_cli(settings, "list")
    assert code == 0, err
    assert "人民路派水点 (Renmin Road Water Point)" in out and "相山公园爱心驿站" in out
    assert "12/12" in out and "关了的驿站" not in out and "2 station(s)" in out

    code, out, err = await run_cli(settings, "list", "-q", "RENMIN", "--json")
    assert code == 0, err
    [found] = json.loads(out)
    assert (found["id"], found["code"]) == (water["id"], water["code"])
    assert found["water_today"]["remaining"] == 12
    assert found["position"] == {"lat": 33.9556, "lng": 116.7983}

    async def ids(*args: str) -> list[int]:
        code, out, err = await run_cli(settings, "list", "--json", *args)
        assert code == 0, err
        return [i["id"] for i in json.loads(out)]

    assert await ids("--kind", "water_point") == [water["id"]]
    assert await ids("--status", "closed") == [closed["id"]]
    assert await ids("--district", "烈山区") == [love["id"]]
    assert await ids("--bbox", "116.79,33.95,116.81,33.961") == [water["id"], love["id"]]
    assert await ids("--limit", "1") == [water["id"]]
    assert await ids("--after", str(water["id"])) == [love["id"]]

    code, out, err = await run_cli(settings, "list", "--limit", "1")
    assert f"more after id {water['id']}: add --after {water['id']}" in out
    code, out, err = await run_cli(settings, "list", "--kind", "toilet")
    assert code == 1
    assert err.strip() == (
        "error: kind: unknown kind 'toilet'; allowed values: love_station, water_point"
    )


async def test_show_prints_hours_in_words_open_state_water_and_ratings(conn, settings):
    station = await create_station(
        conn, name="淮海路爱心驿站", opening_hours="Mo-Su 00:00-24:00; Sa off"
    )
    await set_stock(conn, station["id"], 8)
    member_id, _, _ = await create_member(conn, settings)
    await conn.execute(
        "INSERT INTO checkins (member_id, station_id, local_day, h3_cell) "
        "VALUES ($1, $2, current_date, 0)",
        member_id,
        station["id"],
    )
    await ratings_domain.rate(
        conn, member_id=member_id, station_id=station["id"], stars=4, tags=["clean"], comment=None
    )

    code, out, err = await run_cli(settings, "show", station["code"].lower(), "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["name"] == "淮海路爱心驿站" and shown["id"] == station["id"]
    assert shown["water_today"]["remaining"] == 8
    assert shown["rating"]["ratings"] == 1 and shown["rating"]["top_tags"] == ["clean"]
    assert len(shown["hours_next_7_days"]) == 7
    saturday = [d for d in shown["hours_next_7_days"] if d["weekday"] == "Sat"]
    assert saturday and saturday[0]["open"] == [] and not saturday[0]["all_day"]
    assert shown["open"]["is_open"] in (True, False)

    code, out, err = await run_cli(settings, "show", station["code"])
    assert code == 0, err
    assert "淮海路爱心驿站" in out and "8 of 8 bottles left" in out
    assert "4.0 stars from 1" in out and "clean" in out
    assert "周六" in out and "Sat" in out

    code, out, err = await run_cli(settings, "show", "ZZZZZZ")
    assert code == 1 and err.strip() == "error: no station has the code(s) ZZZZZZ"
