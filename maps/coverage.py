"""The planners' coverage map: cells by band, demand heat, stations, gaps, suggested sites.

Cells of the same band are merged into polygons (``h3.cells_to_h3shape``) and lightly
simplified, so a city of 100,000 cells stays a few megabytes. Every coordinate drawn
goes through one shift: identity on WGS84 tiles (or none), WGS84→GCJ-02 when the
tiles are Chinese (``STATIONS_TILES_CRS=gcj02``). Titles and labels are Chinese by
default, English with ``lang="en"``. Render with :func:`maps.assets.render_html`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import folium
import numpy as np
import shapely
from folium.plugins import HeatMap
from folium.utilities import JsCode
from h3.api import basic_int
from shapely.geometry import MultiPolygon, Polygon, shape

from maps.assets import use_vendored
from maps.layers import (
    EncodedPolygons,
    HtmlMarkers,
    Overlay,
    StationCluster,
    encode_polygon,
    safe_json,
)
from maps.settings import TileSettings
from stations.catalog import vocab
from stations.coverage.analysis import CoverageResult
from stations.coverage.bands import PROXY_NOTE
from stations.coverage.engine import DEMAND_UNIT
from stations.coverage.mapdata import MapStation
from stations.coverage.suggestions import Suggestions
from stations.geo import crs as crsmod
from stations.geo import h3cells

Shift = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
SIMPLIFY_EDGES = 0.7  # removes the hexagon zigzag (its triangles are ~0.43 edge²)
HEAT_POINTS = 8000  # the heat layer needs a smooth picture, not every cell
# Green (near) to red (far), picked evenly for however many bands there are.
RAMP = ["#1a9850", "#66bd63", "#a6d96a", "#d9ef8b", "#fee08b", "#fdae61", "#f46d43", "#d73027"]
GAP_COLOUR = "#7b1fa2"
UNUSED_COLOUR = "#9e9e9e"  # stations the analysis did not use (filters, out of reach)

TEXT = {
    "zh": {
        "title": "{region} · 户外劳动者驿站服务覆盖",
        "target": "{band}覆盖需求 {share}",
        "no_demand": "该范围内暂无需求数据",
        "bands": "服务距离（到最近驿站）",
        "demand": "需求热力",
        "stations": "驿站（{n}）",
        "unused": "其他驿站（未计入分析：{n}）",
        "inside": "服务圈内（目标：{band}）",
        "outside": "服务圈外",
        "in": "圈内",
        "out": "圈外",
        "gaps": "服务缺口（圈外有需求）",
        "gap_tooltip": "服务缺口：圈外需求 {demand}",
        "sites": "建议新址（前 {n}）",
        "region": "分析范围",
        "share_of_demand": "占需求",
        "site_popup": "第 {rank} 名建议新址<br>新增覆盖需求 {gain}<br>累计覆盖率 {share}",
        "amenities": "设施",
        "hours": "开放时间",
        "open_now": "现在开放",
        "closed_now": "现在关闭",
        "unknown": "未知",
        "rating": "评分",
        "water": "今日饮用水",
        "no_data": "暂无数据",
        "bottles": "剩余 {n} 瓶",
        "access": "开放对象",
        "footer": "H3 分辨率 {res} · {cells} 个网格 · 生成于 {at}",
    },
    "en": {
        "title": "{region} · outdoor workers' station coverage",
        "target": "Demand {band}: {share}",
        "no_demand": "no demand data in this area",
        "bands": "Distance to the nearest station",
        "demand": "Demand heat",
        "stations": "Stations ({n})",
        "unused": "Other stations (not in the analysis: {n})",
        "inside": "Inside the service circle (target: {band})",
        "outside": "Outside the service circle",
        "in": "inside",
        "out": "outside",
        "gaps": "Gaps (demand outside the circle)",
        "gap_tooltip": "Gap: {demand} demand outside the circle",
        "sites": "Suggested sites (top {n})",
        "region": "Area analysed",
        "share_of_demand": "of demand",
        "site_popup": "Suggested site #{rank}<br>newly covered demand {gain}<br>"
        "coverage after {share}",
        "amenities": "Amenities",
        "hours": "Hours",
        "open_now": "open now",
        "closed_now": "closed now",
        "unknown": "unknown",
        "rating": "Rating",
        "water": "Water today",
        "no_data": "no data",
        "bottles": "{n} bottles left",
        "access": "Access",
        "footer": "H3 resolution {res} · {cells} cells · made {at}",
    },
}


def _identity(lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return lat, lng


def coordinate_shift(tiles: TileSettings | None) -> Shift:
    """How WGS84 coordinates must move to sit right on the configured tiles."""
    if tiles is not None and tiles.url and tiles.crs == "gcj02":
        return crsmod.wgs84_to_gcj02
    return _identity


def band_colours(n: int) -> list[str]:
    if n <= 1:
        return RAMP[:1]
    return [RAMP[round(i * (len(RAMP) - 1) / (n - 1))] for i in range(n)]


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def _amount(value: float) -> str:
    return f"{value:,.1f}".rstrip("0").rstrip(".")


def merged_cells(cells: np.ndarray) -> Polygon | MultiPolygon:
    """The cells as one (Multi)Polygon (lng, lat), holes included."""
    if len(cells) == 0:
        return MultiPolygon()
    h3shape = basic_int.cells_to_h3shape([int(c) for c in cells.tolist()])
    return shape(h3shape.__geo_interface__)


def band_geometries(result: CoverageResult) -> list[Polygon | MultiPolygon]:
    """One merged geometry per band, simplified together so shared edges stay shared.

    Coverage simplification (GEOS) removes the hexagon zigzag on band boundaries
    without opening gaps or overlaps between neighbouring bands.
    """
    assert result.cells is not None
    geoms = [
        merged_cells(result.cells.cells[result.cells.band == i])
        for i in range(len(result.bands.bands))
    ]
    edge_deg = basic_int.average_hexagon_edge_length(result.request.res, "m") / 111_000.0
    present = [i for i, g in enumerate(geoms) if not g.is_empty]
    simplified = shapely.coverage_simplify([geoms[i] for i in present], edge_deg * SIMPLIFY_EDGES)
    for i, g in zip(present, simplified, strict=True):
        geoms[i] = g
    return geoms


def _parts(geometry: Polygon | MultiPolygon) -> list[Polygon]:
    if geometry.is_empty:
        return []
    return list(geometry.geoms) if isinstance(geometry, MultiPolygon) else [geometry]


def _shifted(geometry: Any, shift: Shift) -> Any:
    if shift is _identity:
        return geometry

    def move(coords: np.ndarray) -> np.ndarray:
        lat, lng = shift(coords[:, 1], coords[:, 0])
        return np.column_stack([lng, lat])

    return shapely.transform(geometry, move)


def gap_areas(result: CoverageResult) -> list[tuple[Polygon, float]]:
    """Where workers are without a station: the cells with demand outside the target
    band, merged into connected areas, each with its demand (not the whole uncovered
    area, most of which nobody works in)."""
    assert result.cells is not None
    cells = result.cells
    mask = (cells.band > result.bands.target_index) & (cells.demand_micro > 0)
    if not mask.any():
        return []
    parts = _parts(merged_cells(cells.cells[mask]))
    tree = shapely.STRtree(parts)
    points = shapely.points(cells.lng[mask], cells.lat[mask])
    pt_idx, part_idx = tree.query(points, predicate="intersects")
    demand = np.zeros(len(parts), dtype=np.int64)
    # A point on a shared edge may touch two parts: count it once, in the first.
    first = np.unique(pt_idx, return_index=True)[1]
    np.add.at(demand, part_idx[first], cells.demand_micro[mask][pt_idx[first]])
    return [(parts[i], demand[i] / DEMAND_UNIT) for i in np.flatnonzero(demand > 0)]


def heat_points(result: CoverageResult, *, limit: int = HEAT_POINTS) -> np.ndarray:
    """[lat, lng, weight 0..1] rows; demand moves to coarser cells until few enough."""
    assert result.cells is not None
    has = result.cells.demand_micro > 0
    cells, weights = result.cells.cells[has], result.cells.demand_micro[has]
    res = result.request.res
    while len(cells) > limit and res > 5:
        res -= 1
        parents = h3cells.parent_array(cells, res)
        cells, inverse = np.unique(parents, return_inverse=True)
        weights = np.bincount(inverse, weights=weights).astype(np.int64)
    if len(cells) == 0:
        return np.empty((0, 3))
    lat, lng = h3cells.centres_array(cells)
    return np.column_stack([lat, lng, weights / weights.max()])


def _station_row(s: MapStation, lat: float, lng: float) -> list[Any]:
    """One compact row per station; the popup is assembled in the browser (see below)."""
    v = s.visit
    return [
        round(lat, 6),
        round(lng, 6),
        s.name,
        s.name_en or "",
        s.code,
        s.kind,
        vocab.amenity_mask([a for a in s.amenities if a in vocab.AMENITIES]),
        s.opening_hours or "",
        {True: 1, False: 0}.get(s.open_now, -1),  # type: ignore[arg-type]
        list(vocab.Access).index(vocab.Access(s.access)),
        None if v.rating is None else round(v.rating, 1),
        v.ratings,
        v.water_remaining,
        s.address or "",
    ]


def _station_callback(lang: str, *, grey: bool = False) -> str:
    """JS that turns a station row into a marker with its popup (text escaped); ``grey``
    markers are stations the analysis did not use."""
    i = 0 if lang == "zh" else 1
    t = TEXT[lang]
    labels = {
        "amenities": [v[i] for v in vocab.AMENITIES.values()],
        "access_labels": [vocab.ACCESS_LABELS[a][i] for a in vocab.Access],
        "amenities_label": t["amenities"],
        "kind": {k.value: vocab.KIND_LABELS[k][i] for k in vocab.Kind},
        "sep": "、" if lang == "zh" else ", ",
        "en": lang == "en",
        **{
            k: t[k]
            for k in (
                "hours",
                "open_now",
                "closed_now",
                "unknown",
                "rating",
                "water",
                "no_data",
                "bottles",
                "access",
            )
        },
    }
    return (
        "(function () {\n"
        f"  var T = {safe_json(labels)};\n"
        f"  var CLASS = {safe_json('ls-station ls-unused ls-' if grey else 'ls-station ls-')};\n"
        + """
  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  return function (row) {
    var name = (T.en && row[3]) ? row[3] : row[2];
    var am = [];
    for (var b = 0; b < T.amenities.length; b++) { if (row[6] & (1 << b)) am.push(T.amenities[b]); }
    var state = row[8] === 1 ? T.open_now : (row[8] === 0 ? T.closed_now : T.unknown);
    var rating = row[10] === null ? T.no_data : row[10].toFixed(1) + ' \u2605 (' + row[11] + ')';
    var water = row[12] === null ? T.no_data : T.bottles.replace('{n}', row[12]);
    var html = '<b>' + esc(name) + '</b> <small>' + esc(row[4]) + ' \u00b7 ' +
      esc(T.kind[row[5]] || row[5]) + '</small>' +
      '<br>' + esc(T.amenities_label) + ': ' + esc(am.length ? am.join(T.sep) : '\u2014') +
      '<br>' + esc(T.hours) + ': ' + esc(row[7] || T.unknown) + ' (' + esc(state) + ')' +
      '<br>' + esc(T.access) + ': ' + esc(T.access_labels[row[9]]) +
      '<br>' + esc(T.rating) + ': ' + esc(rating) +
      '<br>' + esc(T.water) + ': ' + esc(water) +
      (row[13] ? '<br>' + esc(row[13]) : '');
    var icon = L.divIcon({className: CLASS + row[5], html: '', iconSize: [14, 14]});
    var marker = L.marker(new L.LatLng(row[0], row[1]), {icon: icon, title: name});
    marker.bindPopup(html, {maxWidth: 320});
    return marker;
  };
})()"""
    )


_CSS = (
    """
