"""Claims under concurrency and faults: nothing acknowledged is lost, no rule is broken.

    .venv/bin/python bench/faults.py [--claims 20000] [--clients 48]

Builds the claims benchmark's database (``bench/claims.py``: 1,000 water points with
stock, 20,000 members, a campaign with a prize pool) and starts the server the way
``stations serve`` does. Then ``--clients`` riders claim at once, each claim with its
own Idempotency-Key (one in five by 500 busy members, so the daily quota of 5 is reached
and fought over), and behave like the rider page: a dropped connection or a ``503``
is sent again with the same key and body until it gets an answer. Meanwhile:

1. the server is killed with ``kill -9`` three times (and started again at once);
2. PostgreSQL is shut down immediately (SIGQUIT to the postmaster: no checkpoint, crash
   recovery on start) and started again, twice;
3. PostgreSQL is stopped for ``--outage`` seconds (10) while the riders keep claiming:
   every answer in that time must be a JSON ``503`` with ``Retry-After``, and the time
   from the database answering again to the first granted claim is printed.

When ``--claims`` claims have been answered, it checks in the database: every claim a
rider was told was granted is there under its key with the same claim code; no member
over the daily quota; no negative stock; bottles taken equal the claims; prizes awarded
equal the pools' decrements; no request left without a stored answer; every request
answered 2xx/4xx/503 (never another 5xx). It prints each check and exits 1 on any
violation.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from claims import DATABASE, free_port, invariants, prepare, start_server  # noqa: E402

from stations.db import admin as dbadmin  # noqa: E402
from stations.db import connection as dbconn  # noqa: E402
from stations.db import embedded  # noqa: E402
from stations.settings import Settings  # noqa: E402

BUSY_MEMBERS = 500
GIVE_UP_S = 120.0  # a rider sending the same claim again for this long gives up


def say(message: str) -> None:
    print(f"[faults] {message}", flush=True)


@dataclass
class Tally:
    granted: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> claim code
    refused: dict[str, int] = field(default_factory=dict)  # rule code -> count
    answered: int = 0
    retries: int = 0
    dropped: int = 0  # connection errors (server killed, restarting)
    json_503: int = 0
    other_5xx: list[str] = field(default_factory=list)
    bad_503: list[str] = field(default_factory=list)  # a 503 without JSON or Retry-After
    gave_up: int = 0
    outage: tuple[float, float] | None = None  # database down from, back at (monotonic)
    first_grant_after_outage: float | None = None


class Server:
    """The service as `stations serve` runs it; killed and started again on demand."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process = start_server(port)

    def kill_and_restart(self) -> float:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        started = time.monotonic()
        self.process = start_server(self.port)
        return time.monotonic() - started

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def postmaster_pid(settings: Settings) -> int:
    pid = embedded.running_pid(embedded.layout(settings.db))
    if pid is None:
        raise SystemExit("the project's PostgreSQL is not running")
    return pid


def stop_postgres_immediately(settings: Settings) -> None:
    """SIGQUIT to the postmaster is PostgreSQL's immediate shutdown: the next start recovers."""
    pid = postmaster_pid(settings)
    os.kill(pid, signal.SIGQUIT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise SystemExit("PostgreSQL did not stop after SIGQUIT")


async def rider(
    http: httpx.AsyncClient,
    tally: Tally,
    numbers: itertools.count,
    member_tokens: list[str],
    bodies: list[str],
    target: int,
) -> None:
    rng = random.Random()
    while tally.answered < target:
        n = next(numbers)
        key = f"f-{n}"
        # One claim in five comes from a few busy members (the first 500), so the daily
        # quota is reached and fought over while the faults happen.
        member = n % BUSY_MEMBERS if n % 5 == 0 else (n * 7919) % len(member_tokens)
        token = member_tokens[member]
        body = bodies[rng.randrange(len(bodies))]
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        }
        first_try = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await http.post("/v1/claims", content=body, headers=headers)
            except httpx.HTTPError:
                tally.dropped += 1
                response = None
            if response is not None and response.status_code < 500:
                break
            if response is not None:
                if response.status_code == 503:
                    is_json = response.headers.get("content-type", "").endswith("json")
                    if is_json and response.headers.get("retry-after"):
                        tally.json_503 += 1
                    else:
                        tally.bad_503.append(f"{response.headers} {response.text[:200]}")
                else:
                    tally.other_5xx.append(f"{response.status_code} {response.text[:200]}")
            if time.monotonic() - first_try > GIVE_UP_S:
                tally.gave_up += 1
                response = None
                break
            tally.retries += 1
            await asyncio.sleep(min(0.2 * attempt, 2.0))
        if response is None:
            continue
        tally.answered += 1
        answer = response.json()
        if response.status_code == 201:
            tally.granted[key] = answer["claim_code"]
            now = time.monotonic()
            back_at = tally.outage[1] if tally.outage else 0.0
            if back_at and now >= back_at and tally.first_grant_after_outage is None:
                tally.first_grant_after_outage = now - back_at
        else:
            rule = answer.get("code", str(response.status_code))
            tally.refused[rule] = tally.refused.get(rule, 0) + 1


async def wait_for_share(tally: Tally, share: float, target: int) -> None:
    # A look at a counter ten times a second: the riders need not signal each answer.
    while tally.answered < share * target:  # noqa: ASYNC110
        await asyncio.sleep(0.1)


