"""Features of a collection from PostGIS: a page, how many match, one feature, the extent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from stations.catalog.fields import expand_sql
from stations.errors import NotFound
from stations.ogc.collections import Collection
from stations.ogc.params import FeatureQuery
from stations.sql import load

SQL = load("ogc", expand=expand_sql)


@dataclass(frozen=True)
class Page:
    rows: list[asyncpg.Record]
    matched: int
    next_after: int | None
    """The id the next page starts after; None on the last page."""


@dataclass(frozen=True)
class Extent:
    bbox: tuple[float, float, float, float] | None  # WGS84 west, south, east, north
    first_update: datetime | None
    last_update: datetime | None


def _conditions(query: FeatureQuery) -> tuple[object, ...]:
    updated, verified = query.updated, query.verified
    return (
        query.kinds,
        query.amenities,
        query.statuses,
        query.district,
        query.bbox,
        updated.start if updated else None,
        updated.end if updated else None,
        verified.start if verified else None,
        verified.end if verified else None,
    )


async def feature_page(conn: asyncpg.Connection, query: FeatureQuery) -> Page:
    """One page in id order after ``query.after``, and how many features match in all."""
    conditions = _conditions(query)
    # One-off prepared statements get custom plans: conditions whose parameter is NULL
    # drop out and the remaining ones use their indexes.
    items = await conn.prepare(SQL.items)
    rows = await items.fetch(*conditions, query.after, query.limit + 1)
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    matched = await (await conn.prepare(SQL.matched)).fetchval(*conditions)
    return Page(rows=rows, matched=matched, next_after=rows[-1]["id"] if more else None)


async def one_feature(
    conn: asyncpg.Connection, collection: Collection, feature_id: str
) -> asyncpg.Record:
    """The station ``feature_id`` when it belongs to ``collection``; 404 otherwise."""
    row = None
    if feature_id.isascii() and feature_id.isdigit() and len(feature_id) <= 18:
        row = await conn.fetchrow(SQL.feature, int(feature_id), collection.kind_filter)
    if row is None:
        raise NotFound(
            f"collection {collection.id!r} holds no feature {feature_id!r}; "
            f"list its items to find one (/ogc/collections/{collection.id}/items)",
            code="feature_not_found",
            collection=collection.id,
            feature_id=feature_id,
        )
    return row


async def collection_extent(conn: asyncpg.Connection, collection: Collection) -> Extent:
    row = await conn.fetchrow(SQL.extent, collection.kind_filter)
    bbox = None
    if row["west"] is not None:
        bbox = (row["west"], row["south"], row["east"], row["north"])
    return Extent(bbox=bbox, first_update=row["first_update"], last_update=row["last_update"])
