"""The field table agrees with the schema, and everything said to derive from it does."""

from __future__ import annotations

import asyncpg
import pytest

from api.schemas import StationFields, StationOut
from stations.catalog import fields, rules
from stations.catalog.fields import FIELDS
from stations.catalog.fields import expand_sql as expand
from stations.sql import load
from tests.factories import create_station

_PG_TYPES = {
    "text": "text",
    "text[]": "text[]",
    "timestamptz": "timestamp with time zone",
    "jsonb": "jsonb",
}


async def _columns(conn: asyncpg.Connection, table: str) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch(
        """
        SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
               a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
        """,
        table,
    )
    return {r["name"]: r for r in rows}


async def test_every_field_is_a_column_of_its_type_nullability_and_default(conn):
    columns = await _columns(conn, "stations")
    for spec in FIELDS:
        column = columns[spec.name]
        assert column["type"] == _PG_TYPES[spec.sql_type], spec.name
        assert column["not_null"] == spec.not_null, spec.name
        if spec.default is not None:
            assert column["default"] is not None, spec.name
            value = await conn.fetchval(f"SELECT {column['default']}")
            expected = list(spec.default) if spec.sql_type == "text[]" else spec.default
            assert value == expected, spec.name


async def test_the_schema_refuses_exactly_what_the_limits_refuse(conn):
    station = await create_station(conn)
    for spec in FIELDS:
        if spec.limit is None:
            continue
        longest = "驿" * spec.limit
        await conn.execute(
            f"UPDATE stations SET {spec.name} = $1 WHERE id = $2", longest, station["id"]
        )
        with pytest.raises(asyncpg.CheckViolationError):
            async with conn.transaction():
                await conn.execute(
                    f"UPDATE stations SET {spec.name} = $1 WHERE id = $2",
                    longest + "站",
                    station["id"],
                )
        assert rules.TEXT_LIMITS[spec.name] == spec.limit


async def test_the_schema_accepts_the_vocabularies_and_nothing_else(conn):
    station = await create_station(conn)
    for spec in FIELDS:
        if spec.vocabulary is None:
            continue
        for value in spec.vocabulary:
            sent = [value] if spec.sql_type == "text[]" else value
            await conn.execute(
                f"UPDATE stations SET {spec.name} = $1 WHERE id = $2", sent, station["id"]
            )
        wrong = ["teleporter"] if spec.sql_type == "text[]" else "teleporter"
        with pytest.raises(asyncpg.CheckViolationError):
            async with conn.transaction():
                await conn.execute(
                    f"UPDATE stations SET {spec.name} = $1 WHERE id = $2", wrong, station["id"]
                )


async def test_the_staging_table_is_built_from_the_table(conn):
    queries = load("import", expand=expand)
    async with conn.transaction():
        await conn.execute(queries.drop_rows_table)
        await conn.execute(queries.create_rows_table)
        columns = await _columns(conn, "import_rows")
        order = await conn.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'import_rows'::regclass "
            "AND attnum > 0 ORDER BY attnum"
        )
    assert [r["attname"] for r in order] == list(fields.STAGED_COLUMNS)  # the COPY order
    for spec in FIELDS:
        assert columns[spec.name]["type"] == _PG_TYPES[spec.sql_type], spec.name
        assert columns[spec.name]["not_null"] == spec.not_null, spec.name


def test_sql_column_lists_and_api_models_follow_the_table():
    names = ", ".join(fields.STATION_FIELDS)
    assert expand("INSERT INTO stations ({{fields}})") == f"INSERT INTO stations ({names})"
    assert expand("{{fields r}}").split(", ") == [f"r.{n}" for n in fields.STATION_FIELDS]
    provided = expand("{{provided r s $2}}")
    assert "r.name AS name" in provided
    assert "CASE WHEN 'district' = ANY($2) THEN r.district ELSE s.district END" in provided
    with pytest.raises(ValueError, match="unknown SQL macro"):
        expand("{{nonsense}}")
    assert set(StationFields.model_fields) == {
        *fields.STATION_FIELDS,
        "lat",
        "lng",
        "crs",
        "reason",
    }
    public = set(StationOut.model_fields) - {"id", "code", "position", "version", "updated_at"}
    assert public == set(fields.PUBLIC_FIELDS)
    assert "attributes" not in public
