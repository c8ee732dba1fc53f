"""Response classes: JSON rendered by orjson (fast, UTF-8, no ASCII escaping of Chinese)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"
