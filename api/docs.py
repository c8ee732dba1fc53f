"""``/docs``: the interactive API reference, from this service's own files.

FastAPI's built-in pages load Swagger UI and ReDoc from a CDN, which an offline
government network cannot reach and which a strict Content-Security-Policy forbids.
Here the page loads the vendored Swagger UI (``maps/static/vendor``, with its licence
and checksum in ``MANIFEST.json``) and a small start script served beside it, so the
page runs under ``script-src 'self'`` with no inline script. In production it is off
unless ``STATIONS_API_DOCS=on``; ``/openapi.json`` stays available to programs.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from maps.assets import STATIC_URL
from stations.settings import Settings

SWAGGER = f"{STATIC_URL}/vendor/swagger-ui-dist-5.36.0"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'self'; form-action 'self'"
)
_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Love Stations API 爱心驿站接口</title>
<link rel="icon" type="image/png" href="{SWAGGER}/favicon-32x32.png">
<link rel="stylesheet" href="{SWAGGER}/swagger-ui.css">
</head>
<body>
<main id="swagger-ui"></main>
<script src="{SWAGGER}/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
"""
_START = b"""window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
"""


def enabled(settings: Settings) -> bool:
    """On in development; in production only when asked for (``STATIONS_API_DOCS=on``)."""
    if settings.api.docs == "auto":
        return settings.security.environment == "development"
    return settings.api.docs == "on"


def install(app: FastAPI, settings: Settings) -> None:
    if not enabled(settings):
        return

    async def docs_page(request: Request) -> Response:
        return HTMLResponse(_PAGE, headers={"Content-Security-Policy": CSP})

    async def start_script(request: Request) -> Response:
        return Response(
            _START,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    app.add_route("/docs", docs_page, include_in_schema=False)
    app.add_route("/docs/start.js", start_script, include_in_schema=False)
