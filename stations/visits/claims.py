"""Claiming a free bottle by scanning a station's QR code, and the staff hand-over.

A claim is checked in two steps. :func:`claim_request` checks what needs no database:
the Idempotency-Key, the QR signature and the position. Then one call of the database
function ``claim_water_batch`` (``0009_claims_in_batches.sql``, ``0012``) checks
everything that depends on the database's state, decrements stock, draws a prize,
inserts the claim and stores the answer under the member's ``Idempotency-Key``, all
before one commit; the station's opening hours, which only Python evaluates, come with
each claim (:mod:`stations.visits.opening`). :func:`decide` runs that transaction for
one claim or several; :class:`ClaimDesk` lets a server worker decide the claims that
arrive together in one such transaction.

Idempotency: the first answer to a key (granted or refused) is stored and returned
again for the same request, even after a restart, before any rule is checked again:
a retry whose QR code was since retired, or whose signing key was removed, still gets
its stored answer (:meth:`ClaimDesk.claim_scanned` looks it up when the code fails its
check, so a new claim spends no extra round trip). The same key with a different
request is refused. Answers are rebuilt from the stored facts by pure functions, so a
replay is byte-for-byte the first answer. A refusal is final for its key: a member who
wants to try again later (after a top-up, say) sends a new key.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from stations.db.integrity import translating
from stations.errors import (
    DatabaseUnavailable,
    Forbidden,
    IdempotencyKeyReused,
    Ineligible,
    InvalidCode,
    InvalidInput,
    NotFound,
    Refused,
    StationsError,
    Unauthorized,
)
from stations.people import branches
from stations.settings import SecuritySettings
from stations.sql import load
from stations.visits.opening import Opening, StationHours
from stations.visits.scan import read_scan

SQL = load("visits")

IDEMPOTENCY_KEY_MAX = 100
DEADLOCK_RETRIES = 3
CLAIM_LOG_DAYS = 30
"""How long the answer to a claim request is kept (``stations campaigns expire-claim-log``)."""


@dataclass(frozen=True)
class ClaimResult:
    """A granted claim: the stored answer, and whether this is a replay of it."""

    body: dict[str, Any]
    replayed: bool


def validate_idempotency_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise InvalidInput(
            "Idempotency-Key: send a header with a new unique value (e.g. a UUID) for each "
            "claim, and the same value when retrying that claim",
            field="Idempotency-Key",
        )
    if len(key) > IDEMPOTENCY_KEY_MAX or not key.isascii() or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key: use up to {IDEMPOTENCY_KEY_MAX} printable ASCII characters",
            field="Idempotency-Key",
        )
    return key


def request_fingerprint(
    *, code: str, lat: float, lng: float, crs: str | None, security: SecuritySettings
) -> bytes:
    """Keyed hash of what was asked; keyed because it is derived from the member's position."""
    canonical = orjson.dumps(
        {"code": code.strip(), "lat": lat, "lng": lng, "crs": (crs or "wgs84").lower()},
        option=orjson.OPT_SORT_KEYS,
    )
    key = security.pii_hash_key.get_secret_value().encode()
    return hmac.new(key, b"claim:" + canonical, hashlib.sha256).digest()


