"""Features of a collection from PostGIS: a page, how many match, one feature, the extent.

A page's WHERE clause is written here from the parsed request: the collection's kinds,
the plain query parameters and the CQL2 filter (:mod:`stations.ogc.filter`), each a
condition over a fixed column with its values as ``$n`` parameters; then the keyset
condition of the page (sort key and id after the cursor's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from stations.catalog.fields import expand_sql
from stations.errors import NotFound
from stations.ogc import filter as cql2
from stations.ogc.collections import Collection
from stations.ogc.params import BY_ID, FeatureQuery, Interval
from stations.sql import load

SQL = load("ogc", expand=expand_sql)


@dataclass(frozen=True)
class Page:
    rows: list[asyncpg.Record]
    matched: int
    more: bool
    """True when a next page exists (its cursor is made from the last row)."""


@dataclass(frozen=True)
class Extent:
    bbox: tuple[float, float, float, float] | None  # WGS84 west, south, east, north
    first_update: datetime | None
    last_update: datetime | None


def _interval(column: str, interval: Interval, params: cql2.SqlParams) -> list[str]:
    out = []
    if interval.start is not None:
        out.append(f"{column} >= {params.add(interval.start, 'timestamptz')}")
    if interval.end is not None:
        out.append(f"{column} <= {params.add(interval.end, 'timestamptz')}")
    return out


def conditions(query: FeatureQuery, params: cql2.SqlParams) -> list[str]:
    """What every feature of the answer satisfies, as SQL over ``stations s``."""
    where: list[str] = []
    if query.kinds is not None:
        where.append(f"s.kind = ANY({params.add(query.kinds, 'text[]')})")
    if query.amenities:
        where.append(f"s.amenities @> {params.add(query.amenities, 'text[]')}")
    if query.statuses is not None:
        where.append(f"s.status = ANY({params.add(query.statuses, 'text[]')})")
    if query.district is not None:
        district = params.add(query.district, "text")
        where.append(f"(s.district = {district} OR s.district_code = {district})")
    if query.bbox is not None:
        west, south, east, north = (params.add(v, "float8") for v in query.bbox)
        if query.bbox[0] <= query.bbox[2]:
            where.append(
                f"s.geom::geometry && ST_MakeEnvelope({west}, {south}, {east}, {north}, 4326)"
            )
        else:  # across the antimeridian: two boxes
            where.append(
                f"(s.geom::geometry && ST_MakeEnvelope({west}, {south}, 180, {north}, 4326)"
                f" OR s.geom::geometry && ST_MakeEnvelope(-180, {south}, {east}, {north}, 4326))"
            )
    if query.updated is not None:
        where += _interval("s.updated_at", query.updated, params)
    if query.verified is not None:
        where += _interval("s.verified_at", query.verified, params)
    if query.filter is not None:
        where.append(cql2.to_sql(query.filter, params, crs=query.filter_crs))
    return where


def _keyset(query: FeatureQuery, params: cql2.SqlParams) -> tuple[str | None, str]:
    """The condition that starts the page after the cursor, and the ORDER BY."""
    sort, cursor = query.sort, query.cursor
    if sort == BY_ID:
        after = f"s.id > {params.add(cursor.after_id, 'int8')}" if cursor.after_id else None
        return after, "s.id"
    direction = "DESC" if sort.descending else "ASC"
    order = f"{sort.sql} {direction}, s.id"
    if cursor.value is None:
        return None, order
    cast = {"updated_at": "timestamptz", "id": "int8"}.get(sort.name, "text")
    value = params.add(cursor.value, cast)
    after_id = params.add(cursor.after_id, "int8")
    beyond = "<" if sort.descending else ">"
    return f"({sort.sql} {beyond} {value} OR ({sort.sql} = {value} AND s.id > {after_id}))", order


async def feature_page(conn: asyncpg.Connection, query: FeatureQuery) -> Page:
    """One page after ``query.cursor`` in the sort order, and how many match in all."""
    params = cql2.SqlParams()
    where = conditions(query, params)
    count_sql = SQL.matched + (f"\nWHERE {' AND '.join(where)}" if where else "")
    count_values = list(params.values)
    after, order = _keyset(query, params)
    page_where = [*where, after] if after else where
    limit = params.add(query.limit + 1, "int8")
    page_sql = (
        SQL.features
        + (f"\nWHERE {' AND '.join(page_where)}" if page_where else "")
        + f"\nORDER BY {order}\nLIMIT {limit}"
    )
    # One-off prepared statements: custom plans, so the indexes of the conditions given
    # are used (a generic plan for every shape of request could not).
    try:
        rows = await (await conn.prepare(page_sql)).fetch(*params.values)
        matched = await (await conn.prepare(count_sql)).fetchval(*count_values)
    except asyncpg.DataError as exc:  # e.g. an invalid geometry in S_INTERSECTS
        raise cql2.bad_value(str(exc)) from None
    more = len(rows) > query.limit
    return Page(rows=rows[: query.limit], matched=matched, more=more)


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
