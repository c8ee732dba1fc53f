"""The service's pages: the rider page and the staff console, from one page server.

``GET /`` is the rider page, what a union programme's link or a station poster's QR
code opens; ``GET /s/{code}`` (a poster) is the same page showing the scanned station —
:mod:`api.routes.qr` hands browsers here and keeps answering JSON to everyone else.
``GET /staff/`` is the staff console (``web/staff.html``, ``web/staff/``), where
operators, administrators and planners sign in; its views are routed in the page from
the URL's fragment (``#/today``, ``#/set-password?token=…``).

Both pages' files live in the ``web`` package (plain ES modules, no build step; package
data, in folders at any depth; ``web/common/`` holds what the two share) and are
served from memory under ``/web/…``: gzipped when the browser accepts it, with a
version query that changes whenever any of them changes, so a phone caches them for a
year and never revalidates. Leaflet comes from the vendored copy the coverage maps use
(``/static/maps/vendor/…``); nothing is loaded from anywhere else, and the pages'
Content-Security-Policy says so (plus the tile server, when one is configured).

What a page needs from settings is written into its HTML once per app: walking and
e-bike speeds (the coverage settings, so time estimates match the planners' 15-minute
bands), the tile layer and the labels of the fixed vocabularies; the console also the
idle time of a session and the shortest password.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import PurePosixPath
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from maps.assets import LEAFLET, STATIC_URL, VECTOR_GRID
from stations.catalog import vocab
from stations.errors import NotFound
from stations.geo.crs import Crs, point_from_wgs84
from stations.people import passwords
from stations.settings import (
    CoverageSettings,
    Settings,
    StaffSettings,
    TileSettings,
    VectorTileSettings,
)

router = APIRouter(tags=["rider"])

WEB_DIR = files("web")
WEB_URL = "/web"
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_IMMUTABLE = "public, max-age=31536000, immutable"
# Relative module imports ("./x.js", "../common/x.js"), also those imported for their
# side effects only (import "./x.js"), get the version query, so every module URL is
# cacheable forever and is the URL the page preloads (one instance of each module).
_IMPORT = re.compile(rb'(\b(?:from|import)\s+"\.\.?/[\w/-]+\.js)"')


@dataclass(frozen=True)
class _File:
    body: bytes
    gzipped: bytes
    media_type: str
    etag: str


def _file(body: bytes, media_type: str) -> _File:
    digest = hashlib.sha256(body).hexdigest()[:16]
    return _File(body, gzip.compress(body, 9, mtime=0), media_type, f'"{digest}"')


def tiles_source(url: str | None) -> str:
    """The tile server's origin for the page's CSP ('' for none or this service)."""
    if not url or url.startswith("/"):
        return ""
    parts = urlsplit(url.replace("{s}", "*"))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def page_config(
    coverage: CoverageSettings,
    tiles: TileSettings,
    vector_tiles: VectorTileSettings | None = None,
    layers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the page reads from ``<script id="config">`` (``vector_tiles`` is filled
    per request by :func:`with_vector_tiles`)."""

    def labels(table: dict[Any, tuple[str, str]]) -> dict[str, list[str]]:
        return {str(name): list(pair) for name, pair in table.items()}

    return {
        "speeds": {"walk_kmh": coverage.walk_kmh, "ebike_kmh": coverage.ebike_kmh},
        "vector_tiles_setup": {
            "stations_from_zoom": (vector_tiles or VectorTileSettings()).stations_from_zoom
        },
        "tiles": {
            "url": tiles.url or None,
            "crs": tiles.crs,
            "attribution": tiles.attribution,
            "max_zoom": tiles.max_zoom,
            # The local base map's own zooms and format, or the reference layer's URL
            # when there are no tiles at all (api/routes/basemap.py).
            **(layers or {"basemap": None, "reference": None}),
        },
        "vocab": {
            "amenities": labels(vocab.AMENITIES),
            "kinds": labels(vocab.KIND_LABELS),
            "access": labels(vocab.ACCESS_LABELS),
            "tags": labels(vocab.RATING_TAGS),
            "occupations": labels(vocab.OCCUPATIONS),
        },
    }