<style>
.leaflet-container { background: #eef0f3; font: 13px/1.4 "Noto Sans CJK SC", "Microsoft YaHei",
  "PingFang SC", sans-serif; }
.ls-station { background: #1565c0; border: 2px solid #fff; border-radius: 50%;
  box-shadow: 0 0 2px rgba(0,0,0,.6); }
.ls-station.ls-water_point { background: #00838f; }
.ls-station.ls-unused { background: """
    + UNUSED_COLOUR
    + """; opacity: .8; }
.ls-unused-cluster { background-color: rgba(158,158,158,.45); }
.ls-unused-cluster div { background-color: rgba(117,117,117,.85); color: #fff; }
.ls-site b { display: block; background: #6a1b9a; color: #fff; border: 2px solid #fff;
  border-radius: 50%; width: 24px; height: 24px; line-height: 20px; text-align: center;
  box-shadow: 0 0 3px rgba(0,0,0,.7); box-sizing: border-box; }
.ls-site .ls-gain { position: absolute; left: 26px; top: 3px; white-space: nowrap;
  background: rgba(255,255,255,.9); color: #4a148c; font-weight: bold; padding: 0 4px;
  border-radius: 3px; box-shadow: 0 0 2px rgba(0,0,0,.4); }
.ls-panel { position: absolute; z-index: 1000; background: rgba(255,255,255,.93);
  padding: 8px 12px; border-radius: 6px; box-shadow: 0 1px 5px rgba(0,0,0,.4); }
.ls-title { top: 10px; left: 50%; transform: translateX(-50%); text-align: center;
  max-width: 60%; }
.ls-title h1 { font-size: 17px; margin: 0 0 2px 0; }
.ls-title p { margin: 0; font-size: 12px; color: #444; }
.ls-legend { bottom: 28px; right: 10px; max-width: 300px; font-size: 12px; }
.ls-legend i { display: inline-block; width: 14px; height: 14px; margin-right: 6px;
  vertical-align: -2px; border-radius: 2px; }
.ls-legend .ls-gap { border: 2px dashed """
    + GAP_COLOUR
    + """; width: 10px; height: 10px; }
.ls-legend .ls-dot { border-radius: 50%; }
.ls-legend b { display: block; margin: 4px 0 2px; }
.ls-legend b.ls-group { font-weight: normal; font-style: italic; color: #333; }
</style>
"""
)


def _group_heading(bands: Any, i: int, t: dict[str, str], lang: str) -> str | None:
    """The legend's heading before band ``i``: where the service circle starts and ends."""
    if i == 0:
        return t["inside"].format(band=bands.target_band.label(lang))
    if i == bands.target_index + 1:
        return t["outside"]
    return None


def _station_layer(
    stations: Sequence[MapStation], *, name: str, lang: str, grey: bool, shift: Shift
) -> StationCluster:
    s_lat, s_lng = shift(np.array([s.lat for s in stations]), np.array([s.lng for s in stations]))
    rows = [
        _station_row(s, float(a), float(b)) for s, a, b in zip(stations, s_lat, s_lng, strict=True)
    ]
    options: dict[str, Any] = {"maxClusterRadius": 40, "disableClusteringAtZoom": 15}
    if grey:  # grey clusters too, so unused stations never look like used ones
        options["iconCreateFunction"] = JsCode(
            "function (c) { return L.divIcon({html: '<div><span>' + c.getChildCount() + "
            "'</span></div>', className: 'marker-cluster ls-unused-cluster', "
            "iconSize: new L.Point(40, 40)}); }"
        )
    cluster = StationCluster(
        rows, callback=_station_callback(lang, grey=grey), name=name, **options
    )
    use_vendored(cluster, "markercluster")
    return cluster


REFERENCE_STYLE = {
    "city": {"color": "#6b7280", "weight": 2, "fill": False},
    "district": {"color": "#9ca3af", "weight": 1, "dashArray": "4 4", "fill": False},
    "road": {"color": "#b8bec7", "weight": 3},
}


def add_reference_layer(m: folium.Map, reference: dict[str, Any], *, lang: str) -> None:
    """Outlines and main roads in light grey, not clickable, with their names on hover."""
    folium.GeoJson(
        reference,
        name="参考底图" if lang == "zh" else "Reference outlines",
        style_function=lambda feature: REFERENCE_STYLE.get(
            feature["properties"].get("kind"), REFERENCE_STYLE["district"]
        ),
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
        control=False,
        smooth_factor=1,
    ).add_to(m)


def build_coverage_map(
    result: CoverageResult,
    *,
    stations: Sequence[MapStation] = (),
    suggestions: Suggestions | None = None,
    lang: str = "zh",
    tiles: TileSettings | None = None,
    made_at: datetime | None = None,
    reference: dict[str, Any] | None = None,
) -> folium.Map:
    """A folium map of one coverage analysis (cells must have been kept).

    ``reference`` (:func:`stations.tiles.reference.reference_layer`) is drawn in light
    grey under everything when the map has no tile layer, so a planner can tell where
    the cells are.
    """
    if lang not in TEXT:
        raise ValueError(f"lang must be zh or en, not {lang!r}")
    if result.cells is None:
        raise ValueError("the coverage map needs the per-cell result")
    t = TEXT[lang]
    shift = coordinate_shift(tiles)
    region = result.request.region
    cells = result.cells
    bands = result.bands
    lat0, lng0 = shift(np.array([region.centre[0]]), np.array([region.centre[1]]))

    m = folium.Map(
        location=[float(lat0[0]), float(lng0[0])],
        zoom_start=12,
        tiles=None,
        control_scale=True,
        maxZoom=tiles.max_zoom if tiles else 18,  # marker clustering needs the map's maxZoom
    )
    use_vendored(m, "map")
    if tiles is not None and tiles.url:
        folium.TileLayer(
            tiles=tiles.url,
            attr=tiles.attribution,
            name="底图" if lang == "zh" else "Base map",
            max_zoom=tiles.max_zoom,
            overlay=False,
            control=False,
        ).add_to(m)

    elif reference is not None:
        add_reference_layer(m, reference, lang=lang)

    min_lng, min_lat, max_lng, max_lat = region.bounds
    b_lat, b_lng = shift(np.array([min_lat, max_lat]), np.array([min_lng, max_lng]))
    m.fit_bounds([[float(b_lat[0]), float(b_lng[0])], [float(b_lat[1]), float(b_lng[1])]])

    colours = band_colours(len(bands.bands))
    band_rows = result.band_rows(lang)
    geoms = band_geometries(result)
    for i, band in enumerate(bands.bands):
        where = t["in"] if bands.inside_target(i) else t["out"]
        label = (
            f"{band.label(lang)} · {where} · {_percent(band_rows[i]['share'])} "
            f"{t['share_of_demand']}"
        )
        polygons = [
            {"rings": encode_polygon(p), "tooltip": label}
            for p in _parts(_shifted(geoms[i], shift))
        ]
        EncodedPolygons(
            polygons,
            name=label,
            style={
                "fillColor": colours[i],
                "fillOpacity": 0.45,
                "weight": 0,
                "color": colours[i],
                "className": f"ls-band ls-band-{band.name}",
            },
        ).add_to(m)

    # Gaps: the cells outside the target band where workers are, merged and outlined.
    gap_polygons = [
        {
            "rings": encode_polygon(_shifted(part, shift)),
            "tooltip": t["gap_tooltip"].format(demand=_amount(demand)),
        }
        for part, demand in gap_areas(result)
    ]
    EncodedPolygons(
        gap_polygons,
        name=t["gaps"],
        style={
            "fill": False,
            "color": GAP_COLOUR,
            "weight": 2,
            "dashArray": "6 4",
            "className": "ls-gap-area",
        },
    ).add_to(m)

    heat_rows = heat_points(result)
    if len(heat_rows):
        h_lat, h_lng = shift(heat_rows[:, 0], heat_rows[:, 1])
        data = np.column_stack(
            [np.round(h_lat, 5), np.round(h_lng, 5), np.round(heat_rows[:, 2], 3)]
        )
        heat = HeatMap(
            data.tolist(), name=t["demand"], radius=14, blur=18, min_opacity=0.25, show=False
        )
        use_vendored(heat, "heat")
        heat.add_to(m)

    # Stations, clustered; popups built here (escaped), markers in the browser. The ones
    # the analysis measured (that match its filters and can reach the region) in colour,
    # the others grey in a layer of their own.
    used_ids = set(result.reaching_ids().tolist())
    used = [s for s in stations if s.id in used_ids]
    unused = [s for s in stations if s.id not in used_ids]
    for group, name, grey in (
        (used, t["stations"].format(n=len(used)), False),
        (unused, t["unused"].format(n=len(unused)), True),
    ):
        if group:
            _station_layer(group, name=name, lang=lang, grey=grey, shift=shift).add_to(m)

    if suggestions is not None and suggestions.rows:
        p_lat, p_lng = shift(
            np.array([r["lat"] for r in suggestions.rows]),
            np.array([r["lng"] for r in suggestions.rows]),
        )
        markers = []
        for row, a, b in zip(suggestions.rows, p_lat, p_lng, strict=True):
            text = t["site_popup"].format(
                rank=row["rank"],
                gain=html.escape(_amount(row["gain"])),
                share=_percent(row["covered_share_after"]),
            )
            if row.get("name"):
                text = f"<b>{html.escape(str(row['name']))}</b><br>{text}"
            gain = html.escape(_amount(row["gain"]))
            markers.append(
                [
                    round(float(a), 6),
                    round(float(b), 6),
                    f'<div class="ls-site"><b>{int(row["rank"])}</b>'
                    f'<span class="ls-gain">+{gain}</span></div>',
                    text,
                    f"#{row['rank']} +{_amount(row['gain'])}",
                ]
            )
        HtmlMarkers(markers, name=t["sites"].format(n=len(markers))).add_to(m)

    EncodedPolygons(
        [
            {"rings": encode_polygon(p), "tooltip": None}
            for p in _parts(_shifted(region.geometry, shift))
        ],
        name=t["region"],
        style={
            "fill": False,
            "color": "#37474f",
            "weight": 1.5,
            "interactive": False,
            "className": "ls-region",
        },
    ).add_to(m)

    folium.LayerControl(collapsed=False, position="topright").add_to(m)

    share = result.covered_share
    target_text = (
        t["target"].format(band=bands.target_band.label(lang), share=_percent(share))
        if share is not None
        else t["no_demand"]
    )
    footer = t["footer"].format(
        res=result.request.res,
        cells=f"{len(cells):,}",
        at=(made_at or datetime.now()).strftime("%Y-%m-%d %H:%M"),
    )
    legend_rows = "".join(
        (
            f'<b class="ls-group">{html.escape(heading)}</b>'
            if (heading := _group_heading(bands, i, t, lang))
            else ""
        )
        + f'<div><i style="background:{colours[i]};opacity:.8"></i>{html.escape(row["label"])}'
        f" · {_percent(row['share'])}</div>"
        for i, row in enumerate(band_rows)
    )
    title = t["title"].format(region=region.label(lang))
    panels = (
        f'<div class="ls-panel ls-title"><h1>{html.escape(title)}</h1>'
        f"<p>{html.escape(target_text)}</p><p>{html.escape(PROXY_NOTE[lang])}</p>"
        f"<p>{html.escape(footer)}</p></div>"
        f'<div class="ls-panel ls-legend"><b>{html.escape(t["bands"])}</b>{legend_rows}'
        f'<b></b><div><i class="ls-gap"></i>{html.escape(t["gaps"])}</div>'
        f'<div><i class="ls-dot" style="background:#1565c0"></i>'
        f"{html.escape(t['stations'].format(n=len(used)))}</div>"
        + (
            f'<div><i class="ls-dot" style="background:{UNUSED_COLOUR}"></i>'
            f"{html.escape(t['unused'].format(n=len(unused)))}</div>"
            if unused
            else ""
        )
        + (
            f'<div><i class="ls-dot" style="background:#6a1b9a"></i>'
            f"{html.escape(t['sites'].format(n=len(suggestions.rows)))}</div>"
            if suggestions is not None and suggestions.rows
            else ""
        )
        + "</div>"
    )
    Overlay(map_id=m.get_name(), panels=panels, css=_CSS).add_to(m)
    return m
