"""Throttled attempts: failed sign-ins counted by (kind, key), shared by every worker.

A kind names what is counted (``staff_name``, ``staff_address``; member sign-in can add
its own) and a key the thing itself (an account name, a client address). Counts live in
PostgreSQL (``throttles``), so every server worker and process sees the same streak:
a client cannot spread its guesses over workers. A key is stored as a keyed hash
(HMAC-SHA256 under ``STATIONS_PII_HASH_KEY``): addresses are personal data.

A :class:`Policy` says what a streak of failures costs. The first ``free`` failures cost
nothing; each one after waits twice as long as the one before (``first_delay_s``,
doubled, at most ``max_delay_s``); at ``lockout_after`` failures the key is locked for
``lockout_s``. A streak is forgotten after ``forget_after_s`` without a failure, and
:func:`forget` ends it at once (a successful sign-in forgets its name's streak, not
its address's: one good account must not reset the count of guesses at others).

An attempt while a key waits is refused before it is checked and does not count:
:func:`guard` raises :class:`~stations.errors.TooManyAttempts` with the seconds left.

The same table also limits the rate of expensive requests (:class:`Rate`, :func:`take`):
every request, not only a failure, takes its share, so one caller cannot keep the
service's CPU for itself, whichever worker it reaches.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from stations.errors import TooManyAttempts
from stations.sql import load

SQL = load("staff")


@dataclass(frozen=True)
class Policy:
    """What a streak of failures costs one key."""

    free: int
    lockout_after: int
    lockout_s: float
    first_delay_s: float = 1.0
    max_delay_s: float = 60.0
    forget_after_s: float = 3600.0

    def wait_after(self, failures: int) -> float:
        """Seconds the key must wait after its ``failures``-th failure in a row."""
        if failures >= self.lockout_after:
            return self.lockout_s
        if failures <= self.free:
            return 0.0
        return min(self.max_delay_s, self.first_delay_s * 2 ** (failures - self.free - 1))


@dataclass(frozen=True)
class Key:
    """One counted thing: its kind, and its value as a keyed hash."""

    kind: str
    digest: bytes
    policy: Policy


def key(kind: str, value: str, policy: Policy, *, secret: bytes) -> Key:
    """The key of ``value`` (an account name, an address) for attempts of ``kind``."""
    return Key(kind, digest(kind, value, secret=secret), policy)


def digest(kind: str, value: str, *, secret: bytes) -> bytes:
    """The keyed hash a key of ``kind`` is stored as (names and addresses are personal)."""
    message = f"{kind}\0{value.strip().casefold()}".encode("utf-8", "surrogatepass")
    return hmac.new(secret, message, hashlib.sha256).digest()


async def guard(conn: asyncpg.Connection, keys: Sequence[Key]) -> None:
    """Refuse the attempt now if any of its keys must still wait."""
    wait = await conn.fetchval(SQL.throttle_wait, [k.kind for k in keys], [k.digest for k in keys])
    if wait is not None and wait > 0:
        seconds = max(1, math.ceil(wait))
        raise TooManyAttempts(
            f"too many failed attempts; try again in {seconds} s", retry_after_s=seconds
        )


async def failed(conn: asyncpg.Connection, keys: Sequence[Key]) -> float:
    """Count a failure against every key; returns the longest wait it now imposes."""
    longest = 0.0
    async with conn.transaction():
        for k in sorted(keys, key=lambda k: (k.kind, k.digest)):  # one lock order
            failures = await conn.fetchval(
                SQL.throttle_count_failure, k.kind, k.digest, k.policy.forget_after_s
            )
            wait = k.policy.wait_after(failures)
            await conn.execute(SQL.throttle_block, k.kind, k.digest, wait)
            longest = max(longest, wait)
        # Streaks long forgotten go, so guessing from many addresses leaves no heap behind.
        await conn.execute(SQL.throttle_prune, max(k.policy.forget_after_s for k in keys))
    return longest


@dataclass(frozen=True)
class Streak:
    """Failures of a key since its last success (within ``forget_after_s`` of each other)."""

    failures: int
    last_failure_at: datetime | None


async def forget(conn: asyncpg.Connection, k: Key) -> Streak:
    """End a key's streak (its name signed in); answers the streak it ended."""
    row = await conn.fetchrow(SQL.throttle_forget, k.kind, k.digest)
    if row is None:
        return Streak(0, None)
    return Streak(row["failures"], row["last_failure_at"])


@dataclass(frozen=True)
class Rate:
    """Requests a key may make: ``per_minute`` on average, ``burst`` of them at once."""

    per_minute: float
    burst: int

    @property
    def interval_s(self) -> float:
        return 60.0 / self.per_minute

    @property
    def tolerance_s(self) -> float:
        return self.interval_s * max(0, self.burst - 1)


async def take(conn: asyncpg.Connection, kind: str, digest: bytes, rate: Rate) -> None:
    """Count one request of the key; raise TooManyAttempts when it must wait first.

    GCRA (generic cell rate algorithm) in one statement: the key's next free instant is
    kept in ``blocked_until``; a request is taken when that instant is at most the burst
    tolerance ahead of now, and moves it on by one interval. A refused request does not
    count.
    """
    taken = await conn.fetchval(SQL.rate_take, kind, digest, rate.interval_s, rate.tolerance_s)
    if taken is None:
        wait = await conn.fetchval(SQL.rate_wait, kind, digest, rate.tolerance_s)
        seconds = max(1, math.ceil(float(wait or 1)))
        raise TooManyAttempts(
            f"too many requests of this kind from your token ({rate.per_minute:g} a minute, "
            f"{rate.burst} at once); try again in {seconds} s",
            retry_after_s=seconds,
        )
