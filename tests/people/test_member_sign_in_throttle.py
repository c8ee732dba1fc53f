"""Member sign-in cannot be brute-forced: throttled per member number and per address.

Guessing a phone for one member number gets a few answers, then ``429`` with
``Retry-After`` without the phone being compared; spreading the guesses over many
addresses locks the number all the same (the count lives in PostgreSQL, shared by
every worker). Once the wait is over the right phone works, and the member is told
how many wrong attempts were made since the last sign-in.
"""

from __future__ import annotations

import httpx

from tests.api.test_errors import check_problem
from tests.factories import create_member


def _client(app, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


async def _end_waits(conn) -> None:
    """Let the wait or lockout pass (the stored deadline moves to now)."""
    await conn.execute("UPDATE throttles SET blocked_until = now()")


async def test_guessing_one_number_from_one_address_is_mostly_refused_unchecked(
    app, conn, settings
):
    _, number, phone = await create_member(conn, settings)
    statuses = []
    async with _client(app, "198.51.100.7") as client:
        for n in range(1000):
            guess = {"member_no": number, "phone": f"150{n:08d}"}
            response = await client.post("/v1/auth/member", json=guess)
            statuses.append(response.status_code)
            if response.status_code == 429:
                last_refusal = response
        evaluated = statuses.count(401)
        assert evaluated < 30, evaluated
        assert statuses.count(429) == 1000 - evaluated
        body = check_problem(last_refusal, "too_many_attempts")
        assert int(last_refusal.headers["Retry-After"]) == body["retry_after_s"] >= 1

        # The right phone is refused too while the number waits …
        right = await client.post("/v1/auth/member", json={"member_no": number, "phone": phone})
        assert right.status_code == 429
        # … and works once the wait is over, telling the member what happened.
        await _end_waits(conn)
        right = await client.post("/v1/auth/member", json={"member_no": number, "phone": phone})
        assert right.status_code == 201, right.text
        assert right.json()["failed_attempts"] == evaluated
        assert right.json()["last_failed_at"] is not None
        again = await client.post("/v1/auth/member", json={"member_no": number, "phone": phone})
        assert again.json()["failed_attempts"] == 0 and again.json()["last_failed_at"] is None


async def test_guesses_spread_over_fifty_addresses_lock_the_number(app, conn, settings):
    _, number, phone = await create_member(conn, settings)
    clients = [_client(app, f"203.0.113.{n}") for n in range(1, 51)]
    statuses = []
    try:
        for n in range(1000):
            client = clients[n % len(clients)]
            guess = {"member_no": number, "phone": f"151{n:08d}"}
            statuses.append((await client.post("/v1/auth/member", json=guess)).status_code)
        assert statuses.count(401) < 30, statuses.count(401)
        # Locked for the member, whichever address asks next, right phone or not.
        async with _client(app, "192.0.2.200") as fresh:
            right = await fresh.post("/v1/auth/member", json={"member_no": number, "phone": phone})
        check_problem(right, "too_many_attempts")
    finally:
        for client in clients:
            await client.aclose()


async def test_one_address_guessing_many_numbers_is_throttled_too(app, conn, settings):
    _, number, phone = await create_member(conn, settings)
    statuses = []
    async with _client(app, "198.51.100.99") as client:
        for n in range(300):
            guess = {"member_no": f"HB{n:06d}X", "phone": "13900000000"}
            statuses.append((await client.post("/v1/auth/member", json=guess)).status_code)
        limit = settings.member_sign_in.address_attempts_lockout
        assert statuses.count(401) <= limit, statuses.count(401)
        assert statuses[-1] == 429
        # Another address is not affected, and the member signs in from there.
    async with _client(app, "198.51.100.100") as other:
        right = await other.post("/v1/auth/member", json={"member_no": number, "phone": phone})
        assert right.status_code == 201, right.text
