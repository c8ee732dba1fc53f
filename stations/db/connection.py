"""Connections to the catalog database: DSN resolution, codecs, pools, transactions.

Every connection registers the same codecs once (``init=``): orjson for json/jsonb,
and shapely WKB for geometry/geography, so domain code sees dicts and shapely shapes.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
import shapely

from stations.errors import DatabaseUnavailable
from stations.settings import DatabaseSettings
from stations.sql import load

SQL = load("admin")


def dsn(db: DatabaseSettings, *, database: str | None = None) -> str:
    """The DSN to connect with: ``DATABASE_URL`` if set, else the embedded cluster's socket."""
    if db.url is not None:
        if database is None:
            return db.url
        return _replace_database(db.url, database)
    from stations.db import embedded  # the embedded cluster only matters without DATABASE_URL

    return embedded.local_dsn(db, database=database or db.name)


def read_dsn(db: DatabaseSettings, *, database: str | None = None) -> str:
    """The DSN of the read replica (``DATABASE_READ_URL``); the primary's when unset."""
    if db.read_url is None:
        return dsn(db, database=database)
    return db.read_url if database is None else _replace_database(db.read_url, database)


APPLICATION_NAME = "love-stations"
"""What the service's connections call themselves (``pg_stat_activity.application_name``)."""


def _replace_database(url: str, database: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _encode_geometry(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    geom = value if shapely.get_srid(value) else shapely.set_srid(value, 4326)
    return shapely.to_wkb(geom, include_srid=True, hex=False)


def _decode_geometry(value: bytes) -> Any:
    return shapely.from_wkb(value)


async def init_connection(conn: asyncpg.Connection) -> None:
    """Register the project's codecs on a new connection."""
    await conn.set_type_codec(
        "json",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: b"\x01" + orjson.dumps(v),
        decoder=lambda b: orjson.loads(b[1:]),
        schema="pg_catalog",
        format="binary",
    )
    for type_name in ("geometry", "geography"):
        # Before the first migration PostGIS is not installed: asyncpg raises ValueError.
        with contextlib.suppress(ValueError):
            await conn.set_type_codec(
                type_name,
                encoder=_encode_geometry,
                decoder=_decode_geometry,
                schema="public",
                format="binary",
            )


async def connect(
    db: DatabaseSettings,
    *,
    database: str | None = None,
    replica: bool = False,
    application_name: str | None = None,
) -> asyncpg.Connection:
    """One connection with the project's codecs, or DatabaseUnavailable with advice.

    ``replica``: to the read replica (the primary when there is none).
    """
    target = read_dsn(db, database=database) if replica else dsn(db, database=database)
    settings = {"application_name": application_name} if application_name else None
    try:
        conn = await asyncpg.connect(target, timeout=10, server_settings=settings)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise DatabaseUnavailable(_unavailable_advice(db, exc, replica=replica)) from exc
    await init_connection(conn)
    return conn


class PooledConnection(asyncpg.Connection):
    """A pool connection released without asyncpg's session-reset query.

    The default reset sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
    ALL`` on every release: one more round trip and statement for every request.
    Release still rolls back an open transaction and drops listener callbacks; the rule
    that makes skipping the rest safe is that pooled connections never keep session
    state: settings are transaction-local (``set_config(…, true)``), LISTEN and
    session-level advisory locks use a dedicated connection from :func:`connect`.
    """

    def get_reset_query(self) -> str:
        return ""


async def create_pool(
    db: DatabaseSettings, *, database: str | None = None, replica: bool = False
) -> asyncpg.Pool:
    """A pool of the primary, or with ``replica`` of the read replica (same sizes)."""
    target = read_dsn(db, database=database) if replica else dsn(db, database=database)
    try:
        pool = await asyncpg.create_pool(
            target,
            min_size=db.pool_min_size,
            max_size=max(db.pool_max_size, db.pool_min_size),
            command_timeout=db.command_timeout_s,
            init=init_connection,
            connection_class=PooledConnection,
            server_settings={"application_name": APPLICATION_NAME},
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise DatabaseUnavailable(_unavailable_advice(db, exc, replica=replica)) from exc
    assert pool is not None
    return pool


@asynccontextmanager
async def pooled(pool: asyncpg.Pool, timeout_s: float) -> AsyncIterator[asyncpg.Connection]:
    """A connection of ``pool``, or DatabaseUnavailable when none is free in time."""
    try:
        conn = await pool.acquire(timeout=timeout_s)
    except TimeoutError:
        raise DatabaseUnavailable(
            f"no database connection was free within {timeout_s:g} s; retry in a moment"
        ) from None
    try:
        yield conn
    finally:
        await pool.release(conn)


# What a lost or unreachable database raises, as opposed to a fault in a query: the
# server is down, restarting or refusing connections, or a connection died under us.
# 40001 is a serialization failure, which says "run it again": on a read replica it is a
# query cancelled by a conflict with the WAL it replays (the service runs no
# serializable transaction on the primary, where it would mean the same).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300", "40001")


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached now (retry later: 503).

    Connection refusals and resets, timeouts (connecting, waiting for a pooled
    connection, a statement past ``command_timeout``), connection-class SQLSTATEs (08…),
    the server shutting down or starting (57P01–57P03), too many connections (53300),
    a replica cancelling a query that conflicts with what it replays (40001), and
    asyncpg's "connection is closed". Constraint violations, syntax errors and the
    like are faults of the service and stay 500s.
    """
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        return state.startswith(_UNAVAILABLE_SQLSTATES)
    if isinstance(exc, asyncpg.InterfaceError):
        return isinstance(exc, asyncpg.ConnectionDoesNotExistError) or "closed" in str(exc)
    if isinstance(exc, OSError):  # socket errors other than ConnectionError (unreachable)
        return exc.errno is not None and exc.errno in _NETWORK_ERRNOS
    return False


_NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("EHOSTUNREACH", "ENETUNREACH", "ENETDOWN", "ECONNREFUSED", "ENOENT")
    if hasattr(errno, name)
)


def _unavailable_advice(db: DatabaseSettings, exc: BaseException, *, replica: bool = False) -> str:
    if replica and db.read_url is not None:
        return (
            f"cannot reach DATABASE_READ_URL ({exc.__class__.__name__}: {exc}); "
            "check the replica (`stations db replica status` for the project's own)"
        )
    if db.url is None:
        return (
            f"cannot reach the project's database ({exc.__class__.__name__}: {exc}); "
            "start it with `stations db up` (or `make run`)"
        )
    return (
        f"cannot reach DATABASE_URL ({exc.__class__.__name__}: {exc}); "
        "check the URL, the server and that PostGIS is installed there"
    )


@asynccontextmanager
async def transaction(
    conn: asyncpg.Connection, *, actor: str, reason: str | None = None
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction whose station changes are recorded in history as ``actor``."""
    async with conn.transaction():
        await conn.execute(
            SQL.set_actor,
            actor,
            reason or "",
        )
        yield conn
