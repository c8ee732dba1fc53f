"""A revocation takes effect at once in every server worker, not when a cache ages.

Two apps on one database stand for two worker processes. Each caches who a token
belongs to (here for 300 s, so that only the revocation notice can explain a refusal
within the second the tests allow).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from api.auth import PrincipalCache, principal_cache_of
from stations.people import accounts, tokens
from stations.settings import Settings
from tests.factories import bearer, create_member_with_token, create_staff, create_station

NOTICE_S = 1.0  # a revocation must be felt everywhere within this (the cache keeps 300 s)


@asynccontextmanager
async def worker(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from api.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
def long_cache(settings: Settings) -> Settings:
    security = settings.security.model_copy(update={"principal_cache_seconds": 300.0})
    return settings.model_copy(update={"security": security})


async def status_within(client: httpx.AsyncClient, token: str, expected: int) -> float:
    """Seconds until ``/v1/auth/me`` answers ``expected`` for the token (fails after NOTICE_S)."""
    started = time.monotonic()
    while True:
        response = await client.get("/v1/auth/me", headers=bearer(token))
        waited = time.monotonic() - started
        if response.status_code == expected:
            return waited
        assert waited < NOTICE_S, f"still {response.status_code} after {waited:.2f} s"
        await asyncio.sleep(0.02)


async def test_a_disabled_account_is_refused_by_every_worker_at_once(conn, long_cache):
    station = await create_station(conn)
    token = await create_staff(conn, station_ids=[station["id"]], name="人民路驿站")
    async with worker(long_cache) as first, worker(long_cache) as second:
        for client in (first, second):  # both have it cached now
            assert (await client.get("/v1/auth/me", headers=bearer(token))).status_code == 200
        await accounts.disable_account(conn, name="人民路驿站")
        for client in (first, second):
            await status_within(client, token, 401)


async def test_a_revoked_member_token_is_refused_at_once(conn, settings, long_cache):
    _, token = await create_member_with_token(conn, settings)
    async with worker(long_cache) as first, worker(long_cache) as second:
        for client in (first, second):
            assert (await client.get("/v1/auth/me", headers=bearer(token))).status_code == 200
        assert await tokens.revoke(conn, digest=tokens.token_hash(token))
        for client in (first, second):
            await status_within(client, token, 401)


async def test_stations_taken_from_an_operator_are_gone_at_once(conn, long_cache):
    kept, taken = await create_station(conn), await create_station(conn)
    token = await create_staff(conn, station_ids=[kept["id"], taken["id"]], name="老张")
    async with worker(long_cache) as client:
        me = (await client.get("/v1/auth/me", headers=bearer(token))).json()
        assert me["station_ids"] == sorted([kept["id"], taken["id"]])
        account = await accounts.get_account(conn, name="老张")
        await conn.execute(
            "DELETE FROM operator_stations WHERE account_id = $1 AND station_id = $2",
            account["id"],
            taken["id"],
        )
        started = time.monotonic()
        while (await client.get("/v1/auth/me", headers=bearer(token))).json()["station_ids"] != [
            kept["id"]
        ]:
            assert time.monotonic() - started < NOTICE_S
            await asyncio.sleep(0.02)


async def test_a_worker_whose_listener_is_cut_forgets_and_listens_again(conn, long_cache):
    """Notices sent while the listening connection is down are lost: the worker drops its
    cache when the connection goes, and listens again by itself."""
    station = await create_station(conn)
    token = await create_staff(conn, station_ids=[station["id"]], name="夜班")
    from api.main import create_app

    app = create_app(long_cache)
    async with app.router.lifespan_context(app):
        revocations = app.state.revocations
        assert revocations.listening
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get("/v1/auth/me", headers=bearer(token))).status_code == 200
            cache = principal_cache_of(app)
            assert cache.get(tokens.token_hash(token)) is not None
            listener = (
                "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN%principals_changed%'"
            )
            cut = await conn.fetchval(listener)
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", cut)
            started = time.monotonic()
            while not revocations.listening or await conn.fetchval(listener) in (None, cut):
                assert time.monotonic() - started < 10, "the worker did not listen again"
                await asyncio.sleep(0.02)
            assert cache.get(tokens.token_hash(token)) is None  # dropped with the connection
            assert (await client.get("/v1/auth/me", headers=bearer(token))).status_code == 200
            await accounts.disable_account(conn, name="夜班")
            await status_within(client, token, 401)


def test_the_cache_is_not_read_while_revocations_could_go_unheard():
    from api.auth import Principal

    listening = True
    cache = PrincipalCache(300.0, current=lambda: listening)
    cache.put(b"digest", Principal(role="member", subject="member:1"))
    assert cache.get(b"digest") is not None
    listening = False
    assert cache.get(b"digest") is None
    cache.put(b"other", Principal(role="member", subject="member:2"))
    listening = True
    assert cache.get(b"other") is None


def test_a_principal_read_before_a_revocation_is_not_kept_after_it():
    from api.auth import Principal

    cache = PrincipalCache(300.0)
    seen = cache.generation
    cache.clear()  # the revocation's notice arrives while the token was being read
    cache.put(b"digest", Principal(role="member", subject="member:1"), seen=seen)
    assert cache.get(b"digest") is None
    cache.put(b"digest", Principal(role="member", subject="member:1"), seen=cache.generation)
    assert cache.get(b"digest") is not None
