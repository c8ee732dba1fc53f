"""Throttled attempts: what a streak costs, and the rows it leaves behind.

The HTTP side (429 with Retry-After, shared by two app instances, lockout) is in
tests/api/test_staff_sessions.py; here the policy's arithmetic and the table's upkeep.
"""

from __future__ import annotations

import pytest

from stations.errors import TooManyAttempts
from stations.people import throttle

POLICY = throttle.Policy(free=3, lockout_after=10, lockout_s=900, max_delay_s=60)
SECRET = b"test secret"


def test_a_streak_is_free_then_doubles_up_to_the_cap_then_locks():
    waits = [POLICY.wait_after(n) for n in range(1, 11)]
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32, 900]
    assert throttle.Policy(free=0, lockout_after=50, lockout_s=1).wait_after(20) == 60


def test_keys_are_keyed_hashes_of_kind_and_value():
    one = throttle.key("staff_name", " 张三 ", POLICY, secret=SECRET)
    assert one == throttle.key("staff_name", "张三", POLICY, secret=SECRET)
    assert one.digest != throttle.key("member_no", "张三", POLICY, secret=SECRET).digest
    assert one.digest != throttle.key("staff_name", "张三", POLICY, secret=b"other").digest
    assert "张三".encode() not in one.digest and len(one.digest) == 32


async def test_guard_refuses_while_a_key_waits_and_failures_count(conn):
    key = throttle.key("staff_name", "张三", POLICY, secret=SECRET)
    other = throttle.key("staff_address", "10.0.0.1", POLICY, secret=SECRET)
    for _ in range(3):
        assert await throttle.failed(conn, [key, other]) == 0
    await throttle.guard(conn, [key, other])  # still free
    assert await throttle.failed(conn, [key]) == 1
    with pytest.raises(TooManyAttempts) as refused:
        await throttle.guard(conn, [other, key])
    assert refused.value.retry_after_s == 1
    await throttle.forget(conn, key)
    await throttle.guard(conn, [key, other])


async def test_forgotten_streaks_are_pruned_on_the_next_failure(conn):
    stale = throttle.key("staff_address", "10.0.0.9", POLICY, secret=SECRET)
    await throttle.failed(conn, [stale])
    await conn.execute(
        "UPDATE throttles SET last_failure_at = now() - interval '2 hours',"
        " blocked_until = now() - interval '2 hours'"
    )
    await throttle.failed(conn, [throttle.key("staff_name", "李四", POLICY, secret=SECRET)])
    kinds = [r["kind"] for r in await conn.fetch("SELECT kind FROM throttles")]
    assert kinds == ["staff_name"]
