"""The member list: CSV import, keyed phone hashes, sign-in, suspension."""

from __future__ import annotations

from pathlib import Path

import pytest

from stations.errors import InvalidInput
from stations.importer import ROW_NUMBERING
from stations.people import members
from stations.settings import SecuritySettings
from tests.factories import bearer, create_member, run_cli

CSV_EN = """member_no,phone,name,occupation,employer
HB000101,138 0013 8000,张三,food_delivery,美团
HB000102,+86 139-0000-0002,,快递员,顺丰
HB000103,13900000003,李四,环卫工人,
"""


def rows_of(text: str) -> list[dict[str, str]]:
    return members.read_table(text.encode("utf-8"))


async def test_import_creates_members_with_keyed_phone_hash_only(conn, settings):
    report = await members.import_members(conn, rows=rows_of(CSV_EN), security=settings.security)
    assert report.counts == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 0}
    row = await conn.fetchrow("SELECT * FROM members WHERE member_no = 'HB000102'")
    assert row["occupation"] == "courier"
    assert row["employer"] == "顺丰"
    assert row["status"] == "active"
    assert bytes(row["phone_hash"]) == members.phone_hash("13900000002", settings.security)
    everything = str([dict(r) for r in await conn.fetch("SELECT * FROM members")])
    assert "13900000002" not in everything and "0002" not in everything.replace("HB", "")


async def test_phone_hash_depends_on_the_server_key():
    one = SecuritySettings(pii_hash_key="key-one")
    two = SecuritySettings(pii_hash_key="key-two")
    assert members.phone_hash("13800138000", one) != members.phone_hash("13800138000", two)
    assert members.phone_hash("+86 138-0013-8000", one) == members.phone_hash("13800138000", one)


async def test_import_twice_changes_nothing(conn, settings):
    await members.import_members(conn, rows=rows_of(CSV_EN), security=settings.security)
    before = await conn.fetch("SELECT member_no, updated_at FROM members ORDER BY member_no")
    again = await members.import_members(conn, rows=rows_of(CSV_EN), security=settings.security)
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 3, "rejected": 0}
    after = await conn.fetch("SELECT member_no, updated_at FROM members ORDER BY member_no")
    assert before == after


async def test_import_reports_updates_by_field_and_rejects_bad_rows(conn, settings):
    await members.import_members(conn, rows=rows_of(CSV_EN), security=settings.security)
    changed = """member_no,phone,occupation,employer,status
HB000101,13800138000,food_delivery,饿了么,
HB000102,13911112222,courier,顺丰,暂停
HB000104,12345,courier,,
HB000105,13900000005,astronaut,,
HB000103,13900000003,sanitation,,
HB000103,13900000003,sanitation,,
"""
    report = await members.import_members(conn, rows=rows_of(changed), security=settings.security)
    by_row = {r.row: r for r in report.rows}
    # records count from 1 (the header is not counted), as in station imports
    assert report.row_numbering == ROW_NUMBERING
    assert (by_row[1].action, by_row[1].changed) == ("updated", ["employer"])
    assert (by_row[2].action, by_row[2].changed) == ("updated", ["phone", "status"])
    assert by_row[3].action == "rejected"
    assert by_row[3].problems == [
        "phone: not a phone number; send the 11-digit mobile number, e.g. 13800138000"
    ]
    assert by_row[4].problems[0].startswith("occupation: 'astronaut' is not known; use one of")
    assert by_row[5].action == "unchanged"
    assert by_row[6].problems == ["member_no HB000103 already appears on row 5"]
    assert report.counts == {"created": 0, "updated": 2, "unchanged": 1, "rejected": 3}
    status = await conn.fetchval("SELECT status FROM members WHERE member_no = 'HB000102'")
    assert status == "suspended"


async def test_import_reads_gbk_with_chinese_headers(conn, settings):
    text = "会员号,手机号,姓名,职业,所属平台,状态\nHB000201,13800000201,王五,外卖骑手,美团,正常\n"
    rows = members.read_table(text.encode("gb18030"))
    report = await members.import_members(conn, rows=rows, security=settings.security)
    assert report.counts["created"] == 1
    row = await conn.fetchrow("SELECT name, occupation, employer FROM members")
    assert tuple(row) == ("王五", "food_delivery", "美团")


def test_file_without_required_columns_is_refused():
    with pytest.raises(InvalidInput, match="the member file has no column for: phone"):
        members.read_table(b"member_no,occupation\nHB1,courier\n")


