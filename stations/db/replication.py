"""Reads from a streaming replica: where the primary is, whether a replica caught up.

A replica replays the primary's WAL a moment later. What must read its own writes
stays on the primary; what reads a change it was *told* about (the index after a
``NOTIFY``) first notes the primary's WAL position and waits, for a bounded time, until
the replica has replayed that far (:func:`wait_for_replay`), so it never reads back the
state from before the change.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncpg

from stations.sql import load

SQL = load("replication")
POLL_S = 0.02


async def primary_lsn(conn: asyncpg.Connection) -> str:
    """The primary's current WAL position (``conn`` must be to the primary)."""
    lsn: str = await conn.fetchval(SQL.primary_lsn)
    return lsn


async def replayed(conn: asyncpg.Connection, lsn: str) -> bool:
    """Whether the replica behind ``conn`` has replayed the WAL up to ``lsn``."""
    return bool(await conn.fetchval(SQL.replayed_up_to, lsn))


async def wait_for_replay(pool: asyncpg.Pool, lsn: str, *, timeout_s: float) -> bool:
    """Wait until the replica of ``pool`` has replayed up to ``lsn``; False past the bound."""
    deadline = time.monotonic() + timeout_s
    async with pool.acquire() as conn:
        while True:
            if await replayed(conn, lsn):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_S)


@dataclass(frozen=True)
class ServerState:
    in_recovery: bool
    replay_lsn: str | None
    replay_age_s: float | None

    def as_dict(self) -> dict[str, object]:
        return {
            "in_recovery": self.in_recovery,
            "replay_lsn": self.replay_lsn,
            "replay_age_s": None if self.replay_age_s is None else round(self.replay_age_s, 3),
        }


async def server_state(conn: asyncpg.Connection) -> ServerState:
    """Whether ``conn``'s server is a standby, and how far it has replayed."""
    row = await conn.fetchrow(SQL.replica_state)
    age = row["replay_age_s"]
    return ServerState(
        in_recovery=row["in_recovery"],
        replay_lsn=row["replay_lsn"],
        replay_age_s=None if age is None else float(age),
    )
