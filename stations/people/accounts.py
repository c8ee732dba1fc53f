"""Staff accounts: operators (scoped to the stations they run), planners, administrators.

An account gets a bearer token from the CLI (``stations accounts add`` prints the first
one, ``stations accounts token`` issues another); the token is shown once and stored
hashed. Disabling an account revokes its tokens at once. Administrators and planners
belong to a union branch (:mod:`stations.people.branches`; none: the national root);
people sign in to the staff console with a password (:mod:`stations.people.passwords`).
"""

from __future__ import annotations

from typing import Any, Literal

import asyncpg

from stations.db.integrity import translating
from stations.errors import Conflict, InvalidInput, NotFound
from stations.people import branches, tokens
from stations.sql import load

SQL = load("members")

StaffRole = Literal["operator", "planner", "admin"]
STAFF_ROLES: tuple[StaffRole, ...] = ("operator", "planner", "admin")


async def station_ids_for_codes(conn: asyncpg.Connection, codes: list[str]) -> list[int]:
    """Station ids for public codes; an unknown code is an error naming it."""
    wanted = [c.strip().upper() for c in codes if c.strip()]
    found = {r["code"]: r["id"] for r in await conn.fetch(SQL.station_ids_by_code, wanted)}
    unknown = [c for c in wanted if c not in found]
    if unknown:
        raise NotFound(f"no station has the code(s) {', '.join(unknown)}")
    return [found[c] for c in wanted]


async def get_account(conn: asyncpg.Connection, *, name: str) -> asyncpg.Record:
    row = await conn.fetchrow(SQL.account_by_name, name)
    if row is None:
        raise NotFound(
            f"no account is named {name!r}; see `stations accounts list`", code="account_not_found"
        )
    return row


async def add_account(
    conn: asyncpg.Connection,
    *,
    role: StaffRole,
    name: str,
    contact: str | None = None,
    station_ids: list[int] | None = None,
    branch: str | None = None,
    token_days: int | None,
) -> tuple[asyncpg.Record, tokens.IssuedToken | None]:
    """Create an account (operators with their stations, others in a branch) and its
    token (none with ``token_days`` None: the console's accounts sign in with a password)."""
    if role not in STAFF_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(STAFF_ROLES)}")
    if station_ids and role != "operator":
        raise InvalidInput("only operators run stations; leave out --station for this role")
    if branch is not None and role == "operator":
        raise InvalidInput(
            "operators act on the stations they run, not on a branch; leave out --branch"
        )
    if branch is not None:
        branch = (await branches.get_branch(conn, branch))["code"]
    with translating():
        async with conn.transaction():
            account = await conn.fetchrow(SQL.insert_account, role, name.strip(), contact, branch)
            if station_ids:
                await conn.execute(SQL.grant_stations, account["id"], station_ids)
            issued = (
                await tokens.issue(
                    conn,
                    days=token_days,
                    account_id=account["id"],
                    label="created with the account",
                )
                if token_days is not None
                else None
            )
    return account, issued


async def issue_token(
    conn: asyncpg.Connection, *, name: str, token_days: int, label: str | None = None
) -> tokens.IssuedToken:
    account = await get_account(conn, name=name)
    if account["disabled_at"] is not None:
        raise InvalidInput(f"account {name!r} is disabled")
    return await tokens.issue(conn, days=token_days, account_id=account["id"], label=label)


async def grant_stations(
    conn: asyncpg.Connection, *, name: str, station_ids: list[int], revoke: bool = False
) -> None:
    """Add stations to (or with ``revoke`` remove them from) an operator's scope."""
    account = await get_account(conn, name=name)
    with translating():
        async with conn.transaction():
            if revoke:
                await conn.execute(SQL.revoke_stations, account["id"], station_ids)
            else:
                await conn.execute(SQL.grant_stations, account["id"], station_ids)


async def disable_account(conn: asyncpg.Connection, *, name: str) -> None:
    account = await get_account(conn, name=name)
    async with conn.transaction():
        await conn.execute(SQL.disable_account, account["id"])
        await conn.execute(SQL.revoke_account_tokens, account["id"])


async def list_accounts(
    conn: asyncpg.Connection, *, branch: str | None = None
) -> list[dict[str, Any]]:
    """The accounts a branch sees (all for the national root, ``None``)."""
    return [dict(r) for r in await conn.fetch(SQL.list_accounts, branch)]


# --- what an administrator of a union branch may do to accounts ----------------------------


async def reachable_account(
    conn: asyncpg.Connection, *, account_id: int, branch: str | None
) -> asyncpg.Record:
    """An account the administrators of ``branch`` manage, else 404 or ``outside_branch``.

    Administrators and planners of the branch or below; operators whose stations are all
    under it (an operator without stations: the national root's only).
    """
    row = await conn.fetchrow(SQL.account_by_id, account_id)
    if row is None:
        raise NotFound(f"no account has the id {account_id}", code="account_not_found")
    if branch is None:
        return row
    if row["role"] == "operator":
        districts = list(row["station_districts"])
        ok = bool(districts) and all(branches.covers(branch, d) for d in districts)
    else:
        ok = branches.covers(branch, row["branch"])
    if not ok:
        raise branches.outside(
            branch, f"account {row['name']} is not under your branch", account=row["name"]
        )
    return row


async def add_branch_account(
    conn: asyncpg.Connection,
    *,
    by_branch: str | None,
    role: StaffRole,
    name: str,
    contact: str | None = None,
    station_ids: list[int] | None = None,
    branch: str | None = None,
) -> asyncpg.Record:
    """An administrator of ``by_branch`` creates an account under it (no bearer token:
    its owner sets a password with a one-time link). Planners and administrators belong
    to ``branch`` (default: ``by_branch``), which must be under ``by_branch``; an
    operator's stations must all be under it."""
    clean = " ".join((name or "").split())
    if not clean or len(clean) > 100:
        raise InvalidInput("name: 1-100 characters", field="name")
    if role == "operator":
        if not station_ids:
            raise InvalidInput(
                "station_ids: an operator runs one station or more", field="station_ids"
            )
        await branches.check_stations(conn, branch=by_branch, station_ids=station_ids)
        branch = None
    else:
        branch = branch or by_branch
        if not branches.covers(by_branch, branch):
            raise branches.outside(by_branch, f"branch {branch} is not under your branch")
    if await conn.fetchrow(SQL.account_by_name, clean) is not None:
        raise Conflict(
            f"an account is named {clean!r} already; choose another name", code="conflict"
        )
    account, _ = await add_account(
        conn,
        role=role,
        name=clean,
        contact=contact or None,
        station_ids=station_ids,
        branch=branch,
        token_days=None,
    )
    return account
