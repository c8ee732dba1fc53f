"""Who is calling: bearer tokens to a :class:`Principal`, and role checks.

Routes declare what they need with the dependencies below (``AdminDep``,
``require_roles(...)``, ``station_writer``); how a token becomes a principal is decided
in one place, :func:`resolve_principal`. For now the only credential is the admin token
from settings; member, operator and planner tokens plug in here.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from stations.errors import Forbidden, Unauthorized

Role = Literal["member", "operator", "planner", "admin"]

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. Operators act only on ``station_ids``."""

    role: Role
    subject: str  # e.g. "admin", "member:12345", "operator:7"
    station_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        """How this caller is named in station history."""
        return self.subject


async def resolve_principal(request: Request, token: str) -> Principal | None:
    """Map a bearer token to a principal; None when the token is not known."""
    admin_token = request.app.state.settings.security.admin_token.get_secret_value()
    if hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal(role="admin", subject="admin")
    return None


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("send a bearer token: `Authorization: Bearer <token>`")
    principal = await resolve_principal(request, credentials.credentials)
    if principal is None:
        raise Unauthorized("the bearer token is not valid (expired, revoked or mistyped)")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that lets only the given roles through (403 for the others)."""

    async def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"this needs the role {' or '.join(roles)}; you are {principal.role}")
        return principal

    return check


def ensure_station_access(principal: Principal, station_id: int) -> None:
    """Admins act on every station; operators only on the stations they run."""
    if principal.role == "admin":
        return
    if principal.role == "operator" and station_id in principal.station_ids:
        return
    raise Forbidden(f"you do not operate station {station_id}")


AdminDep = Annotated[Principal, Depends(require_roles("admin"))]
StationWriterDep = Annotated[Principal, Depends(require_roles("admin", "operator"))]
