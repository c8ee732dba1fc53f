"""CQL2 filters (OGC API – Features Part 3, Basic CQL2 and S_INTERSECTS) as SQL.

pygeofilter parses the text or JSON encoding into an AST; this module walks it and
writes a parameterised condition over an allow-list of queryables: every value is a
``$n`` parameter, every column and operator comes from this module, nothing from the
request is ever spliced into SQL text. What Basic CQL2 names is supported: comparisons,
AND/OR/NOT, LIKE, IN, IS NULL, BETWEEN; besides, S_INTERSECTS of the geometry with a
bbox or a geometry (in ``filter-crs``). Anything else (functions, arithmetic, temporal
or array operators, an unknown property, a value of the wrong type) is a 400 that says
what is wrong.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np
import shapely
import shapely.errors
import shapely.geometry
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text
from pygeofilter.parsers.cql2_text import parser as _cql2_text_module

from stations.catalog.fields import BY_NAME
from stations.errors import BadQuery
from stations.geo.crs import to_wgs84
from stations.ogc.crs import OgcCrs

# pygeofilter builds its CQL2 text parser with lark's debug on: each failed parse would
# print the parser's whole state stack (kilobytes) to the server's output, and lark's
# logger would log at DEBUG level. A request must not be able to flood the logs.
_cql2_text_module.parser.parser.parser.parser.debug = False
logging.getLogger("lark").setLevel(logging.WARNING)

MAX_FILTER_CHARS = 8_000
MAX_NODES = 300
LANGS = ("cql2-text", "cql2-json")


@dataclass(frozen=True)
class Queryable:
    """A property a filter may name: its SQL (an expression over ``s``), its type."""

    sql: str
    type: str  # text, text_array, timestamp, geometry
    vocabulary: tuple[str, ...] | None = None


QUERYABLES: dict[str, Queryable] = {
    "kind": Queryable("s.kind", "text", BY_NAME["kind"].vocabulary),
    "status": Queryable("s.status", "text", BY_NAME["status"].vocabulary),
    "access": Queryable("s.access", "text", BY_NAME["access"].vocabulary),
    "amenity": Queryable("s.amenities", "text_array", BY_NAME["amenities"].vocabulary),
    "district": Queryable("s.district", "text"),
    "district_code": Queryable("s.district_code", "text"),
    "name": Queryable("s.name", "text"),
    "operator": Queryable("s.operator", "text"),
    "verified_at": Queryable("s.verified_at", "timestamp"),
    "updated_at": Queryable("s.updated_at", "timestamp"),
    "geometry": Queryable("s.geom::geometry", "geometry"),
}
"""Every property a CQL2 filter may name (the queryables of ``/ogc``)."""

_COMPARISONS: dict[type, str] = {
    ast.Equal: "=",
    ast.NotEqual: "<>",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}
_FIELD = "filter"


def _bad(message: str) -> BadQuery:
    return BadQuery(_FIELD, f"filter: {message}")


def bad_value(database_message: str) -> BadQuery:
    """PostgreSQL refused a value of the filter (an invalid geometry, say)."""
    first = database_message.strip().splitlines()[0][:200] if database_message.strip() else ""
    return _bad(f"a value was refused by the database ({first})")


class SqlParams:
    """The values of one query, numbered as they are added (``$1``, ``$2`` …)."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any, cast: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{cast}"


def parse_filter(text: str, lang: str | None) -> ast.Node:
    """The CQL2 AST of ``text`` in ``lang`` (cql2-text by default); 400 when unreadable."""
    lang = lang or "cql2-text"
    if lang not in LANGS:
        raise BadQuery(
            "filter-lang", f"filter-lang: unknown {lang!r}; allowed values: {', '.join(LANGS)}"
        )
    if len(text) > MAX_FILTER_CHARS:
        raise _bad(f"at most {MAX_FILTER_CHARS:,} characters")
    if "\x00" in text:
        raise _bad("contains a NUL character")
    try:
        if lang == "cql2-json":
            try:
                document = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _bad(f"not JSON ({exc.msg} at character {exc.pos})") from None
            if not isinstance(document, dict):
                raise _bad(
                    "a CQL2 JSON filter is a JSON object such as "
                    '{"op": "=", "args": [{"property": "kind"}, "water_point"]}'
                )
            node = parse_cql2_json(_as_pygeofilter_reads(document))
        else:
            node = parse_cql2_text(text)
    except BadQuery:
        raise
    except RecursionError:
        raise _bad("nested too deeply") from None
    except Exception as exc:  # the parsers raise many kinds (lark, KeyError, ValueError…)
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise _bad(
            f"not valid {lang} ({first}); e.g. kind = 'water_point' AND status <> 'closed'"
        ) from None
    if not isinstance(node, ast.Node):
        raise _bad("it must be a condition (e.g. kind = 'water_point'), not a value")
    return node


