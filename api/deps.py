"""Dependencies shared by routers: settings, a pooled connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from stations.settings import Settings


async def get_settings(request: Request) -> Settings:
    # async: FastAPI runs a plain ``def`` dependency in a thread pool on every request.
    return request.app.state.settings


async def get_conn(request: Request) -> AsyncIterator[asyncpg.Connection]:
    async with request.app.state.pool.acquire() as conn:
        yield conn


SettingsDep = Annotated[Settings, Depends(get_settings)]
ConnDep = Annotated[asyncpg.Connection, Depends(get_conn)]
