"""Staff passwords: argon2id hashes, set from the CLI or through a one-time link.

Hashing is ``argon2-cffi``'s :class:`~argon2.PasswordHasher` with its defaults (argon2id,
RFC 9106's low-memory profile: 64 MiB, 3 passes, 4 lanes), run in a thread so that the
quarter second it takes does not stop a server worker's other requests. A hash made
with weaker parameters is upgraded at the next successful sign-in.

The first password of an account comes from an administrator at the command line
(``stations accounts passwd NAME``) or from a one-time link it prints
(``stations accounts invite NAME`` → ``…/staff/#/set-password?token=…``): the link's
token is random, stored as its SHA-256, expires and works once. The token sits in the
URL's fragment, which browsers never send to a server, so it is in no access log.
Setting a password ends every session of the account.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from functools import cache
from typing import Any

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from stations.errors import InvalidInput, NotFound
from stations.people import tokens
from stations.people.accounts import get_account
from stations.sql import load

SQL = load("staff")

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 takes any length; this only bounds the work one request asks
LINK_PREFIX = "lsp_"
HASHER = PasswordHasher()


def validate_password(password: str, *, name: str, field: str = "password") -> str:
    """The password if it may be used for the account ``name``; else InvalidInput."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            f"{field}: use at least {MIN_LENGTH} characters (a few words are easy to remember)",
            field=field,
        )
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"{field}: use at most {MAX_LENGTH} characters", field=field)
    if password.strip().casefold() == name.strip().casefold():
        raise InvalidInput(f"{field}: must not be the account's name", field=field)
    return password


def _verify(stored: str, password: str) -> bool:
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _decoy() -> str:
    """A hash to verify against when the account has none, so both take as long."""
    return HASHER.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(HASHER.hash, password)


async def check(conn: asyncpg.Connection, *, name: str, password: str) -> asyncpg.Record | None:
    """The account if ``password`` is its password; None otherwise.

    Unknown names, disabled accounts and accounts without a password cost one argon2
    verification too: timing does not tell which names exist.
    """
    row = await conn.fetchrow(SQL.account_for_sign_in, name.strip())
    usable = row is not None and row["disabled_at"] is None and row["password_hash"]
    stored: str = row["password_hash"] if usable else await asyncio.to_thread(_decoy)
    matches = await asyncio.to_thread(_verify, stored, password[:MAX_LENGTH])
    if not (usable and matches):
        return None
    if HASHER.check_needs_rehash(stored):
        await conn.execute(SQL.set_password, row["id"], await hash_password(password))
    return row


async def set_password(conn: asyncpg.Connection, *, name: str, password: str) -> None:
    """Give an account a (new) password; its sessions end."""
    account = await get_account(conn, name=name)
    if account["disabled_at"] is not None:
        raise InvalidInput(f"account {name!r} is disabled")
    hashed = await hash_password(validate_password(password, name=account["name"]))
    async with conn.transaction():
        await conn.execute(SQL.set_password, account["id"], hashed)
        await conn.execute(SQL.revoke_account_sessions, account["id"])


async def create_link(conn: asyncpg.Connection, *, name: str, hours: float) -> tuple[str, datetime]:
    """A one-time token to set the account's password; older unused ones stop working."""
    account = await get_account(conn, name=name)
    if account["disabled_at"] is not None:
        raise InvalidInput(f"account {name!r} is disabled")
    token = LINK_PREFIX + secrets.token_urlsafe(32)
    expires_at = await conn.fetchval(
        SQL.insert_password_link, tokens.token_hash(token), account["id"], hours * 3600
    )
    return token, expires_at


def link_url(base_url: str, token: str) -> str:
    """Where the console sets a password with a link's token (the token in the fragment)."""
    return f"{base_url.rstrip('/')}/staff/#/set-password?token={token}"


async def set_password_with_link(
    conn: asyncpg.Connection, *, token: str, password: str
) -> dict[str, Any]:
    """Use a one-time link: the account's new password; the link works no more.

    A password that breaks the rules leaves the link unused, to try again.
    """
    if not token.startswith(LINK_PREFIX) or len(token) > 100:
        raise _link_invalid()
    async with conn.transaction():
        account = await conn.fetchrow(SQL.use_password_link, tokens.token_hash(token))
        if account is None:
            raise _link_invalid()
        validate_password(password, name=account["name"])
        hashed = await hash_password(password)
        await conn.execute(SQL.set_password, account["id"], hashed)
        await conn.execute(SQL.revoke_account_sessions, account["id"])
    return dict(account)


def _link_invalid() -> NotFound:
    return NotFound(
        "this password link is not valid any more (used, expired or mistyped); "
        "ask an administrator for a new one",
        code="password_link_invalid",
    )