async def test_cli_imports_a_file_and_prints_counts(tmp_path: Path, settings, conn):
    path = tmp_path / "members.csv"
    path.write_text(CSV_EN, encoding="utf-8")
    report = tmp_path / "report.csv"
    code, out, err = await run_cli(
        settings, "members", "import", str(path), "--report", str(report)
    )
    assert code == 0, err
    assert out.strip() == "3 created, 0 updated, 0 unchanged, 0 rejected"
    assert report.read_text(encoding="utf-8").splitlines()[1] == "1,HB000101,created,,"
    assert "13800138000" not in out + err + report.read_text(encoding="utf-8")
    assert await conn.fetchval("SELECT count(*) FROM members") == 3


# --- sign-in ------------------------------------------------------------------------------


async def test_member_signs_in_with_number_and_phone(client, conn, settings):
    _, number, phone = await create_member(conn, settings)
    response = await client.post(
        "/v1/auth/member", json={"member_no": number, "phone": f"+86 {phone}"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token"].startswith("ls_")
    assert body["member"]["member_no"] == number
    me = await client.get("/v1/auth/me", headers=bearer(body["token"]))
    assert me.json() == {"role": "member", "subject": f"member:{number}", "station_ids": []}
    stored = await conn.fetchval("SELECT token_hash FROM api_tokens")
    assert body["token"].encode() not in bytes(stored)


@pytest.mark.parametrize("change", ["phone", "number"])
async def test_sign_in_with_wrong_phone_or_unknown_number_is_401(client, conn, settings, change):
    _, number, phone = await create_member(conn, settings)
    body = {"member_no": number, "phone": phone}
    body["phone" if change == "phone" else "member_no"] = (
        "13999999999" if change == "phone" else "XX999"
    )
    response = await client.post("/v1/auth/member", json=body)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "member number and phone do not match a union member; check both, "
        "or ask your union branch to check your registration",
        "code": "sign_in_failed",
    }


async def test_suspended_member_cannot_sign_in_and_the_refusal_hides_the_phone(
    client, conn, settings
):
    _, number, phone = await create_member(conn, settings, status="suspended")
    right = await client.post("/v1/auth/member", json={"member_no": number, "phone": phone})
    wrong = await client.post("/v1/auth/member", json={"member_no": number, "phone": "13900000999"})
    # The same answer whether the phone was right or not: it must not confirm a guess.
    assert right.status_code == wrong.status_code == 401
    assert right.json() == wrong.json()
    assert right.json()["code"] == "sign_in_failed"
    assert await conn.fetchval("SELECT count(*) FROM api_tokens") == 0


async def test_logout_revokes_the_token_at_once(client, conn, settings):
    _, number, phone = await create_member(conn, settings)
    token = (
        await client.post("/v1/auth/member", json={"member_no": number, "phone": phone})
    ).json()["token"]
    assert (await client.get("/v1/auth/me", headers=bearer(token))).status_code == 200
    assert (await client.post("/v1/auth/logout", headers=bearer(token))).status_code == 204
    after = await client.get("/v1/auth/me", headers=bearer(token))
    assert after.status_code == 401


async def test_suspend_and_reinstate_by_member_number(conn, settings):
    _, number, _ = await create_member(conn, settings)
    await members.set_status(conn, member_no=number, status=members.MemberStatus.SUSPENDED)
    assert await conn.fetchval("SELECT status FROM members") == "suspended"
    await members.set_status(conn, member_no=number, status=members.MemberStatus.ACTIVE)
    assert await conn.fetchval("SELECT status FROM members") == "active"


def test_unreadable_csv_is_refused_with_a_reason():
    huge_field = b'"' + b"x" * 200_000 + b'"'
    with pytest.raises(InvalidInput, match="the member file is not readable CSV at line 2"):
        members.read_table(b"member_no,phone,occupation\nHB1," + huge_field + b",courier\n")


async def test_cli_imports_a_member_list_from_an_excel_sheet(conn, settings, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["2026 年会员名单"])
    sheet = book.create_sheet("会员")
    sheet.append(["会员号", "手机号", "职业", "姓名"])
    sheet.append(["HB100001", 13900100001, "快递员", "张三"])
    sheet.append([])
    sheet.append(["HB100002", "13900100002", "货车司机", "李四"])
    sheet.append(["HB100003", 13900100003, "飞行员", "王五"])
    path = tmp_path / "members.xlsx"
    book.save(path)
    code, out, err = await run_cli(
        settings, "members", "import", str(path), "--sheet", "会员", "--json"
    )
    assert code == 2, (out, err)  # some rows were rejected
    import json

    body = json.loads(out)
    assert body["counts"]["created"] == 2 and body["counts"]["rejected"] == 1
    rejected = [r for r in body["rows"] if r["action"] == "rejected"]
    assert [r["row"] for r in rejected] == [4]  # the blank row keeps its number
    assert await members.sign_in(
        conn, member_no="HB100001", phone="13900100001", security=settings.security
    )
