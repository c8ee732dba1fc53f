"""Revocations reach every server worker at once.

Each worker keeps who a bearer token belongs to for a few seconds (the API's principal
cache), so that a busy rider's requests do not each look the token up. Revoking a token,
disabling an account or granting or taking an operator's stations must not wait for
that cache to age: the database announces every such change on the
``principals_changed`` channel (triggers in ``stations/sql/functions/people.sql``) and
:class:`Revocations` tells the worker to drop what it cached.

The cache may be trusted only while the worker is listening: a notice sent while the
listening connection was down is lost. So :attr:`Revocations.listening` is false from the
moment the connection is lost until it is back, and the cache is not used meanwhile
(every request then reads the token from the database, as with no cache at all).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from stations.db import connection as dbconn
from stations.errors import DatabaseUnavailable
from stations.settings import DatabaseSettings

log = logging.getLogger(__name__)

CHANNEL = "principals_changed"
RETRY_S = (0.5, 1.0, 2.0, 5.0, 10.0)
CHECK_S = 30.0  # how often a quiet connection is asked whether it is still there


class Revocations:
    """Listens on ``principals_changed`` for one worker; calls ``on_change`` on every notice.

    ``on_change`` is also called whenever listening stops or starts again, since notices
    may have been missed in between.
    """

    def __init__(self, db: DatabaseSettings, on_change: Callable[[], None]) -> None:
        self._db = db
        self._on_change = on_change
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.notices = 0

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed() and not self._lost.is_set()

    async def start(self) -> None:
        """Listen now if the database answers; keep (re)connecting in the background."""
        with contextlib.suppress(DatabaseUnavailable, OSError, asyncpg.PostgresError):
            await self._listen()
        self._task = asyncio.create_task(self._follow(), name="principals-changed")

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=5)
        await self._drop()

    async def _listen(self) -> None:
        conn = await dbconn.connect(self._db)
        try:
            conn.add_termination_listener(self._on_terminated)
            await conn.add_listener(CHANNEL, self._on_notify)
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn
        self._lost.clear()
        self._on_change()  # anything cached before now may have missed a notice

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, _payload: str) -> None:
        self.notices += 1
        self._on_change()

    def _on_terminated(self, _conn: Any) -> None:
        self._lost.set()
        self._on_change()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.terminate()

    async def _alive(self) -> bool:
        if not self.listening or self._conn is None:
            return False
        try:
            async with asyncio.timeout(10):
                await self._conn.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            return False
        return True

    async def _follow(self) -> None:
        failures = 0
        while not self._closed:
            if self.listening:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CHECK_S):
                        await self._lost.wait()
                if await self._alive():
                    continue
            self._lost.set()
            self._on_change()
            await self._drop()
            try:
                await self._listen()
                failures = 0
                log.info("listening for revoked tokens again")
            except (DatabaseUnavailable, OSError, asyncpg.PostgresError) as exc:
                delay = RETRY_S[min(failures, len(RETRY_S) - 1)]
                failures += 1
                log.warning(
                    "not listening for revoked tokens (%s); tokens are read from the "
                    "database on every request until then; trying again in %g s",
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