def refusal(reason: str, facts: dict[str, Any]) -> StationsError:
    """The domain error for a stored refusal: its rule as code, its words and its facts.

    Built only from what the database stored with the answer (``facts``), so a replay
    (same Idempotency-Key) is byte for byte the first answer, code and facts included.
    """
    if reason == "member_suspended":
        return Ineligible(
            "member_suspended",
            "your union membership is suspended; ask your union branch to reinstate it",
        )
    if reason == "outside_geofence":
        return Ineligible(
            "outside_geofence",
            f"you are {facts['distance_m']:.0f} m from the station; claims are accepted within "
            f"{facts['geofence_m']} m, so scan again at the station",
            distance_m=round(facts["distance_m"]),
            radius_m=facts["geofence_m"],
        )
    if reason == "unknown_station":
        return InvalidCode(
            "invalid_code",
            f"no station has the code {facts['station_code']} any more; "
            "ask the staff for the current poster",
        )
    if reason == "station_closed":
        return Refused(
            "station_closed",
            f"this station is {facts['station_status'].replace('_', ' ')} and hands out no water",
            station_status=facts["station_status"],
        )
    if reason == "station_not_open":
        reopens = facts.get("next_open")
        if reopens is None:
            return Refused(
                "station_not_open",
                "this station's opening hours say it is closed now, and they name no day it "
                "opens again; ask its operator",
                next_open=None,
            )
        return Refused(
            "station_not_open",
            f"this station's opening hours say it is closed now; it opens at {reopens[:10]} "
            f"{reopens[11:16]} (its local time): come back then",
            next_open=reopens,
        )
    if reason == "campaign_closed":
        if "daily_start" in facts:
            return Refused(
                "campaign_closed",
                f"water is handed out here from {facts['daily_start']} to "
                f"{facts['daily_end']} local time; come back then",
                daily_start=facts["daily_start"],
                daily_end=facts["daily_end"],
            )
        return Refused("campaign_closed", "no water campaign runs at this station today")
    if reason == "station_not_in_campaign":
        return Refused(
            "station_not_in_campaign",
            "this station does not take part in today's water campaign; "
            "look for a participating water point nearby",
        )
    if reason == "quota_used":
        quota = facts["daily_quota"]
        bottles = "bottle" if quota == 1 else "bottles"
        return Refused(
            "quota_used",
            f"you have claimed your {quota} {bottles} for today; come back tomorrow",
            daily_quota=quota,
        )
    if reason == "out_of_stock":
        if not facts.get("stock_set"):
            return Refused(
                "out_of_stock",
                "this station has not set today's water stock yet; ask the staff",
                stock_set=False,
            )
        return Refused(
            "out_of_stock",
            "this station has no bottles left today; try another water point nearby",
            stock_set=True,
        )
    # claim_water_batch gives no other outcome; a rule added there before its words
    # here still refuses, with a code clients know.
    return Refused("claim_refused", f"the claim was refused ({reason})")


@dataclass(frozen=True)
class ClaimRequest:
    """One claim, checked as far as it can be without the database."""

    token_digest: bytes
    idempotency_key: str
    fingerprint: bytes
    station_code: str
    lat: float  # WGS84
    lng: float
    cell: int  # H3 cell at the visit-location resolution


def claim_request(
    *,
    token_digest: bytes,
    idempotency_key: str | None,
    code: str,
    lat: float,
    lng: float,
    crs: str | None,
    security: SecuritySettings,
    visit_resolution: int,
) -> ClaimRequest:
    """Check the key, the QR signature and the position; raise what is wrong with them."""
    key = validate_idempotency_key(idempotency_key)
    scan = read_scan(
        code=code, lat=lat, lng=lng, crs=crs, security=security, resolution=visit_resolution
    )
    return ClaimRequest(
        token_digest=token_digest,
        idempotency_key=key,
        fingerprint=request_fingerprint(code=code, lat=lat, lng=lng, crs=crs, security=security),
        station_code=scan.station_code,
        lat=scan.lat,
        lng=scan.lng,
        cell=scan.cell,
    )


def batch_arguments(
    requests: Sequence[ClaimRequest], openings: Sequence[Opening] | None = None
) -> tuple[list[Any], ...]:
    """The arguments of ``claim_water_batch``: one array per field, in request order.

    ``openings`` are the stations' opening hours at the claims (none given: open).
    """
    shut = openings if openings is not None else [Opening(closed=False)] * len(requests)
    return (
        [r.token_digest for r in requests],
        [r.idempotency_key for r in requests],
        [r.fingerprint for r in requests],
        [r.station_code for r in requests],
        [r.lat for r in requests],
        [r.lng for r in requests],
        [r.cell for r in requests],
        [o.closed for o in shut],
        [o.next_open for o in shut],
    )


async def decide(
    conn: asyncpg.Connection,
    requests: Sequence[ClaimRequest],
    openings: Sequence[Opening] | None = None,
) -> list[Any]:
    """Decide claims in one transaction; one database answer per request, in order.

    The member of each is whoever its ``token_digest`` (SHA-256 of the bearer token)
    belongs to; the database checks the token in the claims' own transaction.
    ``openings`` are the stations' opening hours now, in request order; without them
    they are read here (a :class:`ClaimDesk` keeps them between batches).
    """
    if openings is None:
        codes = [r.station_code for r in requests]
        openings = await StationHours(keep_s=0).openings(conn, codes, datetime.now(UTC))
    for attempt in range(DEADLOCK_RETRIES):
        try:
            with translating():
                answers: list[Any] = await conn.fetchval(
                    SQL.claim_water_batch, *batch_arguments(requests, openings)
                )
            return answers
        except asyncpg.DeadlockDetectedError:
            # The whole transaction was rolled back, keys included: running it again is
            # the same requests. The claims' lock order makes this a safety net only.
            if attempt == DEADLOCK_RETRIES - 1:
                raise DatabaseUnavailable(
                    "the database is too busy to decide this claim; retry with the same "
                    "Idempotency-Key"
                ) from None
    raise AssertionError("unreachable")


