"""Who is calling: a bearer token or a staff session cookie to a :class:`Principal`.

Routes declare what they need with the dependencies below (``AdminDep``, ``MemberDep``,
``require_roles(...)``, ``StationWriterDep``); how a request becomes a principal is
decided in one place, :func:`current_principal`: a bearer token (the administrator token
from settings, or a token stored hashed in ``api_tokens`` for a member, an operator, a
planner or an administrator account), else the staff console's session cookie
(:mod:`stations.people.sessions`). Programs send bearer tokens and are never asked for
a CSRF token; a request that authenticates with the cookie and changes something must
carry the session's ``X-CSRF-Token`` header (403 ``csrf_failed`` otherwise).

Administrators and planners act within their union branch (``Principal.branch``; None is
the national root): :func:`ensure_station_access` refuses stations outside it, and the
domain's queries filter by it (:mod:`stations.people.branches`).

A worker keeps principals it has resolved for ``STATIONS_PRINCIPAL_CACHE_SECONDS``
(keyed by the token's hash), so a revocation reaches every worker within that time.

One exception, on purpose: ``POST /v1/claims`` takes :data:`ClaimantTokenDep`, the
token's hash unresolved, and the claim's single database call checks the token in the
claim's own transaction. The hottest path saves a round trip, and a revoked token can
never claim, whatever a cache holds.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import ConnDep
from stations.errors import Forbidden, Unauthorized
from stations.people import branches, sessions, throttle, tokens
from stations.settings import DEV_PLACEHOLDER

Role = Literal["member", "operator", "planner", "admin"]
SESSION_COOKIE = "ls_staff"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. Operators act only on ``station_ids``."""

    role: Role
    subject: str  # e.g. "admin", "member:12345", "operator:黄山路驿站"
    station_ids: frozenset[int] = field(default_factory=frozenset)
    member_id: int | None = None
    account_id: int | None = None
    token_digest: bytes | None = None  # SHA-256 of the token; None for the settings' token
    branch: str | None = None  # administrators' and planners' union branch; None: national
    # The staff session cookie's token, when the caller came with it (never printed).
    session_token: str | None = field(default=None, repr=False)

    @property
    def actor(self) -> str:
        """How this caller is named in station history."""
        return self.subject


