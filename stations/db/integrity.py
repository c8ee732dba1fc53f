"""Database refusals to domain errors, at one point.

The rules of members, campaigns, stock, claims and ratings are constraints in
``0003_visits.sql``; when PostgreSQL refuses a write, :func:`translating` turns the
violated constraint into the domain error that tells the caller what to do. A
constraint not listed here still becomes a domain error (never a 500), with a generic
sentence naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from stations.errors import Conflict, InvalidInput, NotFound, StationsError

# constraint name -> (error class, detail)
_KNOWN: dict[str, tuple[type[StationsError], str]] = {
    "water_stock_remaining_not_negative": (
        Conflict,
        "more bottles were handed out today than this allocation; "
        "set an allocation at least as large as what was already handed out",
    ),
    "water_stock_remaining_within_allocated": (
        InvalidInput,
        "remaining bottles cannot exceed the allocation",
    ),
    "prize_pools_remaining_not_negative": (
        Conflict,
        "more prizes of this pool were already awarded; the total cannot be lower",
    ),
    "prize_pools_remaining_within_total": (
        InvalidInput,
        "a prize pool cannot have more left than its total",
    ),
    "campaigns_name_key": (Conflict, "a campaign with this name exists; choose another name"),
    "campaigns_dates_ordered": (InvalidInput, "ends_on must not be before starts_on"),
    "campaigns_hours_ordered": (InvalidInput, "daily_end must be after daily_start"),
    "campaigns_daily_quota_check": (InvalidInput, "daily_quota must be 1 to 20 bottles"),
    "campaigns_geofence_m_check": (InvalidInput, "geofence_m must be 10 to 5000 metres"),
    "campaigns_name_check": (InvalidInput, "name must be 1-200 characters"),
    "water_stock_allocated_check": (InvalidInput, "allocated must be 0 to 1,000,000 bottles"),
    "prize_pools_campaign_id_name_key": (
        Conflict,
        "this campaign already has a prize with this name",
    ),
    "accounts_name_key": (Conflict, "an account with this name exists; choose another name"),
    "members_member_no_key": (Conflict, "a member with this number exists"),
    "operator_stations_station_id_fkey": (NotFound, "no station has this id"),
    "campaign_stations_station_id_fkey": (NotFound, "no station has this id"),
    "campaign_stations_campaign_id_fkey": (NotFound, "no campaign has this id"),
    "accounts_branch_fkey": (
        NotFound,
        "no union branch has this code; see `stations branches list`",
    ),
    "campaigns_branch_fkey": (
        NotFound,
        "no union branch has this code; see `stations branches list`",
    ),
    "campaigns_daily_allocation_check": (
        InvalidInput,
        "daily_allocation must be 0 to 1,000,000 bottles",
    ),
    "water_defaults_daily_allocation_check": (
        InvalidInput,
        "daily_allocation must be 0 to 1,000,000 bottles",
    ),
    "operator_stations_account_id_role_fkey": (
        InvalidInput,
        "only operator accounts can run stations",
    ),
}


@contextmanager
def translating() -> Iterator[None]:
    """Run database writes; constraint violations leave as domain errors."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        name = getattr(exc, "constraint_name", None) or ""
        known = _KNOWN.get(name)
        if known is not None:
            cls, detail = known
            raise cls(detail) from exc
        if isinstance(exc, asyncpg.UniqueViolationError):
            raise Conflict(f"this already exists ({name})") from exc
        if isinstance(exc, asyncpg.ForeignKeyViolationError):
            raise NotFound(f"a referenced record does not exist ({name})") from exc
        raise InvalidInput(f"the database refused the values ({name or exc.sqlstate})") from exc
