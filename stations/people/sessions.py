"""Staff sessions in a browser: sign in with name and password, a cookie, sign out.

A session is a random token (``lss_`` + 256 bits) that the browser keeps in an
``HttpOnly`` cookie and the database keeps as its SHA-256, like a bearer token. It ends
``session_hours`` after sign-in (absolute), after ``session_idle_minutes`` without a
request (idle), at sign-out, when the account gets a new password or is disabled.

Cross-site request forgery: the session's CSRF token is an HMAC of the session token,
so it needs no storage and belongs to this session only. The console reads it from the
sign-in answer (or ``GET /v1/auth/staff``, which needs the cookie) and sends it in the
``X-CSRF-Token`` header of every state-changing request; a page on another site can
neither read it nor make the browser add it.

Sign-in attempts are throttled by account name and by client address
(:mod:`stations.people.throttle`); a wrong password, an unknown name, a disabled
account and one without a password all fail alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from stations.errors import Unauthorized
from stations.people import passwords, throttle, tokens
from stations.settings import StaffSettings
from stations.sql import load

SQL = load("staff")

PREFIX = "lss_"
NAME_KIND = "staff_name"
ADDRESS_KIND = "staff_address"


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session (what ``X-CSRF-Token`` must carry)."""
    mac = hmac.new(session_token.encode(), b"csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def csrf_matches(session_token: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(csrf_token(session_token), sent or "")


@dataclass(frozen=True)
class Started:
    """A new session: the cookie's token (never stored) and what the console needs."""

    token: str
    csrf_token: str
    expires_at: datetime
    account: dict[str, Any]


@dataclass(frozen=True)
class Session:
    """A session found by its token; ``live`` False when it has ended (say why: 401)."""

    session_id: int
    account_id: int
    role: str
    name: str
    branch: str | None
    live: bool
    expires_at: datetime
    idle_expires_at: datetime
    station_ids: frozenset[int] = field(default_factory=frozenset)


def policies(staff: StaffSettings) -> tuple[throttle.Policy, throttle.Policy]:
    """The throttle policies of account names and of client addresses."""
    lockout_s = staff.lockout_minutes * 60
    by_name = throttle.Policy(
        free=staff.attempts_free, lockout_after=staff.attempts_lockout, lockout_s=lockout_s
    )
    by_address = throttle.Policy(
        free=staff.address_attempts_free,
        lockout_after=staff.address_attempts_lockout,
        lockout_s=lockout_s,
    )
    return by_name, by_address


async def verified_account(
    conn: asyncpg.Connection,
    *,
    name: str,
    password: str,
    address: str,
    staff: StaffSettings,
    secret: bytes,
) -> asyncpg.Record:
    """The account whose name and password these are; throttled, else ``sign_in_failed``."""
    by_name, by_address = policies(staff)
    name_key = throttle.key(NAME_KIND, name, by_name, secret=secret)
    keys = [name_key, throttle.key(ADDRESS_KIND, address, by_address, secret=secret)]
    await throttle.guard(conn, keys)
    account = await passwords.check(conn, name=name, password=password)
    if account is None:
        await throttle.failed(conn, keys)
        raise Unauthorized(
            "the name and password do not match a staff account (or it has no password yet: "
            "ask an administrator for a password link)",
            code="sign_in_failed",
        )
    await throttle.forget(conn, name_key)
    return account


async def sign_in(
    conn: asyncpg.Connection,
    *,
    name: str,
    password: str,
    address: str,
    staff: StaffSettings,
    secret: bytes,
) -> Started:
    """Check a name and password (throttled) and start a session."""
    account = await verified_account(
        conn, name=name, password=password, address=address, staff=staff, secret=secret
    )
    return await start(conn, account=account, hours=staff.session_hours)


async def change_password(
    conn: asyncpg.Connection,
    *,
    name: str,
    current: str,
    new: str,
    address: str,
    staff: StaffSettings,
    secret: bytes,
) -> Started:
    """A new password for a signed-in account: every session ends, a new one starts."""
    account = await verified_account(
        conn, name=name, password=current, address=address, staff=staff, secret=secret
    )
    await passwords.set_password(conn, name=account["name"], password=new)
    return await start(conn, account=account, hours=staff.session_hours)


async def start(conn: asyncpg.Connection, *, account: Any, hours: float) -> Started:
    """A new session of ``account`` (a row with id, name, role, branch)."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = await conn.fetchrow(
        SQL.insert_session, tokens.token_hash(token), account["id"], hours * 3600
    )
    return Started(
        token=token,
        csrf_token=csrf_token(token),
        expires_at=row["expires_at"],
        account={"name": account["name"], "role": account["role"], "branch": account["branch"]},
    )


async def resolve(conn: asyncpg.Connection, *, token: str, idle_minutes: float) -> Session | None:
    """The session of a cookie's token; None when no session ever had it."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    idle = timedelta(minutes=idle_minutes)
    row = await conn.fetchrow(SQL.resolve_session, tokens.token_hash(token), idle.total_seconds())
    if row is None:
        return None
    return Session(
        session_id=row["id"],
        account_id=row["account_id"],
        role=row["role"],
        name=row["name"],
        branch=row["branch"],
        live=row["live"],
        expires_at=row["expires_at"],
        idle_expires_at=min(row["expires_at"], row["seen_at"] + idle),
        station_ids=frozenset(row["station_ids"]),
    )


async def end(conn: asyncpg.Connection, *, token: str) -> None:
    """Sign out: the session's cookie stops working at once, in every worker."""
    await conn.execute(SQL.revoke_session, tokens.token_hash(token))
