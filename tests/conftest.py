"""Test harness: a throwaway PostGIS database per test session, on the real server.

The database is cloned from a template built once per schema version (named after
the migrations' checksum), so a session starts in well under a second. PostGIS is
required: when it is missing, the fixtures fail (never skip), and a session with
any skipped test fails as a whole.

A streaming replica of the test cluster (``tests/fixtures/replica.py``) serves the
read-replica tests. With ``STATIONS_TEST_READ_REPLICA=1`` every app of the session reads
through it (``DATABASE_READ_URL``) and the session's database commits only once the
replica has applied the commit (``synchronous_commit = remote_apply``), so a test that
writes and then reads through the API sees its write as it does without a replica.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from stations.db import admin as dbadmin
from stations.db import connection as dbconn
from stations.db import embedded, migrations
from stations.settings import Settings
from tests.fixtures import replica as test_replica

READ_REPLICA_MODE = os.environ.get("STATIONS_TEST_READ_REPLICA", "") not in ("", "0")

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
# Tables that survive between tests: the migration ledger, PostGIS's own, and the key
# claim codes are made with (drawn by its migration).
_KEEP_TABLES = {"schema_migrations", "spatial_ref_sys", "claim_code_key"}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        if reporter:
            reporter.write_line(
                f"FAILED: {skipped} test(s) skipped; every test must run "
                "(install what is missing instead of skipping)",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def settings() -> Settings:
    base = Settings()
    test_db = base.db.model_copy(update={"name": f"stations_test_{os.getpid()}"})
    if READ_REPLICA_MODE:
        test_db = test_replica.start_for(test_db, synchronous=True)
    return base.model_copy(update={"db": test_db})


async def _ensure_template(settings: Settings) -> str:
    """A migrated template database for the current schema, built once."""
    template = f"stations_tpl_{migrations.schema_checksum()[:16]}"
    admin = await dbconn.connect(settings.db, database="postgres")
    try:
        await admin.execute("SELECT pg_advisory_lock(7340002)")
        try:
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", template):
                await dbadmin.create_database(settings.db, template)
                await dbadmin.migrate(settings.db, database=template)
        finally:
            await admin.execute("SELECT pg_advisory_unlock(7340002)")
    finally:
        await admin.close()
    return template


@pytest.fixture(scope="session")
async def template_database(settings: Settings) -> str:
    """The migrated template database of the current schema (never connected to in tests)."""
    if settings.db.embedded:
        embedded.start(settings.db)
    return await _ensure_template(settings)


@pytest.fixture(scope="session")
async def database(settings: Settings, template_database: str) -> AsyncIterator[str]:
    """Create the session's database from the template; drop it at the end."""
    template = template_database
    await dbadmin.drop_database(settings.db, settings.db.name)
    await dbadmin.create_database(settings.db, settings.db.name, template=template)
    if READ_REPLICA_MODE:
        await test_replica.apply_before_commit(settings.db)
        await test_replica.wait_for_database(settings.db)
    yield settings.db.name
    await dbadmin.drop_database(settings.db, settings.db.name)


@pytest.fixture(scope="session")
async def pool(settings: Settings, database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await dbconn.create_pool(settings.db)
    async with pool.acquire() as conn:
        postgis = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname='postgis'")
    assert postgis, "PostGIS must be installed in the test database"
    yield pool
    await pool.close()


async def _truncate_all(conn: asyncpg.Connection) -> None:
    tables = await conn.fetch(
        "SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public'"
    )
    names = [r["t"] for r in tables if r["t"] not in _KEEP_TABLES]
    if names:
        await conn.execute(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection to an empty catalog (every table truncated before the test)."""
    async with pool.acquire() as connection:
        await _truncate_all(connection)
        yield connection


@pytest.fixture
async def app(settings: Settings, conn: asyncpg.Connection):
    """The real app with its lifespan running, on the session's database."""
    from api.main import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Screenshots and other outputs worth keeping from a test run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