def outcome(answer: Any) -> ClaimResult:
    """A database answer as the granted claim, or the error naming the rule that refused it."""
    result = answer["outcome"]
    if result == "granted":
        return ClaimResult(body=answer["response"], replayed=answer["replayed"])
    if result == "token_invalid":
        raise Unauthorized("the bearer token is not valid (expired, revoked or mistyped)")
    if result == "not_a_member":
        role = answer["response"]["role"]
        raise Forbidden(
            f"this needs the role member; you are {role}",
            code="role_required",
            roles=["member"],
            role=role,
        )
    if result == "idempotency_key_reused":
        raise IdempotencyKeyReused(
            "idempotency_key_reused: this Idempotency-Key already answered a different "
            "claim request; send a new key for a new claim and the same body when retrying"
        )
    raise refusal(result, answer["response"])


class ClaimDesk:
    """Decides a server worker's claims in batches: group commit for water claims.

    A claim that arrives while fewer than ``in_flight`` batches are in the database
    goes at once, alone; the claims that arrive meanwhile wait for the next free slot
    and go together, up to ``max_batch`` per transaction. Idle, a claim waits for
    nothing; busy, the commits and per-transaction work are shared. Each claim gets the
    answer it would get alone (``0009_claims_in_batches.sql``).

    If the database refuses a whole batch (an error no claim's rules produce), each of
    its claims is tried again alone, so one claim's fault is reported to that claim
    only. A client that goes away does not stop its batch: the claim is decided and its
    answer stored under its key, for the retry.

    Every claim handed to the desk gets an answer or an error, whatever happens to the
    batch it waits in: a connection not free within ``acquire_timeout_s``, a worker
    cancelled, or the desk closed (:meth:`close`, before its pool closes) end it with
    ``database_unavailable`` (503, retry with the same key), never with a wait that no
    one will end.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_batch: int = 32,
        in_flight: int = 2,
        acquire_timeout_s: float = 10.0,
    ) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._in_flight = in_flight
        self._acquire_timeout_s = acquire_timeout_s
        self._running = 0
        self._closed = False
        self._waiting: list[tuple[ClaimRequest, asyncio.Future[Any]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.hours = StationHours()

    async def claim_scanned(
        self,
        *,
        token_digest: bytes,
        idempotency_key: str | None,
        code: str,
        lat: float,
        lng: float,
        crs: str | None,
        security: SecuritySettings,
        visit_resolution: int,
    ) -> ClaimResult:
        """A claim from the scanned text: its stored answer first, then the QR check.

        A code that fails its check (forged, altered, retired, or signed with a key that
        is gone) is looked up under the member's key before it is refused: a retry of a
        claim decided before its key was retired gets the stored answer. A valid code
        goes straight to a batch, which finds stored answers itself.
        """
        key = validate_idempotency_key(idempotency_key)
        try:
            request = claim_request(
                token_digest=token_digest,
                idempotency_key=key,
                code=code,
                lat=lat,
                lng=lng,
                crs=crs,
                security=security,
                visit_resolution=visit_resolution,
            )
        except InvalidCode:
            fingerprint = request_fingerprint(
                code=code, lat=lat, lng=lng, crs=crs, security=security
            )
            try:
                async with self._connection() as conn:
                    stored = await conn.fetchrow(
                        SQL.stored_claim_answer, token_digest, key, fingerprint
                    )
            except (TimeoutError, OSError, asyncpg.InterfaceError) as exc:
                raise _unanswered(f"no database connection ({exc.__class__.__name__})") from exc
            if stored is None:
                raise
            if not stored["same_request"]:
                return outcome({"outcome": "idempotency_key_reused", "response": {}})
            return outcome(
                {"outcome": stored["outcome"], "replayed": True, "response": stored["response"]}
            )
        return await self.claim(request)

    async def claim(self, request: ClaimRequest) -> ClaimResult:
        if self._closed:
            raise _unanswered("the server is stopping")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._running < self._in_flight:
            self._running += 1
            task = asyncio.create_task(self._work())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return outcome(await future)

    async def close(self, timeout_s: float = 30.0) -> None:
        """Take no more claims; let the batches in the database finish, then stop.

        Call it before the pool closes: a batch still holding a connection would keep
        ``Pool.close()`` waiting. Claims still waiting after ``timeout_s`` get
        ``database_unavailable`` (their retry with the same key is decided later).
        """
        self._closed = True
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._fail(self._waiting, "the server is stopping")
        self._waiting.clear()

    def _connection(self) -> Any:
        return self._pool.acquire(timeout=self._acquire_timeout_s)

    async def _work(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                await self._decide(batch)
        finally:
            self._running -= 1
            if self._running == 0:
                # Stopped by cancellation (or a fault outside any claim): nobody would
                # pick up the claims still waiting.
                self._fail(self._waiting, "the claim could not be decided")
                self._waiting.clear()

    async def _decide(self, batch: list[tuple[ClaimRequest, asyncio.Future[Any]]]) -> None:
        requests = [request for request, _ in batch]
        try:
            async with self._connection() as conn:
                codes = [r.station_code for r in requests]
                openings = await self.hours.openings(conn, codes, datetime.now(UTC))
                answers = await decide(conn, requests, openings)
        except asyncio.CancelledError:
            self._fail(batch, "the claim's batch was stopped")
            raise
        except (TimeoutError, OSError, asyncpg.InterfaceError) as exc:
            # No connection, or it broke: the same for every claim of the batch.
            self._fail(batch, f"no database connection ({exc.__class__.__name__})")
            return
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            try:
                for item in batch:
                    await self._decide([item])
            except asyncio.CancelledError:
                self._fail(batch, "the claim's batch was stopped")
                raise
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():
                future.set_result(answer)

    @staticmethod
    def _fail(batch: list[tuple[ClaimRequest, asyncio.Future[Any]]], why: str) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(_unanswered(why))


def _unanswered(why: str) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"{why}; the claim may or may not have been decided: send it again with the same "
        "Idempotency-Key to get its answer"
    )


async def confirm_handover(
    conn: asyncpg.Connection,
    *,
    code: str,
    station_ids: frozenset[int] | None,
    actor: str,
    branch: str | None = None,
) -> dict[str, Any]:
    """Staff confirm the bottle was handed over; ``station_ids`` None means any station
    (of union branch ``branch``; None: any branch).

    Confirming twice is harmless (the first confirmation stays; ``confirmed_now`` says
    whether this call confirmed it). A claim is good for the station's local day it was
    made on.
    """
    claim_code = code.strip().upper()[:20]
    async with conn.transaction():
        row = await conn.fetchrow(SQL.claim_for_handover, claim_code)
        if row is None:
            raise NotFound(
                f"no claim has the code {claim_code}; check the code with the member",
                code="claim_not_found",
                claim_code=claim_code,
            )
        if station_ids is not None and row["station_id"] not in station_ids:
            raise Forbidden(
                f"you do not operate station {row['station_id']}",
                code="not_station_operator",
                station_id=row["station_id"],
            )
        if not branches.covers(branch, row["district_code"]):
            raise branches.outside(
                branch,
                f"the claim was made at station {row['station_id']}, not under your branch",
                station_id=row["station_id"],
            )
        if row["handed_over_at"] is None:
            if row["local_day"] != row["station_today"]:
                raise Refused(
                    "claim_expired",
                    f"this claim was for {row['local_day'].isoformat()}; claims are good on "
                    "the day they are made only",
                    local_day=row["local_day"].isoformat(),
                )
            await conn.execute(SQL.mark_handed_over, row["id"], actor)
        view = await conn.fetchrow(SQL.claim_view, row["id"])
    return {**dict(view), "confirmed_now": row["handed_over_at"] is None}


async def claim_shown_to(
    conn: asyncpg.Connection, *, code: str, member_id: int | None, station_ids: frozenset[int]
) -> str:
    """The claim code of a claim that its member (or its station's staff) may display.

    Anyone else gets ``claim_not_found``, as for a code that does not exist: a claim
    code says nothing to whom it does not belong.
    """
    claim_code = code.strip().upper()[:20]
    row = await conn.fetchrow(SQL.claim_owner, claim_code)
    if row is None or (row["member_id"] != member_id and row["station_id"] not in station_ids):
        raise NotFound(
            f"no claim of yours has the code {claim_code}",
            code="claim_not_found",
            claim_code=claim_code,
        )
    return str(row["claim_code"])


async def member_claims(
    conn: asyncpg.Connection, *, member_id: int, limit: int = 50
) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(SQL.member_claims, member_id, limit)]


async def station_claims_today(
    conn: asyncpg.Connection, *, station_ids: list[int], limit: int = 500
) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(SQL.station_claims_today, station_ids, limit)]


async def expire_claim_log(conn: asyncpg.Connection, *, days: int = CLAIM_LOG_DAYS) -> int:
    """Forget the stored answers to claim requests older than ``days`` days; how many.

    A refusal's answer says how far the member stood from the station (coarsened), and
    every answer names the member: kept for the retries and questions of the weeks after,
    not for ever. The claims themselves stay (reports count them).
    """
    if days < 1:
        raise InvalidInput("days: at least 1", field="days")
    return int(await conn.fetchval(SQL.expire_claim_log, days))
