"""Map assets without a CDN: every script and stylesheet comes from ``maps/static/vendor``.

folium's templates link Leaflet, jQuery, Bootstrap, Font Awesome and plugins from
public CDNs, which government networks often cannot reach. Builders here call
:func:`use_vendored` on each element they add, which swaps its links for
``vendor:`` references to files committed under ``maps/static/vendor`` (pinned
versions from the npm registry and the folium wheel, with their licences; see
``MANIFEST.json`` and ``scripts/vendor-map-assets.sh``). :func:`render_html` then
either inlines them (a single file for a meeting room without internet; images
referenced by the CSS become data URIs) or points them at the service's
``/static/maps/vendor/…``. Anything left pointing outside fails loudly.
"""

from __future__ import annotations

import base64
import posixpath
import re
from functools import cache
from importlib.resources import files
from typing import Literal

import folium

# Package data, found wherever the package is installed.
STATIC_DIR = files("maps") / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
STATIC_URL = "/static/maps"
LEAFLET = "leaflet-1.9.3"
MARKERCLUSTER = "leaflet.markercluster-1.1.0"
HEAT = "leaflet-heat-folium-0.20.0"
# Mapbox Vector Tiles in Leaflet: the pages' large-catalog maps and vector base maps.
VECTOR_GRID = "leaflet.vectorgrid-1.3.0/Leaflet.VectorGrid.bundled.min.js"

# What each kind of element needs, in load order. Nothing else is loaded: the maps
# use no jQuery, Bootstrap or icon fonts (markers are plain HTML).
JS: dict[str, list[tuple[str, str]]] = {
    "map": [("leaflet", f"vendor:{LEAFLET}/leaflet.js")],
    "markercluster": [("markerclusterjs", f"vendor:{MARKERCLUSTER}/leaflet.markercluster.js")],
    "heat": [("leaflet-heat.js", f"vendor:{HEAT}/leaflet_heat.min.js")],
}
CSS: dict[str, list[tuple[str, str]]] = {
    "map": [("leaflet_css", f"vendor:{LEAFLET}/leaflet.css")],
    "markercluster": [
        ("markerclustercss", f"vendor:{MARKERCLUSTER}/MarkerCluster.css"),
        ("markerclusterdefaultcss", f"vendor:{MARKERCLUSTER}/MarkerCluster.Default.css"),
    ],
    "heat": [],
}

_SCRIPT = re.compile(r'<script src="([^"]+)"></script>')
_LINK = re.compile(r'<link rel="stylesheet" href="([^"]+)"\s*/?>')
_CSS_URL = re.compile(r"url\((?!['\"]?(?:data:|#))['\"]?([^)'\"]+)['\"]?\)")
_EXTERNAL_ASSET = re.compile(r'<(?:script[^>]+src|link[^>]+href)="(?:https?:)?//', re.IGNORECASE)


def use_vendored(element: folium.Element, kind: str) -> folium.Element:
    """Make ``element`` load the vendored assets of ``kind`` instead of its CDN links."""
    element.default_js = list(JS[kind])  # type: ignore[attr-defined]
    element.default_css = list(CSS[kind])  # type: ignore[attr-defined]
    return element


@cache
def _text(relative: str) -> str:
    return VENDOR_DIR.joinpath(*relative.split("/")).read_text(encoding="utf-8")


def _inline_css(relative: str) -> str:
    base = posixpath.dirname(relative)

    def data_uri(match: re.Match[str]) -> str:
        # A path relative to the stylesheet; nothing outside the vendored folder.
        target_path = posixpath.normpath(posixpath.join(base, match.group(1)))
        if ".." in target_path.split("/") or posixpath.isabs(target_path):
            return "none"
        target = VENDOR_DIR.joinpath(*target_path.split("/"))
        if not target.is_file():
            return "none"
        mime = "image/png" if target_path.endswith(".png") else "application/octet-stream"
        return f"url(data:{mime};base64,{base64.b64encode(target.read_bytes()).decode()})"

    return _CSS_URL.sub(data_uri, _text(relative))


def _vendor_path(url: str) -> str | None:
    return url.removeprefix("vendor:") if url.startswith("vendor:") else None


def render_html(m: folium.Map, *, assets: Literal["inline", "static"] = "inline") -> str:
    """The map's HTML page with every asset inlined or served by the service."""
    html = m.get_root().render()

    def script(match: re.Match[str]) -> str:
        path = _vendor_path(match.group(1))
        if path is None:
            return match.group(0)
        if assets == "static":
            return f'<script src="{STATIC_URL}/vendor/{path}"></script>'
        # "</script" cannot appear inside an inline script; "<\/" means the same in JS.
        body = _text(path).replace("</script", "<\\/script")
        return f"<script>/* {path} */\n{body}\n</script>"

    def link(match: re.Match[str]) -> str:
        path = _vendor_path(match.group(1))
        if path is None:
            return match.group(0)
        if assets == "static":
            return f'<link rel="stylesheet" href="{STATIC_URL}/vendor/{path}"/>'
        return f"<style>/* {path} */\n{_inline_css(path)}\n</style>"

    html = _LINK.sub(link, _SCRIPT.sub(script, html))
    leftover = _EXTERNAL_ASSET.search(html)
    if leftover:
        raise RuntimeError(
            "the map would load an asset from outside the service: "
            f"{html[leftover.start() : leftover.start() + 160]!r}; vendor it in maps/assets.py"
        )
    return html
