"""Staff sign-in for the console: the cookie, CSRF, expiry, sign-out, throttling, passwords.

The session cookie is HttpOnly, SameSite=Strict and Secure over TLS; it resolves to the
same principal a bearer token does. A change made with the cookie needs the session's
CSRF token; programs with bearer tokens never do. Idle and absolute expiry end a
session with ``session_expired``. Failed attempts are throttled in PostgreSQL, so two
app instances (two workers) see the same count; a password link works once.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
import pytest

from api.main import create_app
from stations.people import passwords
from stations.settings import StaffSettings
from tests.factories import (
    bearer,
    create_member_with_token,
    create_staff,
    create_station,
    run_cli,
    staff_session,
)

PASSWORD = "correct horse battery"


@asynccontextmanager
async def app_client(settings, *, base_url: str = "http://testserver", **staff):
    """A client of its own app (as a second server worker would be)."""
    tuned = settings.model_copy(update={"staff": StaffSettings(**staff)}) if staff else settings
    app = create_app(tuned)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            yield http


@pytest.fixture
async def operator(conn):
    station = await create_station(conn, kind="water_point", name="人民路派水点")
    token = await create_staff(
        conn, name="人民路派水点", station_ids=[station["id"]], password=PASSWORD
    )
    return station, token


async def test_sign_in_sets_a_strict_httponly_cookie_and_answers_the_session(client, operator):
    station, _ = operator
    response = await client.post(
        "/v1/auth/staff", json={"name": "人民路派水点", "password": PASSWORD}
    )

    assert response.status_code == 201, response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("ls_staff=lss_")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    body = response.json()
    assert body["role"] == "operator" and body["name"] == "人民路派水点"
    assert [s["code"] for s in body["stations"]] == [station["code"]]
    assert body["branch"] == {"code": None, "name": None, "level": "national"}
    again = await client.get("/v1/auth/staff")
    assert again.status_code == 200 and again.json()["csrf_token"] == body["csrf_token"]


async def test_over_tls_the_cookie_is_secure(settings, operator):
    async with app_client(settings, base_url="https://testserver") as http:
        response = await http.post(
            "/v1/auth/staff", json={"name": "人民路派水点", "password": PASSWORD}
        )
    assert response.status_code == 201
    assert "Secure" in response.headers["set-cookie"]


async def test_a_change_with_the_cookie_needs_the_csrf_token(client, conn, operator):
    station, token = operator
    csrf = await staff_session(client, "人民路派水点", PASSWORD)
    path = f"/v1/stations/{station['id']}/stock"

    refused = await client.put(path, json={"allocated": 30})
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    forged = await client.put(path, json={"allocated": 30}, headers={"X-CSRF-Token": "x" * 43})
    assert forged.status_code == 403 and forged.json()["code"] == "csrf_failed"
    assert await conn.fetchval("SELECT count(*) FROM water_stock") == 0  # nothing written

    assert (await client.get(path)).status_code == 200  # reading needs no token
    done = await client.put(path, json={"allocated": 30}, headers=csrf)
    assert done.status_code == 200 and done.json()["allocated"] == 30

    # Programs with a bearer token never send one (and a cookie-less client has none).
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as bare:
        program = await bare.put(path, json={"allocated": 31}, headers=bearer(token))
    assert program.status_code == 200 and program.json()["allocated"] == 31


async def test_a_bearer_token_wins_over_the_cookie(client, conn, operator):
    await staff_session(client, "人民路派水点", PASSWORD)
    _, member = await create_member_with_token(conn, client._transport.app.state.settings)
    response = await client.get("/v1/auth/me", headers=bearer(member))
    assert response.json()["role"] == "member"


async def test_idle_and_absolute_expiry_end_the_session(client, conn, operator):
    station, _ = operator
    await staff_session(client, "人民路派水点", PASSWORD)
    today = f"/v1/stations/{station['id']}/today"
    assert (await client.get(today)).status_code == 200

    await conn.execute("UPDATE staff_sessions SET last_seen_at = now() - interval '31 minutes'")
    idle = await client.get(today)
    assert idle.status_code == 401 and idle.json()["code"] == "session_expired"
    assert idle.headers["www-authenticate"] == "Bearer"

    await staff_session(client, "人民路派水点", PASSWORD)
    assert (await client.get(today)).status_code == 200
    await conn.execute(
        "UPDATE staff_sessions SET created_at = now() - interval '13 hours',"
        " expires_at = now() - interval '1 hour' WHERE revoked_at IS NULL"
    )
    old = await client.get(today)
    assert old.status_code == 401 and old.json()["code"] == "session_expired"


async def test_a_request_keeps_an_idle_session_alive(client, conn, operator):
    station, _ = operator
    await staff_session(client, "人民路派水点", PASSWORD)
    await conn.execute("UPDATE staff_sessions SET last_seen_at = now() - interval '29 minutes'")
    assert (await client.get(f"/v1/stations/{station['id']}/today")).status_code == 200
    seen = await conn.fetchval("SELECT now() - last_seen_at FROM staff_sessions")
    assert seen.total_seconds() < 5


async def test_sign_out_ends_the_session_everywhere(settings, client, conn, operator):
    csrf = await staff_session(client, "人民路派水点", PASSWORD)
    cookie = client.cookies.get("ls_staff")

    response = await client.post("/v1/auth/staff/logout", headers=csrf)

    assert response.status_code == 204
    assert 'ls_staff=""' in response.headers["set-cookie"]  # the browser forgets it
    async with app_client(settings) as other_worker:
        other_worker.cookies.set("ls_staff", cookie)
        after = await other_worker.get("/v1/auth/staff")
    assert after.status_code == 401 and after.json()["code"] == "session_expired"


async def test_wrong_passwords_unknown_names_and_no_password_fail_alike(client, conn, operator):
    await create_staff(conn, name="没有密码的账号")
    for name, password in (
        ("人民路派水点", "wrong password here"),
        ("没有这个人", PASSWORD),
        ("没有密码的账号", PASSWORD),
    ):
        response = await client.post("/v1/auth/staff", json={"name": name, "password": password})
        assert response.status_code == 401, name
        assert response.json()["code"] == "sign_in_failed"
        assert "set-cookie" not in response.headers


async def test_attempts_are_throttled_across_workers_then_locked(settings, conn, operator):
    tuning = {"attempts_free": 2, "attempts_lockout": 5, "lockout_minutes": 10}
    wrong = {"name": "人民路派水点", "password": "not the password"}
    async with app_client(settings, **tuning) as first, app_client(settings, **tuning) as second:
        workers = [first, second]
        for attempt in range(2):  # free attempts, one per worker
            response = await workers[attempt % 2].post("/v1/auth/staff", json=wrong)
            assert response.status_code == 401
        third = await first.post("/v1/auth/staff", json=wrong)
        assert third.status_code == 401  # counted: now it must wait a second
        waited = await second.post("/v1/auth/staff", json={**wrong, "password": PASSWORD})
        assert waited.status_code == 429, waited.text
        assert waited.json()["code"] == "too_many_attempts"
        assert waited.headers["retry-after"] == str(waited.json()["retry_after_s"])
        assert 1 <= waited.json()["retry_after_s"] <= 2

        # Past the wait, two more failures reach the lockout: ten minutes, even for the
        # right password, on either worker.
        for worker in workers:
            await conn.execute("UPDATE throttles SET blocked_until = now()")
            assert (await worker.post("/v1/auth/staff", json=wrong)).status_code == 401
        for worker in workers:
            locked = await worker.post(
                "/v1/auth/staff", json={"name": "人民路派水点", "password": PASSWORD}
            )
            assert locked.status_code == 429
            assert 590 <= int(locked.headers["retry-after"]) <= 600
    # Names and addresses are kept only as keyed hashes.
    kinds = await conn.fetch("SELECT kind, key_hash FROM throttles ORDER BY kind")
    assert [r["kind"] for r in kinds] == ["staff_address", "staff_name"]
    assert all(len(r["key_hash"]) == 32 for r in kinds)


async def test_one_address_guessing_many_names_is_throttled(settings, conn, operator):
    tuning = {"address_attempts_free": 3, "address_attempts_lockout": 50}
    async with app_client(settings, **tuning) as http:
        answers = [
            (await http.post("/v1/auth/staff", json={"name": f"guess{n}", "password": "x" * 12}))
            for n in range(5)
        ]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]


async def test_a_good_sign_in_forgets_the_names_streak(settings, conn, operator):
    tuning = {"attempts_free": 2, "attempts_lockout": 50}
    wrong = {"name": "人民路派水点", "password": "not the password"}
    right = {"name": "人民路派水点", "password": PASSWORD}
    async with app_client(settings, **tuning) as http:
        for _ in range(2):
            assert (await http.post("/v1/auth/staff", json=wrong)).status_code == 401
        assert (await http.post("/v1/auth/staff", json=right)).status_code == 201
        for _ in range(2):  # free again
            assert (await http.post("/v1/auth/staff", json=wrong)).status_code == 401


async def test_a_password_link_works_once_and_keeps_a_refused_password_out(client, conn):
    await create_staff(conn, role="admin", name="市总管理员")
    token, _ = await passwords.create_link(conn, name="市总管理员", hours=72)
    url = passwords.link_url("https://stations.example.cn", token)
    assert url == f"https://stations.example.cn/staff/#/set-password?token={token}"

    short = await client.post("/v1/auth/staff/password", json={"token": token, "password": "short"})
    assert short.status_code == 422 and short.json()["field"] == "password"
    done = await client.post("/v1/auth/staff/password", json={"token": token, "password": PASSWORD})
    assert done.status_code == 200 and done.json() == {"name": "市总管理员", "role": "admin"}
    again = await client.post(
        "/v1/auth/staff/password", json={"token": token, "password": "another password 2"}
    )
    assert again.status_code == 404 and again.json()["code"] == "password_link_invalid"
    assert (
        await client.post("/v1/auth/staff", json={"name": "市总管理员", "password": PASSWORD})
    ).status_code == 201


async def test_an_expired_or_replaced_link_is_refused(client, conn):
    await create_staff(conn, role="planner", name="规划员")
    old, _ = await passwords.create_link(conn, name="规划员", hours=72)
    new, _ = await passwords.create_link(conn, name="规划员", hours=72)
    replaced = await client.post(
        "/v1/auth/staff/password", json={"token": old, "password": PASSWORD}
    )
    assert replaced.json()["code"] == "password_link_invalid"
    await conn.execute(
        "UPDATE password_links"
        " SET expires_at = now() - interval '1 s', created_at = now() - interval '1 day'"
    )
    expired = await client.post(
        "/v1/auth/staff/password", json={"token": new, "password": PASSWORD}
    )
    assert expired.status_code == 404 and expired.json()["code"] == "password_link_invalid"


async def test_changing_the_password_ends_the_other_sessions(settings, client, conn, operator):
    async with app_client(settings) as phone:
        await staff_session(phone, "人民路派水点", PASSWORD)
        csrf = await staff_session(client, "人民路派水点", PASSWORD)
        wrong = await client.put(
            "/v1/auth/staff/password",
            json={"current_password": "not it at all", "new_password": "a new long password"},
            headers=csrf,
        )
        assert wrong.status_code == 401 and wrong.json()["code"] == "sign_in_failed"
        changed = await client.put(
            "/v1/auth/staff/password",
            json={"current_password": PASSWORD, "new_password": "a new long password"},
            headers=csrf,
        )
        assert changed.status_code == 200, changed.text
        assert (await client.get("/v1/auth/staff")).status_code == 200  # its new session
        ended = await phone.get("/v1/auth/staff")
        assert ended.json()["code"] == "session_expired"


async def test_members_and_tokens_have_no_console_session(client, conn, settings, operator):
    _, member = await create_member_with_token(conn, settings)
    assert (await client.get("/v1/auth/staff", headers=bearer(member))).status_code == 401
    station, operator_token = operator
    today = await client.get(f"/v1/stations/{station['id']}/today", headers=bearer(member))
    assert today.status_code == 403 and today.json()["code"] == "role_required"
    # A member cannot sign in to the console with their member number.
    refused = await client.post("/v1/auth/staff", json={"name": "HB000001", "password": PASSWORD})
    assert refused.json()["code"] == "sign_in_failed"
    assert (await client.get("/v1/auth/staff", headers=bearer(operator_token))).status_code == 401


async def test_cli_sets_passwords_and_prints_a_one_time_link(settings, conn):
    await create_staff(conn, role="admin", name="first-admin")
    code, out, err = await run_cli(settings, "accounts", "invite", "first-admin", "--hours", "2")
    assert code == 0, err
    link = next(line for line in out.splitlines() if "/staff/#/set-password?token=lsp_" in line)
    assert link.startswith(settings.api.public_base_url)

    code, out, err = await run_cli(
        settings, "accounts", "passwd", "first-admin", "--stdin", stdin=f"{PASSWORD}\n"
    )
    assert code == 0, err
    assert await passwords.check(conn, name="first-admin", password=PASSWORD) is not None
    code, out, err = await run_cli(
        settings, "accounts", "passwd", "first-admin", "--stdin", stdin="short\n"
    )
    assert code == 1 and "at least 10 characters" in err
