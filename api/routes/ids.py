"""Ids in paths, queries and bodies: positive and within PostgreSQL's bigint.

An id the database could not even represent is refused as 422 here, rather than
surfacing as an encoding error (a 500) in the driver.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

MAX_ID = 2**63 - 1

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
StationId = Annotated[int, Path(ge=1, le=MAX_ID, description="the station's id", examples=[1024])]
CampaignId = Annotated[int, Path(ge=1, le=MAX_ID, description="the campaign's id")]
StationQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description="one of your stations")]