def _as_pygeofilter_reads(node: Any, depth: int = 0) -> Any:
    """CQL2 1.0 JSON as pygeofilter 0.4 reads it: its ``between`` takes the draft form
    ``[property, [low, high]]`` where the standard writes ``[property, low, high]``."""
    if depth > 200:
        raise _bad("nested too deeply")
    if isinstance(node, list):
        return [_as_pygeofilter_reads(item, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _as_pygeofilter_reads(value, depth + 1) for key, value in node.items()}
    args = out.get("args")
    if out.get("op") == "between" and isinstance(args, list) and len(args) == 3:
        out["args"] = [args[0], [args[1], args[2]]]
    return out


def to_sql(node: ast.Node, params: SqlParams, *, crs: OgcCrs) -> str:
    """The condition ``node`` as SQL over ``stations s``, values added to ``params``."""
    return _Translator(params, crs).condition(node, depth=0)


class _Translator:
    def __init__(self, params: SqlParams, crs: OgcCrs) -> None:
        self.params = params
        self.crs = crs
        self.nodes = 0

    def condition(self, node: Any, depth: int) -> str:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > 60:
            raise _bad(f"too large (at most {MAX_NODES} terms)")
        if isinstance(node, ast.And | ast.Or):
            op = "AND" if isinstance(node, ast.And) else "OR"
            left = self.condition(node.lhs, depth + 1)
            right = self.condition(node.rhs, depth + 1)
            return f"({left} {op} {right})"
        if isinstance(node, ast.Not):
            return f"(NOT {self.condition(node.sub_node, depth + 1)})"
        if type(node) in _COMPARISONS:
            return self._comparison(node, _COMPARISONS[type(node)])
        if isinstance(node, ast.Like):
            return self._like(node)
        if isinstance(node, ast.In):
            return self._in(node)
        if isinstance(node, ast.IsNull):
            return self._is_null(node)
        if isinstance(node, ast.Between):
            return self._between(node)
        if isinstance(node, ast.GeometryIntersects):
            return self._intersects(node)
        name = type(node).__name__
        raise _bad(
            f"{name} is not supported; use comparisons, AND/OR/NOT, LIKE, IN, IS NULL, "
            "BETWEEN and S_INTERSECTS(geometry, …) on the queryables"
        )

    # --- properties and values ----------------------------------------------------------

    def _property(self, node: Any) -> tuple[str, Queryable]:
        if not isinstance(node, ast.Attribute) or not isinstance(node.name, str):
            raise _bad(
                "the left side of a condition must be a property "
                f"(one of {', '.join(QUERYABLES)}), got {_show(node)}"
            )
        found = QUERYABLES.get(node.name)
        if found is None:
            raise _bad(
                f"unknown property {node.name!r}; the queryables are {', '.join(QUERYABLES)}"
            )
        return node.name, found

    def _scalar(self, name: str, queryable: Queryable, value: Any) -> Any:
        """``value`` checked against the property's type (never coerced silently)."""
        kind = queryable.type
        if kind in ("text", "text_array"):
            if not isinstance(value, str):
                raise _bad(f"{name} is text: compare it with a 'quoted string', not {_show(value)}")
            if "\x00" in value:
                raise _bad("text values may not contain NUL characters")
            return value
        if kind == "timestamp":
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    raise _bad(f"{name}: give the time zone of {value.isoformat()} (e.g. Z)")
                return value
            if isinstance(value, date):
                return datetime.combine(value, time(0), tzinfo=UTC)
            raise _bad(
                f"{name} is a date-time: compare it with TIMESTAMP('2026-06-01T08:00:00Z') "
                f"or DATE('2026-06-01'), not {_show(value)}"
            )
        raise _bad(f"{name} is the geometry: use S_INTERSECTS(geometry, …)")

    def _value(self, name: str, queryable: Queryable, value: Any) -> str:
        checked = self._scalar(name, queryable, value)
        cast = "timestamptz" if queryable.type == "timestamp" else "text"
        return self.params.add(checked, cast)

    # --- predicates ---------------------------------------------------------------------

    def _comparison(self, node: Any, op: str) -> str:
        lhs, rhs = node.lhs, node.rhs
        if not isinstance(lhs, ast.Attribute) and isinstance(rhs, ast.Attribute):
            lhs, rhs = rhs, lhs
            op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
        name, queryable = self._property(lhs)
        value = self._value(name, queryable, rhs)
        if queryable.type == "text_array":
            if op == "=":
                return f"({value} = ANY({queryable.sql}))"
            if op == "<>":
                return f"(NOT ({value} = ANY({queryable.sql})))"
            raise _bad(f"{name}: only =, <>, IN, LIKE and IS NULL apply to it")
        return f"({queryable.sql} {op} {value})"

    def _like(self, node: ast.Like) -> str:
        name, queryable = self._property(node.lhs)
        if queryable.type not in ("text", "text_array"):
            raise _bad(f"LIKE applies to text properties, not {name}")
        pattern = self.params.add(
            _sql_like_pattern(self._scalar(name, queryable, node.pattern)), "text"
        )
        negate = "NOT " if node.not_ else ""
        if queryable.type == "text_array":
            return (
                f"({negate}EXISTS (SELECT 1 FROM unnest({queryable.sql}) a WHERE a LIKE {pattern}))"
            )
        return f"({queryable.sql} {negate}LIKE {pattern})"

    def _in(self, node: ast.In) -> str:
        name, queryable = self._property(node.lhs)
        if not isinstance(node.sub_nodes, list | tuple) or not node.sub_nodes:
            raise _bad(f"{name} IN (): name at least one value")
        checked = [self._scalar(name, queryable, v) for v in node.sub_nodes]
        negate = "NOT " if node.not_ else ""
        if queryable.type == "text_array":
            values_sql = self.params.add(checked, "text[]")
            return f"({negate}({queryable.sql} && {values_sql}))"
        cast = "timestamptz[]" if queryable.type == "timestamp" else "text[]"
        values_sql = self.params.add(checked, cast)
        return f"({negate}({queryable.sql} = ANY({values_sql})))"

    def _is_null(self, node: ast.IsNull) -> str:
        _, queryable = self._property(node.lhs)
        if queryable.type == "text_array":
            test = f"(cardinality({queryable.sql}) = 0)"
        elif queryable.type == "geometry":
            raise _bad("every station has a position: geometry is never null")
        else:
            test = f"({queryable.sql} IS NULL)"
        return f"(NOT {test})" if node.not_ else test

    def _between(self, node: ast.Between) -> str:
        name, queryable = self._property(node.lhs)
        if queryable.type not in ("text", "timestamp"):
            raise _bad(f"BETWEEN applies to text and date-time properties, not {name}")
        low = self._value(name, queryable, node.low)
        high = self._value(name, queryable, node.high)
        negate = "NOT " if node.not_ else ""
        return f"({queryable.sql} {negate}BETWEEN {low} AND {high})"

    def _intersects(self, node: Any) -> str:
        lhs, rhs = node.lhs, node.rhs
        if not isinstance(lhs, ast.Attribute):
            lhs, rhs = rhs, lhs
        name, queryable = self._property(lhs)
        if queryable.type != "geometry":
            raise _bad(f"S_INTERSECTS compares the geometry, not {name}")
        if isinstance(rhs, values.Envelope):
            # pygeofilter 0.4's CQL2 JSON parser fills Envelope(x1, x2, y1, y2) with the
            # bbox array [minx, miny, maxx, maxy] in order (pinned; tests/ogc hold it).
            box = [rhs.x1, rhs.x2, rhs.y1, rhs.y2]
            return self._bbox(box)
        if isinstance(rhs, ast.Function) and str(rhs.name).lower() == "bbox":
            return self._bbox(list(rhs.arguments))
        if isinstance(rhs, values.Geometry) and isinstance(rhs.geometry, dict):
            geometry = _geometry_to_wgs84(rhs.geometry, self.crs)
            geojson = self.params.add(json.dumps(geometry), "text")
            return (
                f"ST_Intersects({queryable.sql}, ST_SetSRID(ST_GeomFromGeoJSON({geojson}), 4326))"
            )
        raise _bad("S_INTERSECTS(geometry, …) takes a BBOX(…) or a geometry (WKT or GeoJSON)")

    def _bbox(self, box: list[Any]) -> str:
        if len(box) == 6:
            box = [box[0], box[1], box[3], box[4]]
        if len(box) != 4 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in box
        ):
            raise _bad("BBOX takes four numbers: minx, miny, maxx, maxy")
        a, b, c, d = (float(v) for v in box)
        # In a latitude-first CRS a bbox is minLat, minLon, maxLat, maxLon.
        west, south, east, north = (b, a, d, c) if self.crs.lat_first else (a, b, c, d)
        if not (-90 <= south <= north <= 90 and -180 <= west <= 180 and -180 <= east <= 180):
            raise _bad("BBOX: longitudes from -180 to 180, latitudes from -90 to 90, min ≤ max")
        lats, lngs = to_wgs84(np.array([south, north]), np.array([west, east]), self.crs.crs)
        p = [self.params.add(float(v), "float8") for v in (lngs[0], lats[0], lngs[1], lats[1])]
        return f"(s.geom::geometry && ST_MakeEnvelope({p[0]}, {p[1]}, {p[2]}, {p[3]}, 4326))"