def console_config(
    coverage: CoverageSettings,
    tiles: TileSettings,
    staff: StaffSettings,
    vector_tiles: VectorTileSettings | None = None,
    layers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the staff console reads from ``<script id="config">``: the rider page's
    config and the session's idle time, the shortest password, the station statuses."""
    return {
        **page_config(coverage, tiles, vector_tiles, layers),
        "session": {"idle_minutes": staff.session_idle_minutes},
        "password": {"min_length": passwords.MIN_LENGTH},
        "statuses": {str(name): list(pair) for name, pair in vocab.STATUS_LABELS.items()},
    }


VECTOR_TILES_URL = "/ogc/collections/stations/tiles/WebMercatorQuad/{z}/{y}/{x}"


def with_vector_tiles(config: dict[str, Any], on: bool) -> dict[str, Any]:
    """The page's config saying whether its map draws the catalog's vector tiles.

    Off, the map draws the stations of the nearest answer as markers (a few thousand
    stations at most are ever near). On, it loads the vector-tile plugin and draws the
    ``cells`` layer (H3 aggregates) below ``stations_from_zoom`` and the stations from it.
    """
    tiles = config.get("vector_tiles_setup", {})
    rest = {key: value for key, value in config.items() if key != "vector_tiles_setup"}
    if not on:
        return {**rest, "vector_tiles": None}
    return {
        **rest,
        "vector_tiles": {
            "url": VECTOR_TILES_URL,
            "plugin": f"{STATIC_URL}/vendor/{VECTOR_GRID}",
            "stations_from_zoom": tiles.get("stations_from_zoom", 12),
        },
    }


def vector_tiles_on(request: Request) -> bool:
    """Whether the catalog is large enough for the maps to draw it from vector tiles.

    The station count is the in-process index's, so the answer follows the catalog's
    changes without a query.
    """
    state = request.app.state
    search = getattr(state, "search", None)
    if search is None:
        return False
    threshold: int = state.settings.vector_tiles.maps_from_stations
    return len(search.index) > threshold


RIDER = "index.html"
CONSOLE = "staff.html"
OGC = "ogc.html"


def _walk(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    """Every file under ``folder`` with its path relative to it, in name order."""
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            yield from _walk(entry, f"{prefix}{entry.name}/")
        elif entry.is_file():
            yield f"{prefix}{entry.name}", entry


class WebPages:
    """The pages and their files, read once from the ``web`` package and kept in memory.

    ``configs`` maps each page's HTML file to the config written into it; every page
    and file shares one version.
    """

    def __init__(
        self, configs: dict[str, dict[str, Any]], *, web_dir: Traversable = WEB_DIR
    ) -> None:
        sources = {
            name: entry.read_bytes()
            for name, entry in _walk(web_dir)
            if PurePosixPath(name).suffix in _MEDIA_TYPES
        }
        whole = hashlib.sha256()
        for name, body in sources.items():
            whole.update(name.encode() + b"\0" + body + b"\0")
        self.version = whole.hexdigest()[:12]
        stamp = b'\\1?v=%s"' % self.version.encode()
        self.files = {
            name: _file(
                _IMPORT.sub(stamp, body) if name.endswith(".js") else body,
                _MEDIA_TYPES[PurePosixPath(name).suffix],
            )
            for name, body in sources.items()
        }
        # Each page twice: drawn from the nearest answer's markers, and (a large catalog)
        # from the catalog's vector tiles; the page server picks one per request.
        self.html = {
            (name, on): _file(
                self._fill(web_dir, name, with_vector_tiles(config, on)).encode(),
                "text/html; charset=utf-8",
            )
            for name, config in configs.items()
            for on in (False, True)
        }
        tiles = tiles_source(next(iter(configs.values()))["tiles"]["url"])
        self.csp = (
            "default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src 'self' data:{' ' + tiles if tiles else ''}; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        )

    def _fill(self, web_dir: Traversable, name: str, config: dict[str, Any]) -> str:
        # "</" cannot appear inside a <script> element; "<\/" means the same in JSON.
        config_json = orjson.dumps(config).decode().replace("</", "<\\/")
        html = (web_dir / name).read_text(encoding="utf-8")
        html = (
            html.replace("{{leaflet}}", f"{STATIC_URL}/vendor/{LEAFLET}")
            .replace("{{web}}", WEB_URL)
            .replace("{{v}}", self.version)
            .replace("{{config}}", config_json)
        )
        leftover = re.search(r"\{\{\w+\}\}", html)
        if leftover:
            raise RuntimeError(f"web/{name}: nothing fills {leftover.group(0)}")
        return html


def _page(request: Request) -> WebPages:
    state = request.app.state
    page: WebPages | None = getattr(state, "web_pages", None)
    if page is None:
        page = state.web_pages = WebPages(state.page_configs)
    return page


def _send(request: Request, file: _File, headers: dict[str, str]) -> Response:
    headers = {**headers, "ETag": file.etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == file.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(file.gzipped, media_type=file.media_type, headers=headers)
    return Response(file.body, media_type=file.media_type, headers=headers)


def wants_page(request: Request) -> bool:
    """A browser opening a link (it asks for HTML) rather than a program asking for JSON."""
    return "text/html" in request.headers.get("accept", "")


def page_response(request: Request, name: str = RIDER) -> Response:
    """A page (the rider's by default); it reads what to show from its URL."""
    page = _page(request)
    headers = {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": page.csp,
        # A poster URL carries its signature; the map apps the page links to need not see it.
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    response = _send(request, page.html[name, vector_tiles_on(request)], headers)
    response.headers["Vary"] = "Accept, Accept-Encoding"
    return response


@router.get("/", include_in_schema=False)
async def rider_page(request: Request) -> Response:
    return page_response(request)


@router.get("/staff/", include_in_schema=False)
async def staff_console(request: Request) -> Response:
    return page_response(request, CONSOLE)


@router.get("/staff", include_in_schema=False)
async def staff_console_slash() -> Response:
    return Response(status_code=308, headers={"Location": "/staff/"})


@router.get(f"{WEB_URL}/{{name:path}}", include_in_schema=False)
async def web_file(request: Request, name: str) -> Response:
    page = _page(request)
    file = page.files.get(name)
    if file is None:
        raise NotFound(f"no page file {name!r}")
    current = request.query_params.get("v") == page.version
    headers = {
        "Cache-Control": _IMMUTABLE if current else "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    return _send(request, file, headers)


class Point(BaseModel):
    lat: float
    lng: float


class PositionOut(BaseModel):
    wgs84: Point
    gcj02: Point
    bd09: Point


@router.get(
    "/v1/rider/position",
    response_model=PositionOut,
    summary="A WGS84 position (a browser's geolocation) in every CRS the page draws or links in",
    description="GCJ-02 for Chinese tile layers and Amap, BD-09 for Baidu. Outside mainland "
    "China all three are the same point.",
)
async def rider_position(
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False, examples=[33.9556])],
    lng: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False, examples=[116.7983])],
) -> PositionOut:
    out = {"wgs84": Point(lat=lat, lng=lng)}
    for name in ("gcj02", "bd09"):
        a, b = point_from_wgs84(lat, lng, Crs(name))
        out[name] = Point(lat=round(a, 8), lng=round(b, 8))
    return PositionOut(**out)


def install(app: FastAPI) -> None:
    """Serve the pages, configured from the app's settings; their files load on first use."""
    settings: Settings = app.state.settings
    tiles, layers = app.state.map_tiles, app.state.map_layers  # basemap.install
    app.state.page_configs = {
        RIDER: page_config(settings.coverage, tiles, settings.vector_tiles, layers),
        CONSOLE: console_config(
            settings.coverage, tiles, settings.staff, settings.vector_tiles, layers
        ),
        # /ogc in a browser (api/routes/ogc.py): the vocabularies and the status labels.
        OGC: {
            **page_config(settings.coverage, tiles, settings.vector_tiles, layers),
            "statuses": {str(name): list(pair) for name, pair in vocab.STATUS_LABELS.items()},
        },
    }
    app.include_router(router)