class PrincipalCache:
    """Principals by token hash for a few seconds; bounded, per worker process.

    ``current`` says whether the cache may be used now: the server passes its
    revocation listener's state (stations/people/revocations.py), so that the cache is
    emptied on every revocation and not read while a revocation could go unheard.
    """

    def __init__(
        self,
        ttl_s: float,
        max_entries: int = 100_000,
        current: Callable[[], bool] = lambda: True,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.current = current
        self._entries: dict[bytes, tuple[float, Principal]] = {}
        # Counts clears: a principal read from the database before a revocation and put
        # after the cache was cleared for it must not be kept (see put's ``seen``).
        self.generation = 0

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    def get(self, digest: bytes) -> Principal | None:
        if not self.current():
            return None
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(digest, None)
            return None
        return entry[1]

    def put(self, digest: bytes, principal: Principal, *, seen: int | None = None) -> None:
        """Keep ``principal``; ``seen`` is :attr:`generation` from before it was read."""
        if self.ttl_s <= 0 or not self.current():
            return
        if seen is not None and seen != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[digest] = (time.monotonic() + self.ttl_s, principal)

    def forget(self, digest: bytes) -> None:
        self._entries.pop(digest, None)


def over_loopback(request: Request) -> bool:
    """Whether the request reached the server on a loopback address.

    ``scope["server"]`` is the address the connection was accepted on: a server bound
    to every interface sees a LAN or public address for requests from elsewhere. A
    name rather than an address (an in-process test client's ``testserver``) or no
    address at all (a Unix socket) is local too.
    """
    server = request.scope.get("server")
    if not server:
        return True
    try:
        return ipaddress.ip_address(str(server[0])).is_loopback
    except ValueError:
        return True


def principal_cache(request: Request) -> PrincipalCache:
    return principal_cache_of(request.app)


def principal_cache_of(app: Any) -> PrincipalCache:
    """The worker's principal cache (made on first use; the lifespan ties it to revocations)."""
    state = app.state
    cache = getattr(state, "principal_cache", None)
    if cache is None:
        cache = PrincipalCache(state.settings.security.principal_cache_seconds)
        state.principal_cache = cache
    return cache


async def resolve_principal(
    request: Request, token: str, conn: asyncpg.Connection
) -> Principal | None:
    """Map a bearer token to a principal; None when the token is not known.

    ``conn`` is the request's own pooled connection (one acquire per request).
    """
    admin_token = request.app.state.settings.security.admin_token.get_secret_value()
    if hmac.compare_digest(token.encode(), admin_token.encode()):
        if admin_token == DEV_PLACEHOLDER and not over_loopback(request):
            raise Unauthorized(
                "the development placeholder admin token is accepted over loopback only "
                "(a request to 127.0.0.1 or ::1); set STATIONS_ADMIN_TOKEN to a real secret"
            )
        return Principal(role="admin", subject="admin")
    if not token.startswith(tokens.PREFIX) or len(token) > 100:
        await _wrong_token(request, conn)
        return None
    digest = tokens.token_hash(token)
    cache = principal_cache(request)
    principal = cache.get(digest)
    if principal is not None:
        return principal
    seen = cache.generation
    # Looked up in the database: not while this address must wait after wrong tokens.
    await throttle.guard(conn, [_token_key(request)])
    identity = await tokens.resolve(conn, digest=digest)
    if identity is None:
        await _wrong_token(request, conn)
        return None
    principal = Principal(
        role=identity.role,
        subject=identity.subject,
        station_ids=identity.station_ids,
        member_id=identity.member_id,
        account_id=identity.account_id,
        token_digest=digest,
        branch=identity.branch,
    )
    cache.put(digest, principal, seen=seen)
    return principal


TOKEN_ADDRESS_KIND = "token_address"


def _token_key(request: Request) -> throttle.Key:
    """Wrong bearer tokens count against the client's address, like staff sign-ins."""
    settings = request.app.state.settings
    _, by_address = sessions.policies(settings.staff)
    address = request.client.host if request.client else "unknown"
    secret = settings.security.pii_hash_key.get_secret_value().encode()
    return throttle.key(TOKEN_ADDRESS_KIND, address, by_address, secret=secret)


async def _wrong_token(request: Request, conn: asyncpg.Connection) -> None:
    """Count a wrong token; when the address must now wait, say so (429) instead of 401."""
    key = _token_key(request)
    if await throttle.failed(conn, [key]) > 0:
        await throttle.guard(conn, [key])


async def session_principal(request: Request, token: str, conn: asyncpg.Connection) -> Principal:
    """The principal of a staff session cookie; CSRF-checked when the request writes.

    Not cached: every request sees a sign-out, a new password or idle expiry at once.
    """
    staff = request.app.state.settings.staff
    session = await sessions.resolve(conn, token=token, idle_minutes=staff.session_idle_minutes)
    if session is None:
        raise Unauthorized("the session cookie is not valid; sign in again")
    if not session.live:
        raise Unauthorized(
            "your session has ended (idle too long, too old, or signed out); sign in again",
            code="session_expired",
        )
    if request.method not in SAFE_METHODS and not sessions.csrf_matches(
        token, request.headers.get(CSRF_HEADER)
    ):
        raise Forbidden(
            f"send the session's CSRF token in the {CSRF_HEADER} header with every change "
            "(the console does; reload it)",
            code="csrf_failed",
        )
    return Principal(
        role=session.role,  # type: ignore[arg-type]
        subject=f"{session.role}:{session.name}",
        station_ids=session.station_ids,
        account_id=session.account_id,
        branch=session.branch,
        session_token=token,
    )


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    conn: ConnDep,
) -> Principal:
    if credentials is not None and credentials.credentials:
        principal = await resolve_principal(request, credentials.credentials, conn)
        if principal is None:
            raise Unauthorized("the bearer token is not valid (expired, revoked or mistyped)")
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return await session_principal(request, cookie, conn)
    raise Unauthorized(
        "send a bearer token (`Authorization: Bearer <token>`) or sign in to the staff console"
    )


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def optional_principal(request: Request, conn: ConnDep) -> Principal | None:
    """The caller, or None for an anonymous request (a bad token is still a 401).

    Reads the header itself rather than through the bearer scheme, so that the OpenAPI
    document does not mark the route as needing a token (it does not).
    """
    token = bearer_token(request.headers.get("authorization"))
    if token is None and not request.cookies.get(SESSION_COOKIE):
        return None
    credentials = (
        HTTPAuthorizationCredentials(scheme="Bearer", credentials=token) if token else None
    )
    return await current_principal(request, credentials, conn)


OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


async def claimant_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> bytes:
    """The bearer token's hash, for a claim's transaction to check (see the module doc)."""
    return claimant_digest(request, credentials.credentials if credentials else None)


def claimant_digest(request: Request, token: str | None) -> bytes:
    """What :func:`claimant_token` checks, callable without FastAPI's dependency machinery."""
    if not token:
        raise Unauthorized("send a bearer token: `Authorization: Bearer <token>`")
    admin_token = request.app.state.settings.security.admin_token.get_secret_value()
    if hmac.compare_digest(token.encode(), admin_token.encode()):
        raise Forbidden(
            "this needs the role member; you are admin",
            code="role_required",
            roles=["member"],
            role="admin",
        )
    if not token.startswith(tokens.PREFIX) or len(token) > 100:
        raise Unauthorized("the bearer token is not valid (expired, revoked or mistyped)")
    digest = tokens.token_hash(token)
    cached = principal_cache(request).get(digest)
    if cached is not None and cached.role != "member":
        raise Forbidden(
            f"this needs the role member; you are {cached.role}",
            code="role_required",
            roles=["member"],
            role=cached.role,
        )
    return digest


ClaimantTokenDep = Annotated[bytes, Depends(claimant_token)]


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that lets only the given roles through (403 for the others)."""

    async def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise Forbidden(
                f"this needs the role {' or '.join(roles)}; you are {principal.role}",
                code="role_required",
                roles=list(roles),
                role=principal.role,
            )
        return principal

    return check


async def ensure_station_access(
    conn: asyncpg.Connection, principal: Principal, station_id: int
) -> None:
    """Operators act only on the stations they run; administrators on their branch's."""
    if principal.role == "admin":
        await branches.check_station(conn, branch=principal.branch, station_id=station_id)
        return
    if principal.role == "operator" and station_id in principal.station_ids:
        return
    raise Forbidden(
        f"you do not operate station {station_id}",
        code="not_station_operator",
        station_id=station_id,
    )


def operated_stations(principal: Principal) -> frozenset[int] | None:
    """The stations this caller may act on; None: every station of the caller's branch
    (administrators: see :func:`branch_of`)."""
    return None if principal.role == "admin" else principal.station_ids


def branch_of(principal: Principal) -> str | None:
    """The union branch whose records an administrator or planner may reach (None: all).

    Operators are scoped by their stations instead (:func:`operated_stations`).
    """
    return principal.branch if principal.role in ("admin", "planner") else None


AdminDep = Annotated[Principal, Depends(require_roles("admin"))]
StationWriterDep = Annotated[Principal, Depends(require_roles("admin", "operator"))]
MemberDep = Annotated[Principal, Depends(require_roles("member"))]
PlannerDep = Annotated[Principal, Depends(require_roles("planner", "admin"))]