def _geometry_to_wgs84(geometry: dict[str, Any], crs: OgcCrs) -> dict[str, Any]:
    """A GeoJSON geometry's coordinates from ``crs`` (its axis order) to WGS84 lng, lat."""

    def convert(coords: Any) -> Any:
        if isinstance(coords, list | tuple) and coords and isinstance(coords[0], int | float):
            if len(coords) < 2 or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in coords
            ):
                raise _bad("geometry: a position is two numbers")
            a, b = float(coords[0]), float(coords[1])
            lat, lng = (a, b) if crs.lat_first else (b, a)
            if not (np.isfinite(lat) and np.isfinite(lng) and abs(lat) <= 90 and abs(lng) <= 180):
                raise _bad("geometry: a position is outside -180..180, -90..90")
            out_lat, out_lng = to_wgs84(lat, lng, crs.crs)
            return [float(out_lng), float(out_lat)]
        if isinstance(coords, list | tuple):
            return [convert(c) for c in coords]
        raise _bad("geometry: coordinates must be numbers")

    kind = geometry.get("type")
    if kind not in (
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
    ):
        raise _bad(f"geometry type {kind!r} is not supported here")
    out = {"type": kind, "coordinates": convert(geometry.get("coordinates"))}
    try:
        checked = shapely.geometry.shape(out)
    except (ValueError, TypeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise _bad(f"geometry: not a valid {kind} ({exc})") from None
    if checked.is_empty or not checked.is_valid:
        raise _bad(f"geometry: not a valid {kind} ({shapely.is_valid_reason(checked)})")
    return out


_LIKE_SPECIAL = re.compile(r"\\(.)|([%_])|([^\\%_]+)|(\\)$", re.DOTALL)


def _sql_like_pattern(pattern: str) -> str:
    """A CQL2 LIKE pattern as PostgreSQL's: ``%`` any run, ``_`` one character, ``\\``
    escapes the next (CQL2's own rules: the parser's ``singlechar`` is not consulted)."""
    out = []
    for match in _LIKE_SPECIAL.finditer(pattern):
        escaped, wildcard, plain, trailing = match.groups()
        if escaped is not None:
            out.append("\\" + escaped if escaped in "%_\\" else escaped)
        elif wildcard is not None:
            out.append(wildcard)
        elif plain is not None:
            out.append(plain)
        elif trailing is not None:
            raise _bad("LIKE: a pattern may not end with a lone \\")
    return "".join(out)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"
