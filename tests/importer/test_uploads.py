"""Excel files and console uploads: read as typed, dry run with the per-row report,
confirmed once, all good rows or none, within the administrator's union branch."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from api.main import create_app
from stations.importer import import_file
from stations.settings import StaffSettings
from tests.factories import (
    HUAIBEI_CENTRE,
    bearer,
    create_branches,
    create_member_with_token,
    create_staff,
    create_station,
)

LAT, LNG = HUAIBEI_CENTRE
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = [
    "source_id",
    "name",
    "kind",
    "lat",
    "lng",
    "district_code",
    "opening_hours",
    "verified_at",
]


def workbook(rows: list[list], *, header=HEADER, title: str = "驿站", before: int = 0) -> bytes:
    """An .xlsx as a union office sends it: a title sheet first when ``title`` is not the
    first, ``before`` empty rows above the header, cells typed by openpyxl."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for _ in range(before):
        sheet.append([])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


STATION_ROWS = [
    [1939, "相山公园派水点", "water_point", LAT, LNG, 340603, "24/7", datetime(2026, 6, 1, 9, 30)],
    [1940, "", "water_point", LAT + 0.01, LNG, "340603", "24/7", None],  # no name
    [1941, "南湖驿站", "love_station", 95.0, LNG, "340603", "24/7", None],  # latitude
    [1942, "西安驿站", "love_station", LAT + 0.02, LNG, "610113", "24/7", None],  # branch
    [1943, "烈山驿站", "love_station", LAT - 0.01, LNG, "340604", "Mo-Fr 08:00-18:00", None],
]


@pytest.fixture
async def admins(conn):
    await create_branches(conn, ("3406", "淮北市总工会"), ("6101", "西安市总工会"))
    return (
        await create_staff(conn, role="admin", branch="3406", name="淮北管理员"),
        await create_staff(conn, role="admin", branch="6101", name="西安管理员"),
    )


async def send(client, token, content: bytes, filename: str, **fields):
    return await client.post(
        "/v1/uploads",
        files={"file": (filename, content, XLSX)},
        data={"kind": "stations", **fields},
        headers=bearer(token),
    )


async def test_an_xlsx_station_file_is_read_with_its_types(conn, tmp_path):
    path = tmp_path / "stations.xlsx"
    path.write_bytes(workbook([STATION_ROWS[0], STATION_ROWS[4]], before=2))
    report = await import_file(conn, path, source="union-list")
    assert (report.created, report.rejected) == (2, 0)
    row = await conn.fetchrow(
        "SELECT source_id, district_code, verified_at FROM stations WHERE name = '相山公园派水点'"
    )
    assert row["source_id"] == "1939"  # a whole number stays one: never "1939.0"
    assert row["district_code"] == "340603"
    assert row["verified_at"].isoformat() == "2026-06-01T01:30:00+00:00"  # 09:30 in Shanghai
    assert any("spreadsheet row 3" in n for n in report.notes)


async def test_a_named_sheet_is_read_and_a_missing_one_named(conn, tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["本表由淮北市总工会整理"])
    sheet = book.create_sheet("站点")
    sheet.append(HEADER)
    sheet.append(STATION_ROWS[0])
    path = tmp_path / "two-sheets.xlsx"
    book.save(path)
    report = await import_file(conn, path, source="sheets", sheet="站点")
    assert report.created == 1
    with pytest.raises(Exception) as missing:
        await import_file(conn, path, source="sheets", sheet="表三")
    assert "说明, 站点" in str(missing.value.detail)


async def test_an_old_xls_or_broken_file_is_a_clear_refusal(conn, tmp_path):
    path = tmp_path / "old.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)  # an OLE2 .xls
    with pytest.raises(Exception) as refused:
        await import_file(conn, path, source="old")
    assert refused.value.code == "invalid_parameter"
    assert "save" in refused.value.detail and ".xlsx" in refused.value.detail


async def test_upload_dry_run_report_then_confirm_imports_the_good_rows(client, conn, admins):
    city, _ = admins
    content = workbook(STATION_ROWS)
    answer = await send(client, city, content, "淮北站点.xlsx", source="hb-union")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    dry = body["dry_run"]
    assert dry["counts"]["read"] == 5 and dry["counts"]["rejected"] == 3
    assert dry["counts"]["created"] == 2
    by_row = {(p["row"], p["field"], p["code"]) for p in dry["problems"]}
    assert any(r == 2 and f == "name" for r, f, _ in by_row)
    assert any(r == 3 and f in ("lat", "position") for r, f, _ in by_row)
    assert (4, "district_code", "outside_branch") in by_row
    assert dry["totals_by_code"]["outside_branch"] == 1
    assert "CSV header" in dry["row_numbering"]
    assert await conn.fetchval("SELECT count(*) FROM stations") == 0  # a dry run

    problems = await client.get(f"/v1/uploads/{body['id']}/problems.csv", headers=bearer(city))
    assert problems.status_code == 200
    rows = list(csv.reader(io.StringIO(problems.content.decode("utf-8-sig"))))
    assert rows[0] == ["row", "field", "code", "reason", "value", "severity"]
    assert {r[0] for r in rows[1:]} == {"2", "3", "4"}

    confirmed = await client.post(f"/v1/uploads/{body['id']}/confirm", headers=bearer(city))
    assert confirmed.status_code == 200, confirmed.text
    result = confirmed.json()["result"]
    assert result["counts"]["created"] == 2 and result["counts"]["rejected"] == 3
    names = {r["name"] for r in await conn.fetch("SELECT name FROM stations")}
    assert names == {"相山公园派水点", "烈山驿站"}
    assert await conn.fetchval("SELECT source_id FROM stations WHERE name = '烈山驿站'") == "1943"

    again = await client.post(f"/v1/uploads/{body['id']}/confirm", headers=bearer(city))
    assert again.status_code == 409 and again.json()["code"] == "upload_confirmed"
    assert await conn.fetchval("SELECT count(*) FROM stations") == 2


