"""Response classes: JSON rendered by orjson (fast, UTF-8, no ASCII escaping of Chinese).

They derive from FastAPI's own JSON response so the OpenAPI document describes the
bodies of routes that use them (a plain ``Response`` subclass is documented as text).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse as _FastAPIJSONResponse


class JSONResponse(_FastAPIJSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"
