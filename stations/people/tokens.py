"""Bearer tokens: opaque, random, stored only as their SHA-256, expiring and revocable.

A token is ``ls_`` followed by 43 URL-safe characters (256 random bits), so a plain
SHA-256 is enough to store it: unlike a password there is nothing to guess. Members
get theirs by exchanging member number and phone (:mod:`stations.people.members`); operators,
planners and administrators get theirs from the CLI (:mod:`stations.people.accounts`).
Tokens are never logged; only their hash is stored or passed around.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import asyncpg

from stations.sql import load

SQL = load("members")

PREFIX = "ls_"
Role = Literal["member", "operator", "planner", "admin"]


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    """What the database stores and looks tokens up by."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    token_id: int
    expires_at: datetime


@dataclass(frozen=True)
class Identity:
    """Whom a live token belongs to."""

    role: Role
    subject: str  # "member:<no>", "operator:<name>", ...
    token_id: int
    member_id: int | None = None
    account_id: int | None = None
    member_active: bool = True
    station_ids: frozenset[int] = field(default_factory=frozenset)
    branch: str | None = None  # administrators' and planners' union branch; None: national


async def issue(
    conn: asyncpg.Connection,
    *,
    days: int,
    member_id: int | None = None,
    account_id: int | None = None,
    label: str | None = None,
) -> IssuedToken:
    """Store a new token for a member or an account; the clear token is returned once."""
    token = new_token()
    row = await conn.fetchrow(
        SQL.insert_token, token_hash(token), member_id, account_id, label, days
    )
    return IssuedToken(token=token, token_id=row["id"], expires_at=row["expires_at"])


async def resolve(conn: asyncpg.Connection, *, digest: bytes) -> Identity | None:
    """The identity behind a token hash, or None when unknown, expired or revoked."""
    row = await conn.fetchrow(SQL.resolve_token, digest)
    if row is None:
        return None
    if row["member_id"] is not None:
        return Identity(
            role="member",
            subject=f"member:{row['member_no']}",
            token_id=row["token_id"],
            member_id=row["member_id"],
            member_active=row["member_status"] == "active",
        )
    return Identity(
        role=row["account_role"],
        subject=f"{row['account_role']}:{row['account_name']}",
        token_id=row["token_id"],
        account_id=row["account_id"],
        station_ids=frozenset(row["station_ids"]),
        branch=row["account_branch"],
    )


async def revoke(conn: asyncpg.Connection, *, digest: bytes) -> bool:
    """Revoke one token; False when it was not live."""
    return await conn.fetchval(SQL.revoke_token, digest) is not None
