"""Leaflet layers the maps need beyond folium's, using nothing but Leaflet itself.

* :class:`EncodedPolygons` draws polygons whose rings are delta-encoded strings
  (the "encoded polyline" scheme at 1e-5 degrees: about a metre, and 5–8 bytes per
  vertex instead of ~20 in GeoJSON); this is what keeps a city map to a few MB.
* :class:`HtmlMarkers` draws markers whose icon and popup are HTML strings escaped
  by the builder (folium's Popup needs jQuery, which these maps do not load).
* :class:`Overlay` puts the title and legend panels over the map.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from branca.element import Element, MacroElement
from folium.map import Layer
from folium.plugins import FastMarkerCluster
from folium.template import Template

PRECISION = 1e5  # encoded coordinates are integers of 1e-5 degrees

_DECODE_JS = """
function lsDecode(s) {
    var pts = [], i = 0, lat = 0, lng = 0;
    while (i < s.length) {
        var b, shift = 0, result = 0;
        do { b = s.charCodeAt(i++) - 63; result |= (b & 31) << shift; shift += 5; } while (b >= 32);
        lat += (result & 1) ? ~(result >> 1) : (result >> 1);
        shift = 0; result = 0;
        do { b = s.charCodeAt(i++) - 63; result |= (b & 31) << shift; shift += 5; } while (b >= 32);
        lng += (result & 1) ? ~(result >> 1) : (result >> 1);
        pts.push([lat / 1e5, lng / 1e5]);
    }
    return pts;
}
"""


def safe_json(value: Any) -> str:
    """JSON for a script block: compact, UTF-8, and inert when re-read as a template.

    branca renders every element's output and parses it again as a Jinja template, so
    data must never contain ``{{``, ``{%`` or ``{#`` (encoded rings and station names
    can); in JSON those pairs only occur inside strings, where ``\\u007b`` means ``{``.
    ``</`` is escaped so no string can close the script element.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for pair, escaped in (("{{", "{\\u007b"), ("{%", "{\\u0025"), ("{#", "{\\u0023")):
        text = text.replace(pair, escaped)
    return text.replace("</", "<\\/")


def encode_ring(lat: np.ndarray, lng: np.ndarray) -> str:
    """Encode one ring (or line) of WGS84 points; vectorised."""
    pts = np.column_stack(
        [np.rint(np.asarray(lat) * PRECISION), np.rint(np.asarray(lng) * PRECISION)]
    ).astype(np.int64)
    if len(pts) == 0:
        return ""
    deltas = np.diff(pts, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).ravel()
    values = np.where(deltas < 0, ~(deltas << 1), deltas << 1).astype(np.uint64)
    bits = np.zeros(len(values), dtype=np.int64)
    v = values.copy()
    while np.any(v):
        bits += v > 0
        v >>= np.uint64(5)
    chunks = np.maximum(bits, 1)
    width = int(chunks.max())
    out = np.zeros((len(values), width), dtype=np.uint8)
    keep = np.zeros((len(values), width), dtype=bool)
    for k in range(width):
        part = ((values >> np.uint64(5 * k)) & np.uint64(31)).astype(np.uint8)
        more = k < chunks - 1
        out[:, k] = part | np.where(more, 32, 0).astype(np.uint8)
        keep[:, k] = k < chunks
    return (out[keep] + 63).tobytes().decode("ascii")


def decode_ring(text: str) -> list[tuple[float, float]]:
    """The inverse of :func:`encode_ring` (for tests and tools)."""
    values: list[int] = []
    result = shift = 0
    for ch in text:
        b = ord(ch) - 63
        result |= (b & 31) << shift
        shift += 5
        if b < 32:
            values.append(~(result >> 1) if result & 1 else result >> 1)
            result = shift = 0
    lat = np.cumsum(values[0::2]) / PRECISION
    lng = np.cumsum(values[1::2]) / PRECISION
    return list(zip(lat.tolist(), lng.tolist(), strict=True))


def encode_polygon(polygon: Any) -> list[str]:
    """A shapely Polygon (x = lng, y = lat) as encoded rings, exterior first."""
    rings = [polygon.exterior, *polygon.interiors]
    return [encode_ring(np.asarray(r.coords)[:, 1], np.asarray(r.coords)[:, 0]) for r in rings]


class EncodedPolygons(Layer):
    """Polygons from encoded rings, one SVG path each, with optional tooltips.

    ``polygons``: [{"rings": [exterior, hole, …], "tooltip": str | None}, …].
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var group = L.featureGroup();
            var style = {{ this.style_json }};
            {{ this.polygons_json }}.forEach(function (p) {
                var shape = L.polygon(p.rings.map(lsDecode), style);
                if (p.tooltip) { shape.bindTooltip(p.tooltip, {sticky: true}); }
                shape.addTo(group);
            });
            return group;
        })();
        {% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
        {% endmacro %}
        """
    )

    def __init__(
        self, polygons: list[dict[str, Any]], *, name: str, style: dict[str, Any], show: bool = True
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "EncodedPolygons"
        self.polygons = polygons
        self.style = style
        self.polygons_json = safe_json(polygons)
        self.style_json = safe_json(style)

    def render(self, **kwargs: Any) -> Any:
        # One decoder per page, in the header (adding it under a fixed name is idempotent).
        self.get_root().header.add_child(  # type: ignore[attr-defined]
            Element(f"<script>{_DECODE_JS}</script>"), name="ls_decode"
        )
        return super().render(**kwargs)


class HtmlMarkers(Layer):
    """Markers whose icon and popup are HTML strings the builder escaped.

    Rows: [lat, lng, icon html, popup html, tooltip text].
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var group = L.layerGroup();
            {{ this.rows_json }}.forEach(function (row) {
                var icon = L.divIcon({className: 'ls-site-icon', html: row[2],
                                      iconSize: [24, 24], iconAnchor: [12, 12]});
                L.marker([row[0], row[1]], {icon: icon, zIndexOffset: 1000})
                    .bindPopup(row[3], {maxWidth: 260})
                    .bindTooltip(row[4])
                    .addTo(group);
            });
            return group;
        })();
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[list[Any]], *, name: str) -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "HtmlMarkers"
        self.rows = rows
        self.rows_json = safe_json(rows)


class Overlay(MacroElement):
    """Title and legend panels (and the page's CSS), drawn over the map container."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}{{ this.css }}{% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            var box = document.getElementById({{ this.map_id|tojson }});
            box.insertAdjacentHTML('beforeend', {{ this.panels_json }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, *, map_id: str, panels: str, css: str) -> None:
        super().__init__()
        self._name = "Overlay"
        self.map_id = map_id
        self.panels = panels
        self.panels_json = safe_json(panels)
        self.css = css


class StationCluster(FastMarkerCluster):
    """folium's FastMarkerCluster with its rows serialised by :func:`safe_json`."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = (function(){
                var callback = {{ this.callback }};
                var data = {{ this.data_json }};
                var cluster = L.markerClusterGroup({{ this.options|tojavascript }});
                for (var i = 0; i < data.length; i++) {
                    callback(data[i]).addTo(cluster);
                }
                cluster.addTo({{ this._parent.get_name() }});
                return cluster;
            })();
        {% endmacro %}"""
    )

    def __init__(self, rows: list[list[Any]], *, callback: str, name: str, **options: Any) -> None:
        super().__init__([], callback=callback, name=name, **options)
        self._name = "StationCluster"
        self.callback = callback  # folium would prefix "var callback = "
        self.rows = rows
        self.data_json = safe_json(rows)
