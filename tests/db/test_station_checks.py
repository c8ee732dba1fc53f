"""The catalog's pattern checks on code, source and country_code (migration 0030 tests
bytes instead of characters) accept exactly what the checks before them accepted."""

from __future__ import annotations

import asyncpg
import pytest

from tests.factories import create_station

# The checks as migration 0010 wrote them.
BEFORE = {
    "code": "length($1) BETWEEN 4 AND 12 AND btrim($1, '0123456789ABCDEFGHJKMNPQRSTVWXYZ') = ''",
    "source": "length($1) BETWEEN 1 AND 64 "
    "AND btrim($1, 'abcdefghijklmnopqrstuvwxyz0123456789_.-') = '' "
    "AND btrim(left($1, 1), 'abcdefghijklmnopqrstuvwxyz0123456789') = ''",
    "country_code": "length($1) = 2 AND btrim($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') = ''",
}
VALUES = {
    "code": [
        "ABCD",
        "ABCDEF",
        "0123456789AB",
        "ABCDEFGHJKMNP",
        "ABC",
        "abcdef",
        "ABCDEI",
        "ABCDEL",
        "ABCDEO",
        "ABCDEU",
        "AB CD",
        "ÀBCDEF",
        "驿站驿站",
        "ＡＢＣＤ",
        "ABCD\u00a0",
        "ABCD-",
        "",
    ],
    "source": [
        "union",
        "a",
        "9",
        "a.b-c_d",
        "x" * 64,
        "x" * 65,
        "",
        "_a",
        ".a",
        "-a",
        "a_",
        "A",
        "a b",
        "é",
        "驿站",
        "ａ",
        "a\u00e9",
    ],
    "country_code": ["CN", "FR", "cn", "C", "CHN", "Ｃ", "ÉT", "C1", "", "C N"[0:2]],
}


@pytest.mark.parametrize("column", sorted(VALUES))
async def test_each_value_is_accepted_exactly_when_it_was(conn, column):
    station = await create_station(conn)
    accepted, expected = [], []
    for value in VALUES[column]:
        expected.append(await conn.fetchval(f"SELECT {BEFORE[column]}", value))
        try:
            async with conn.transaction():
                await conn.execute(
                    f"UPDATE stations SET {column} = $1 WHERE id = $2", value, station["id"]
                )
                raise _Undo
        except _Undo:
            accepted.append(True)
        except asyncpg.CheckViolationError as error:
            assert error.constraint_name == f"stations_{column}_check"
            accepted.append(False)
    assert accepted == expected
    assert any(accepted) and not all(accepted)  # both kinds of value are tried


class _Undo(Exception):
    """Leaves the savepoint without keeping the update."""
