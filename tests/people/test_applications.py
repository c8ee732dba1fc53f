"""Membership applications in the domain, under concurrency: one open application per
phone however many arrive at once, and one decision however many administrators press
at once (the database decides: a partial unique index and a row lock)."""

from __future__ import annotations

import asyncio

from stations.errors import Conflict
from stations.people import applications

PHONE = "13912345678"


def application(**changes):
    values = {
        "name": "王小明",
        "phone": PHONE,
        "occupation": "courier",
        "employer": None,
        "district_code": "340603",
    }
    values.update(changes)
    return applications.parse(**values)


async def submit(pool, settings, address: str, **changes):
    async with pool.acquire() as conn:
        return await applications.submit(
            conn, application=application(**changes), address=address, security=settings.security
        )


async def test_applications_from_one_phone_at_once_make_one_open_application(pool, conn, settings):
    answers = await asyncio.gather(
        *(submit(pool, settings, f"10.0.0.{i}", employer=f"站点{i}") for i in range(8))
    )
    assert len({a["reference"] for a in answers}) == 1
    assert sorted(a["merged"] for a in answers) == [False] + [True] * 7
    row = await conn.fetchrow(
        "SELECT count(*) OVER () AS n, submissions FROM membership_applications"
    )
    assert (row["n"], row["submissions"]) == (1, 8)


async def test_two_administrators_deciding_at_once_make_one_decision(pool, conn, settings):
    await submit(pool, settings, "10.0.0.1")
    item_id = await conn.fetchval("SELECT id FROM membership_applications")

    async def approve():
        async with pool.acquire() as c:
            return await applications.approve(
                c,
                application_id=item_id,
                branch="3406",
                actor="admin:a",
                security=settings.security,
            )

    async def decline():
        async with pool.acquire() as c:
            return await applications.decline(
                c, application_id=item_id, branch="34", reason="重复申请", actor="admin:b"
            )

    results = await asyncio.gather(approve(), decline(), approve(), return_exceptions=True)
    decided = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(decided) == 1 and len(refused) == 2, results
    assert all(r.code == "application_decided" for r in refused)
    members = await conn.fetchval("SELECT count(*) FROM members")
    assert members == (1 if decided[0]["status"] == "approved" else 0)


async def test_a_new_application_after_a_decision_is_a_new_one(pool, conn, settings):
    first = await submit(pool, settings, "10.0.0.1")
    item_id = await conn.fetchval("SELECT id FROM membership_applications")
    await applications.decline(
        conn, application_id=item_id, branch=None, reason="请补充单位", actor="admin"
    )
    second = await submit(pool, settings, "10.0.0.1", employer="美团")
    assert second["reference"] != first["reference"] and second["merged"] is False
    rows = await conn.fetch("SELECT status FROM membership_applications ORDER BY id")
    assert [r["status"] for r in rows] == ["declined", "open"]


async def test_applications_nobody_decided_expire_with_their_phone(pool, conn, settings):
    from tests.factories import run_cli

    await submit(pool, settings, "10.0.0.1")
    await submit(pool, settings, "10.0.0.2", phone="13912340002")
    await conn.execute(
        "UPDATE membership_applications SET updated_at = now() - interval '91 days'"
        " WHERE callback_phone = $1",
        PHONE,
    )
    code, out, err = await run_cli(settings, "members", "expire-applications", "--days", "90")
    assert code == 0, err
    assert "closed 1 open applications older than 90 days" in out
    rows = await conn.fetch(
        "SELECT status, callback_phone, decline_reason, decided_by FROM membership_applications"
        " ORDER BY id"
    )
    assert [(r["status"], r["callback_phone"], r["decided_by"]) for r in rows] == [
        ("declined", None, "expiry"),
        ("open", "13912340002", None),
    ]
    assert "超过 90 天没有处理" in rows[0]["decline_reason"]