async def chaos(settings: Settings, server: Server, tally: Tally, target: int, outage_s: float):
    """The faults, spread over the run by the share of claims answered."""
    plan = [
        (0.10, "kill"),
        (0.22, "postgres"),
        (0.35, "kill"),
        (0.50, "outage"),
        (0.65, "postgres"),
        (0.80, "kill"),
    ]
    for share, fault in plan:
        await wait_for_share(tally, share, target)
        if fault == "kill":
            spent = await asyncio.to_thread(server.kill_and_restart)
            say(
                f"kill -9 of the server at {tally.answered} answers; serving again in {spent:.1f} s"
            )
        elif fault == "postgres":
            await asyncio.to_thread(stop_postgres_immediately, settings)
            started = time.monotonic()
            await asyncio.to_thread(embedded.start, settings.db)
            say(
                f"PostgreSQL immediate shutdown at {tally.answered} answers; "
                f"recovered and accepting in {time.monotonic() - started:.1f} s"
            )
        else:
            await asyncio.to_thread(stop_postgres_immediately, settings)
            down_at = time.monotonic()
            tally.outage = (down_at, 0.0)
            before = tally.json_503
            await asyncio.sleep(outage_s)
            await asyncio.to_thread(embedded.start, settings.db)
            back_at = time.monotonic()
            tally.outage = (down_at, back_at)
            say(
                f"PostgreSQL down for {back_at - down_at:.1f} s at {tally.answered} answers: "
                f"{tally.json_503 - before} JSON 503 answers with Retry-After meanwhile"
            )


async def run(args: argparse.Namespace, settings: Settings) -> Tally:
    say(f"preparing {DATABASE} (1,000 water points, 20,000 members, a prize pool) ...")
    member_tokens, bodies = await prepare(settings)
    port = free_port()
    server = await asyncio.to_thread(Server, port)
    tally = Tally()
    numbers = itertools.count()
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
        ) as http:
            riders = [
                asyncio.create_task(rider(http, tally, numbers, member_tokens, bodies, args.claims))
                for _ in range(args.clients)
            ]
            await chaos(settings, server, tally, args.claims, args.outage)
            await asyncio.gather(*riders)
    finally:
        await asyncio.to_thread(server.stop)
    say(
        f"{tally.answered} claims answered in {time.monotonic() - started:.0f} s by "
        f"{args.clients} riders: {len(tally.granted)} granted, "
        f"{sum(tally.refused.values())} refused {dict(sorted(tally.refused.items()))}; "
        f"{tally.retries} sent again ({tally.dropped} dropped connections, "
        f"{tally.json_503} JSON 503)"
    )
    return tally


async def lost_grants(settings: Settings, granted: dict[str, str]) -> list[str]:
    """Keys whose granted claim is not in the database under the code the rider was told."""
    conn = await dbconn.connect(settings.db, database=DATABASE)
    try:
        rows = await conn.fetch(
            "SELECT idempotency_key, claim_code(id) AS code FROM claims "
            "WHERE idempotency_key = ANY($1::text[])",
            list(granted),
        )
    finally:
        await conn.close()
    stored = {r["idempotency_key"]: r["code"] for r in rows}
    return [key for key, code in granted.items() if stored.get(key) != code]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=20_000, help="claims to answer")
    parser.add_argument("--clients", type=int, default=48, help="riders claiming at once")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds PostgreSQL is down")
    parser.add_argument("--keep", action="store_true", help=f"keep the {DATABASE} database")
    args = parser.parse_args()
    settings = Settings()
    if not settings.db.embedded:
        raise SystemExit(
            "this run stops and starts the project's own PostgreSQL: unset DATABASE_URL"
        )
    embedded.start(settings.db)
    tally = asyncio.run(run(args, settings))
    facts = asyncio.run(invariants(settings))
    lost = asyncio.run(lost_grants(settings, tally.granted))
    if not args.keep:
        asyncio.run(dbadmin.drop_database(settings.db, DATABASE))
    checks = [
        ("claims answered", tally.answered >= args.claims, f"{tally.answered}"),
        ("acknowledged grants lost", not lost, f"{len(lost)} of {len(tally.granted)}"),
        ("members over the daily quota", facts["members_over_quota"] == 0, "0"),
        ("stock below zero", facts["negative_stock"] == 0, "0"),
        (
            "bottles taken = claims",
            facts["stock_consumed"] == facts["claims"],
            f"{facts['stock_consumed']} = {facts['claims']}",
        ),
        (
            "prizes awarded = prize pool decrements",
            facts["prizes_awarded"] == facts["prizes_taken"],
            f"{facts['prizes_awarded']} = {facts['prizes_taken']}",
        ),
        (
            "granted answers stored = claims",
            facts["granted_answers"] == facts["claims"],
            f"{facts['granted_answers']} = {facts['claims']}",
        ),
        ("requests without a stored answer", facts["unanswered"] == 0, f"{facts['unanswered']}"),
        ("answers ≥ 500 other than a JSON 503", not tally.other_5xx, f"{len(tally.other_5xx)}"),
        ("503 without JSON or Retry-After", not tally.bad_503, f"{len(tally.bad_503)}"),
        ("claims given up after two minutes", tally.gave_up == 0, f"{tally.gave_up}"),
    ]
    if tally.first_grant_after_outage is not None:
        recovered = tally.first_grant_after_outage
        checks.append(
            ("first grant ≤ 2 s after the database is back", recovered <= 2.0, f"{recovered:.2f} s")
        )
    else:
        checks.append(("a grant after the database came back", False, "none"))
    violations = 0
    for name, ok, figure in checks:
        violations += not ok
        say(f"{'ok  ' if ok else 'FAIL'} {name}: {figure}")
    for sample in (tally.other_5xx + tally.bad_503)[:5]:
        say(f"  e.g. {sample}")
    say(f"{violations} violations")
    sys.exit(1 if violations else 0)


if __name__ == "__main__":
    main()