async def test_an_upload_is_its_branchs_only(client, conn, admins, settings):
    city, other = admins
    body = (await send(client, city, workbook(STATION_ROWS[:1]), "a.xlsx")).json()
    operator_station = await create_station(conn, district_code="340603")
    operator = await create_staff(conn, station_ids=[operator_station["id"]])
    _, member = await create_member_with_token(conn, settings)
    for path in (f"/v1/uploads/{body['id']}", f"/v1/uploads/{body['id']}/problems.csv"):
        refused = await client.get(path, headers=bearer(other))
        assert refused.status_code == 403 and refused.json()["code"] == "outside_branch"
    confirm = await client.post(f"/v1/uploads/{body['id']}/confirm", headers=bearer(other))
    assert confirm.status_code == 403 and confirm.json()["code"] == "outside_branch"
    for token in (operator, member):
        refused = await send(client, token, workbook(STATION_ROWS[:1]), "a.xlsx")
        assert refused.status_code == 403 and refused.json()["code"] == "role_required"
    assert await conn.fetchval("SELECT count(*) FROM uploads") == 1
    missing = await client.get(
        "/v1/uploads/00000000-0000-0000-0000-000000000000", headers=bearer(city)
    )
    assert missing.status_code == 404 and missing.json()["code"] == "upload_not_found"
    garbled = await client.get("/v1/uploads/not-a-uuid", headers=bearer(city))
    assert garbled.status_code == 404


async def test_a_source_of_another_branch_is_refused(client, conn, admins):
    city, _ = admins
    await create_station(conn, district_code="610113", source="shared")
    answer = await send(client, city, workbook(STATION_ROWS[:1]), "a.xlsx", source="shared")
    assert answer.status_code == 403 and answer.json()["code"] == "outside_branch"
    assert await conn.fetchval("SELECT count(*) FROM uploads") == 0


async def test_a_file_over_the_limit_is_413_and_kept_nowhere(conn, settings, admins):
    import httpx

    city, _ = admins
    small = settings.model_copy(update={"staff": StaffSettings(upload_max_mb=0.01)})
    app = create_app(small)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            big = workbook(
                [
                    [n, f"驿站{n}", "love_station", LAT, LNG, "340603", "24/7", None]
                    for n in range(2000)
                ]
            )
            assert len(big) > 0.01 * 1024 * 1024
            answer = await send(client, city, big, "big.xlsx")
    assert answer.status_code == 413
    assert answer.json()["code"] == "body_too_large"
    assert answer.json()["limit_bytes"] == int(0.01 * 1024 * 1024)
    assert await conn.fetchval("SELECT count(*) FROM uploads") == 0


@pytest.mark.parametrize(
    ("fields", "filename", "field"),
    [
        ({"kind": "trains"}, "a.xlsx", "kind"),
        ({}, "a.pdf", "file"),
        ({"sheet": "没有这张表"}, "a.xlsx", "sheet"),
    ],
)
async def test_bad_uploads_are_422_naming_the_field(client, conn, admins, fields, filename, field):
    city, _ = admins
    answer = await send(client, city, workbook(STATION_ROWS[:1]), filename, **fields)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert await conn.fetchval("SELECT count(*) FROM uploads") == 0


async def test_a_member_list_in_excel_keeps_phone_numbers_and_branch(client, conn, admins):
    city, _ = admins
    content = workbook(
        [
            ["HB000001", 13900000001, "快递员", "张三", "340603"],
            ["HB000002", 13900000002, "外卖骑手", "李四", "610113"],  # another branch
            ["HB000003", "139000", "环卫工人", "王五", "340602"],  # not a phone number
            ["HB000004", 13900000004, "环卫工人", "赵六", 340602],
        ],
        header=["会员号", "手机号", "职业", "姓名", "区县代码"],
        title="会员名单",
    )
    answer = await client.post(
        "/v1/uploads",
        files={"file": ("会员.xlsx", content, XLSX)},
        data={"kind": "members"},
        headers=bearer(city),
    )
    assert answer.status_code == 201, answer.text
    dry = answer.json()["dry_run"]
    assert dry["counts"] == {
        "read": 4,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 2,
        "warnings": 0,
    }
    rejected = {p["row"]: p for p in dry["problems"]}
    assert set(rejected) == {2, 3}
    assert rejected[3]["field"] == "phone" and "139000" not in rejected[3]["reason"]
    assert await conn.fetchval("SELECT count(*) FROM members") == 0
    confirmed = await client.post(
        f"/v1/uploads/{answer.json()['id']}/confirm", headers=bearer(city)
    )
    assert confirmed.status_code == 200, confirmed.text
    rows = await conn.fetch("SELECT member_no, occupation, district_code FROM members ORDER BY 1")
    assert [tuple(r) for r in rows] == [
        ("HB000001", "courier", "340603"),
        ("HB000004", "sanitation", "340602"),
    ]
    # The member can sign in with the phone number that Excel held as a number.
    signed = await client.post(
        "/v1/auth/member", json={"member_no": "HB000001", "phone": "13900000001"}
    )
    assert signed.status_code == 201, signed.text


def test_sheet_rows_number_records_under_the_header(tmp_path: Path):
    from stations.tables import read_xlsx

    content = workbook([["a", 1.5], [None, None], ["c", 3.0]], header=["name", "n"], before=1)
    found = read_xlsx(content)
    assert found.header == ["name", "n"] and found.header_row == 2
    assert list(found.records) == [(1, ["a", 1.5]), (3, ["c", 3])]
