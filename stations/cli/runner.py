"""How a command runs its database work: one event loop, one connection, always closed.

A command that reads or writes the catalog hands an async function of a connection to
:func:`run_connected`; it gets a connection of its own, with the project's codecs,
closed whatever happens. ``stations db …`` manages clusters and databases through
:mod:`stations.db.admin`, whose functions open the connections they need, and runs
them with :func:`run`. Settings are :func:`stations.settings.get_settings`, read once
per process: a command that needs more than the database (keys, speeds, tiles) takes
its groups from the same object.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import asyncpg

from stations.db import connection as dbconn
from stations.settings import get_settings

T = TypeVar("T")


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run a command's async work to completion."""
    return asyncio.run(work)


def run_connected(work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run ``work`` on a connection of its own to the catalog database, then close it."""

    async def connected() -> T:
        conn = await dbconn.connect(get_settings().db)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return run(connected())
