"""Expensive requests: who may make them, how often, and where their work runs.

``nearest:batch`` and the coverage analyses (summary, cells, suggestions, the coverage
map) can each keep a CPU busy for seconds. Three rules keep one caller from stalling
the service:

* they need a token (any role) and take a share of the caller's rate
  (``STATIONS_API_HEAVY_PER_MINUTE``, ``_HEAVY_BURST``), counted in PostgreSQL so every
  worker sees the same count (:func:`stations.people.throttle.take`); past it: ``429
  too_many_attempts`` with ``Retry-After``;
* their work runs in a thread, never on the event loop, and at most
  ``STATIONS_API_HEAVY_THREADS`` of them at once per worker (:func:`heavy_slot`), so a
  probe or a rider's search is answered meanwhile;
* when one ends, freed memory is handed back to the system (``malloc_trim``): without
  it glibc keeps the arenas of the threads, and a worker stays at its peak size.

Along-route runs in the same threads (it is bounded by its vertices and the body cap)
but stays open to anonymous riders.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import asyncpg
from fastapi import Depends, FastAPI, Request

from api.auth import Principal, PrincipalDep
from api.deps import ConnDep
from stations.people import throttle
from stations.settings import Settings

T = TypeVar("T")
RATE_KIND = "heavy_requests"


def install(app: FastAPI, settings: Settings) -> None:
    app.state.heavy_slots = asyncio.Semaphore(settings.api.heavy_threads)
    app.state.heavy_running = 0
    tune_malloc()


async def take_share(conn: asyncpg.Connection, settings: Settings, principal: Principal) -> None:
    """Count one expensive request of ``principal`` (429 when its rate is used up)."""
    secret = settings.security.pii_hash_key.get_secret_value().encode()
    rate = throttle.Rate(per_minute=settings.api.heavy_per_minute, burst=settings.api.heavy_burst)
    key = throttle.digest(RATE_KIND, principal.subject, secret=secret)
    await throttle.take(conn, RATE_KIND, key, rate)


async def heavy_caller(request: Request, principal: PrincipalDep, conn: ConnDep) -> Principal:
    """The dependency of an expensive route: a token of any role, within its rate."""
    await take_share(conn, request.app.state.settings, principal)
    return principal


HeavyCallerDep = Annotated[Principal, Depends(heavy_caller)]


@asynccontextmanager
async def heavy_slot(app: Any) -> AsyncIterator[None]:
    """Hold one of the worker's slots for expensive work; memory is trimmed after the
    last one running ends (trimming takes the allocator's locks: not while others work)."""
    async with app.state.heavy_slots:
        app.state.heavy_running += 1
        try:
            yield
        finally:
            app.state.heavy_running -= 1
            if app.state.heavy_running == 0:
                await asyncio.to_thread(trim_memory)


async def run_heavy(request: Request, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` in a thread, within one of the worker's slots."""
    async with heavy_slot(request.app):
        return await asyncio.to_thread(functools.partial(func, *args, **kwargs))


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


# mallopt parameters (glibc malloc.h).
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 1 << 20


def tune_malloc() -> None:
    """Make freed memory go back to the system (glibc only; elsewhere nothing).

    glibc raises its mmap threshold each time a large block is freed, so after one big
    answer every later one comes from the heap and stays there; a fixed threshold keeps
    blocks of 1 MiB and more (answers, arrays) in their own mappings, returned on free.
    Two arenas instead of eight per core keep threads from holding freed memory apart.
    """
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        libc.mallopt(_M_ARENA_MAX, 2)


def trim_memory() -> None:
    """Give freed heap memory back to the system (glibc only; elsewhere nothing)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
