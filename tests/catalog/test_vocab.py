"""The database's CHECK constraints and stations/vocab.py name the same values."""

from __future__ import annotations

import re

from stations.catalog import vocab


async def _check_values(conn, column: str) -> set[str]:
    definition = await conn.fetchval(
        """
        SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
        WHERE c.conrelid = 'stations'::regclass AND c.contype = 'c'
          AND pg_get_constraintdef(c.oid) LIKE '%(' || $1 || ' %'
        """,
        column,
    )
    assert definition, f"no CHECK constraint found for {column}"
    return set(re.findall(r"'([a-z_]+)'::text", definition))


async def test_amenities_match(conn):
    assert await _check_values(conn, "amenities") == set(vocab.AMENITIES)


async def test_kinds_statuses_and_access_rules_match(conn):
    assert await _check_values(conn, "kind") == {k.value for k in vocab.Kind}
    assert await _check_values(conn, "status") == {s.value for s in vocab.Status}
    assert await _check_values(conn, "access") == {a.value for a in vocab.Access}


def test_every_value_has_chinese_and_english_labels():
    assert set(vocab.KIND_LABELS) == set(vocab.Kind)
    assert set(vocab.STATUS_LABELS) == set(vocab.Status)
    assert set(vocab.ACCESS_LABELS) == set(vocab.Access)
    for zh, en in [*vocab.AMENITIES.values(), *vocab.KIND_LABELS.values()]:
        assert zh and en
