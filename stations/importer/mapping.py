"""Mapping files: how a foreign file's columns become catalog fields.

A mapping is a TOML file, given by its path or, for the ones shipped in
``stations/importer/mappings/``, by its name (``--mapping paris-fontaines``)::

    source = "paris-fontaines"          # the default --source

    [columns]                           # foreign column = catalog field
    Identifiant = "source_id"
    "Disponibilité" = "status"

    [values.status]                     # foreign value = catalog value (case-insensitive)
    OUI = "active"
    NON = "temporarily_closed"

    [constants]                         # the same for every row
    kind = "water_point"
    amenities = ["drinking_water"]

    [defaults]                          # where the row has no value
    name = "Fontaine"

    [templates]                         # from several columns; "[ … ]" is left out
    name = "Fontaine[ {N° Voie Pair}] {Voie}"   # when a column inside it is empty

    [amenities.when_yes]                # column = amenity, added where it says yes
    wheelchair = "accessible"

    [position]                          # one of: lat+lng, latlng ("lat, lng" text),
    latlng = "geo_point_2d"             # lnglat ("lng, lat" text), wkt, geojson
    crs = "wgs84"                       # (GeoJSON text), x+y (projected)

``latlng`` reads a pair of numbers as **lat first**, ``lnglat`` as **lng first** (the
order of GeoJSON and WKT); either may be wrapped in one pair of parentheses or brackets
and separated by a comma, semicolon or spaces: ``(-37.81, 144.96)``, ``[144.96, -37.81]``.
A swapped pair usually fails the range check (|lat| > 90) and says so.

    [attributes]
    keep = ["Type Objet", "Modèle"]     # copied into the station's attributes (jsonb)

Without a mapping file, columns named like catalog fields map to themselves and the
position comes from ``lat``/``lng`` (or common aliases), a ``wkt`` column or the file's
own geometry.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field, replace
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from stations.catalog import rules
from stations.catalog.problems import Problems, map_distinct
from stations.catalog.text import as_text
from stations.errors import InvalidInput
from stations.geo import crs as crsmod

BUNDLED_DIR = files("stations.importer") / "mappings"
"""Mappings of public sample files, shipped as package data."""

TRUTHY = ("yes", "y", "true", "1", "oui", "designated", "是", "有")
"""Values that switch on an amenity in ``[amenities.when_yes]`` (compared lower-case)."""

_SECTIONS = {
    "source",
    "columns",
    "values",
    "constants",
    "defaults",
    "templates",
    "amenities",
    "position",
    "attributes",
    "description",
}
_POSITION_KEYS = {"lat", "lng", "latlng", "lnglat", "wkt", "geojson", "x", "y", "crs"}
_MAPPABLE = (*rules.STATION_FIELDS, "source_id")
_ALIASES: dict[str, tuple[str, ...]] = {
    "lat": ("lat", "latitude", "纬度", "wgs84_lat"),
    "lng": ("lng", "lon", "long", "longitude", "经度", "wgs84_lng", "wgs84_lon"),
    "source_id": ("source_id", "@id", "_id", "id"),
    "wkt": ("wkt", "geometry_wkt", "geom_wkt"),
}
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_WRAPPED = r"^\s*(?:\((.*)\)|\[(.*)\])\s*$"
_LATLNG = re.compile(r"^\s*([-+]?\d+(?:[.]\d+)?)\s*[,;\s]\s*([-+]?\d+(?:[.]\d+)?)\s*$")


@dataclass(frozen=True)
class Position:
    """Where a row's position is: which columns, read how, in which CRS."""

    lat: str | None = None
    lng: str | None = None
    latlng: str | None = None
    lnglat: str | None = None
    wkt: str | None = None
    geojson: str | None = None
    x: str | None = None
    y: str | None = None
    crs: str | None = None
    geometry: bool = False  # the file's own geometry (GeoJSON, GeoPackage, …)

    @property
    def columns(self) -> list[str]:
        named = (
            self.lat,
            self.lng,
            self.latlng,
            self.lnglat,
            self.wkt,
            self.geojson,
            self.x,
            self.y,
        )
        return [c for c in named if c]


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping (file or identity); :meth:`apply` turns raw chunks into catalog form."""

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    amenity_flags: dict[str, str] = field(default_factory=dict)
    position: Position = field(default_factory=Position)
    keep: tuple[str, ...] = ()
    source: str | None = None
    name: str = "identity"

    @property
    def field_labels(self) -> dict[str, str]:
        """Catalog field -> how the report names it (with the file's column)."""
        labels = {
            target: f"{target} ({column})"
            for column, target in self.columns.items()
            if column != target
        }
        for name in ("lat", "lng"):
            column = getattr(self.position, name)
            if column and column != name:
                labels[name] = f"{name} ({column})"
        for name in ("x", "y"):
            column = getattr(self.position, name)
            if column and column != name:
                labels[name] = f"{name} ({column})"
        if self.position.latlng or self.position.lnglat:
            labels["position"] = f"position ({self.position.latlng or self.position.lnglat})"
        if self.position.wkt or self.position.geojson:
            labels["geometry"] = f"geometry ({self.position.wkt or self.position.geojson})"
        return labels

    def required_columns(self) -> set[str]:
        needed = set(self.columns) | set(self.position.columns) | set(self.amenity_flags)
        for template in self.templates.values():
            needed |= set(_PLACEHOLDER.findall(template))
        return needed

    def with_same_names(self, available: list[str]) -> Mapping:
        """This mapping plus the file's columns already named like catalog fields
        (``name``, ``opening_hours`` …) that the mapping does not fill otherwise."""
        taken = (
            set(self.columns.values())
            | set(self.templates)
            | set(self.constants)
            | set(self.position.columns)
        )
        extra = {
            c: c for c in available if c in _MAPPABLE and c not in taken and c not in self.columns
        }
        if not extra:
            return self
        return replace(self, columns={**self.columns, **extra})

    def missing_columns(self, available: list[str]) -> list[str]:
        """Columns the mapping reads that the file does not have."""
        return sorted(self.required_columns() - set(available))

    def apply(self, raw: pd.DataFrame, problems: Problems) -> pd.DataFrame:
        """A raw chunk (index = row numbers) in catalog form: fields and position columns."""
        absent = [c for c in self.required_columns() if c not in raw.columns]
        if absent:  # sparse records (GeoJSON properties): a column no record has is empty
            raw = raw.assign(**{c: pd.Series(np.nan, index=raw.index, dtype="str") for c in absent})
        out = pd.DataFrame(index=raw.index)
        for column, target in self.columns.items():
            out[target] = raw[column]
        for target, template in self.templates.items():
            out[target] = fill_template(template, raw)
        for target, table in self.values.items():
            if target in out.columns:
                out[target] = _map_values(out[target], table)
        for target, value in self.defaults.items():
            filled = _constant(value, len(raw), raw.index)
            if target in out.columns:
                text = out[target] if target == "amenities" else as_text(out[target])
                out[target] = text.where(text.notna(), filled)
            else:
                out[target] = filled
        for target, value in self.constants.items():
            if target != "amenities":
                out[target] = _constant(value, len(raw), raw.index)
        amenities = self._amenities(raw, out)
        if amenities is not None:
            out["amenities"] = amenities
        if self.keep:
            out["attributes"] = _attributes(raw, self.keep)
        self._position(raw, out, problems)
        return out

    def _amenities(self, raw: pd.DataFrame, out: pd.DataFrame) -> pd.Series | None:
        constant = self.constants.get("amenities")
        if constant is None and not self.amenity_flags:
            return None
        parts: list[pd.Series] = []
        if "amenities" in out.columns:
            given = out["amenities"]
            if given.dtype == object:
                given = given.map(
                    lambda v: ";".join(map(str, v)) if isinstance(v, (list, tuple)) else v,
                    na_action="ignore",
                )
            parts.append(as_text(given).fillna(""))
        if constant is not None:
            text = ";".join(constant) if isinstance(constant, list) else str(constant)
            parts.append(pd.Series(text, index=raw.index, dtype="str"))
        for column, amenity in self.amenity_flags.items():
            flag = as_text(raw[column]).str.lower().isin(TRUTHY).to_numpy()
            parts.append(pd.Series(np.where(flag, amenity, ""), index=raw.index, dtype="str"))
        joined = parts[0]
        for part in parts[1:]:
            joined = joined + ";" + part
        return joined

    def _position(self, raw: pd.DataFrame, out: pd.DataFrame, problems: Problems) -> None:
        p = self.position
        if p.lat and p.lng:
            out["lat"], out["lng"] = raw[p.lat], raw[p.lng]
        elif p.x and p.y:
            out["x"], out["y"] = raw[p.x], raw[p.y]
        elif p.latlng:
            out["lat"], out["lng"] = split_latlng(raw[p.latlng], p.latlng, problems)
        elif p.lnglat:
            out["lat"], out["lng"] = split_latlng(raw[p.lnglat], p.lnglat, problems, lng_first=True)
        elif p.wkt or p.geojson:
            column = p.wkt or p.geojson
            assert column is not None
            out["geometry"] = parse_geometry(raw[column], column, problems, wkt=bool(p.wkt))
        elif p.geometry:
            out["geometry"] = raw["geometry"]


def _constant(value: Any, n: int, index: pd.Index) -> pd.Series:
    if isinstance(value, list):
        return pd.Series([";".join(map(str, value))] * n, index=index, dtype="str")
    return pd.Series([value] * n, index=index, dtype=object)


def _map_values(values: pd.Series, table: MappingType[str, Any]) -> pd.Series:
    lookup = {str(k).strip().lower(): v for k, v in table.items()}
    text = as_text(values)
    return map_distinct(text, lambda v: lookup.get(str(v).lower(), v))


def fill_template(template: str, raw: pd.DataFrame) -> pd.Series:
    """A template over a chunk: ``{Column}`` is the column's text; an optional part in
    ``[ … ]`` is dropped where any column inside it is empty. Blank results are missing.
    """
    index = raw.index

    def render(text: str) -> tuple[pd.Series, pd.Series]:
        """The text, and where every placeholder in it had a value."""
        result = pd.Series("", index=index, dtype="str")
        complete = pd.Series(True, index=index)
        at = 0
        for match in _PLACEHOLDER.finditer(text):
            result = result + text[at : match.start()]
            value = as_text(raw[match.group(1)])
            complete &= value.notna()
            result = result + value.fillna("")
            at = match.end()
        return result + text[at:], complete

    result = pd.Series("", index=index, dtype="str")
    at = 0
    for match in _OPTIONAL.finditer(template):
        plain, _ = render(template[at : match.start()])
        optional, complete = render(match.group(1))
        result = result + plain + optional.where(complete, "")
        at = match.end()
    tail, _ = render(template[at:])
    result = (result + tail).str.replace(r"\s+", " ", regex=True).str.strip()
    return result.where(result.str.len() > 0)


def _attributes(raw: pd.DataFrame, keep: tuple[str, ...]) -> pd.Series:
    """The kept columns of each row as a dict (empty values left out); numbers and
    booleans stay JSON numbers and booleans, everything else is text."""
    columns = {
        c: raw[c].to_numpy(dtype=object, na_value=None)
        for c in keep
        if c in raw.columns  # kept columns are optional: a file may lack some
    }
    texts = {
        c: as_text(raw[c]).to_numpy(dtype=object, na_value=None) for c in keep if c in raw.columns
    }
    records = []
    for i in range(len(raw)):
        record = {}
        for c, values in columns.items():
            value = _json_scalar(values[i])
            if value is None and texts[c][i] is not None:
                value = texts[c][i]
            if value is not None:
                record[c] = value
        records.append(record)
    return pd.Series(records, index=raw.index, dtype=object)


def _json_scalar(value: Any) -> int | float | bool | None:
    """A number or boolean as its JSON value (None for text, missing or NaN)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, float) and np.isfinite(value):
        return value
    return None


def split_latlng(
    values: pd.Series, column: str, problems: Problems, *, lng_first: bool = False
) -> tuple[pd.Series, pd.Series]:
    """A pair of numbers as text into (lat, lng) text columns.

    The two numbers are separated by a comma, a semicolon or spaces, and may be wrapped
    in one pair of parentheses or brackets: ``48.8566, 2.3522``, ``(48.8566, 2.3522)``,
    ``[2.3522, 48.8566]``. The order is lat first (``latlng``), or lng first
    (``lng_first``: the ``lnglat`` key, as GeoJSON and WKT write coordinates).
    """
    text = as_text(values)
    bare = text.str.replace(_WRAPPED, r"\1\2", regex=True)
    parts = bare.str.extract(_LATLNG)
    bad = (text.notna() & parts[0].isna()).to_numpy()
    if bad.any():
        pair, example = (
            ("lng, lat", "2.3522, 48.8566") if lng_first else ("lat, lng", "48.8566, 2.3522")
        )
        problems.add(
            text.index[bad],
            "position",
            "not_a_number",
            f"is not a '{pair}' pair; write e.g. '{example}' or '({example})'",
            text[bad],
        )
    if lng_first:
        return parts[1], parts[0]
    return parts[0], parts[1]


def parse_geometry(values: pd.Series, column: str, problems: Problems, *, wkt: bool) -> pd.Series:
    """WKT or GeoJSON text into shapely geometries (None where missing or unreadable)."""
    text = as_text(values)
    array = text.to_numpy(dtype=object, na_value=None)
    if wkt:
        geoms = shapely.from_wkt(array, on_invalid="ignore")
        what = "WKT; write e.g. 'POINT (2.3522 48.8566)' (lng lat)"
    else:
        geoms = np.array([_from_geojson(v) for v in array], dtype=object)
        what = 'GeoJSON; write e.g. {"type": "Point", "coordinates": [2.3522, 48.8566]}'
    bad = text.notna().to_numpy() & pd.isna(geoms)
    if bad.any():
        problems.add(text.index[bad], "geometry", "bad_geometry", f"is not {what}", text[bad])
    return pd.Series(geoms, index=values.index, dtype=object)


def _from_geojson(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return shapely.from_geojson(text)
    except shapely.errors.GEOSException:
        return None


# --- loading ------------------------------------------------------------------------------


def bundled_mappings() -> list[str]:
    """Names of the mappings shipped with the package (``paris-fontaines`` …)."""
    return sorted(
        p.name.removesuffix(".toml") for p in BUNDLED_DIR.iterdir() if p.name.endswith(".toml")
    )


def find_mapping(name_or_path: Path | str) -> Traversable:
    """A mapping file: a path, or the bare name of a bundled mapping.

    A file that exists at the path wins; otherwise a name without a folder is looked up
    among the bundled mappings, with or without ``.toml``.
    """
    path = Path(name_or_path)
    if path.exists() or len(path.parts) != 1:
        return path
    text = path.name
    bundled = BUNDLED_DIR / f"{text.removesuffix('.toml')}.toml"
    if bundled.is_file():
        return bundled
    raise InvalidInput(
        f"mapping {text}: no such file, and no bundled mapping of that name; "
        f"bundled: {', '.join(bundled_mappings())}"
    )


def load_mapping(path: Path | str) -> Mapping:
    """Read and check a mapping TOML file (a path or a bundled name, see :func:`find_mapping`).

    Every mistake is named with its fix.
    """
    source_file = find_mapping(path)
    where = f"mapping {source_file.name}"
    try:
        data = tomllib.loads(source_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{where}: cannot read it ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{where}: not valid TOML ({exc})") from exc
    unknown = sorted(set(data) - _SECTIONS)
    if unknown:
        raise InvalidInput(
            f"{where}: unknown entries {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(_SECTIONS))}"
        )

    def fields_of(section: str, table: Any) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise InvalidInput(f"{where}: [{section}] must be a table")
        return table

    columns = {str(k): str(v) for k, v in fields_of("columns", data.get("columns", {})).items()}
    for column, target in columns.items():
        if target not in _MAPPABLE:
            raise InvalidInput(
                f"{where}: [columns] maps {column!r} to {target!r}, which is not a catalog "
                f"field; use one of {', '.join(_MAPPABLE)}"
            )
    values = {k: dict(v) for k, v in fields_of("values", data.get("values", {})).items()}
    constants = fields_of("constants", data.get("constants", {}))
    defaults = fields_of("defaults", data.get("defaults", {}))
    templates = {k: str(v) for k, v in fields_of("templates", data.get("templates", {})).items()}
    for section, table in (
        ("values", values),
        ("constants", constants),
        ("defaults", defaults),
        ("templates", templates),
    ):
        for target in table:
            if target not in _MAPPABLE:
                raise InvalidInput(
                    f"{where}: [{section}] names {target!r}, which is not a catalog field; "
                    f"use one of {', '.join(_MAPPABLE)}"
                )
    amenities = fields_of("amenities", data.get("amenities", {}))
    flags = {str(k): str(v) for k, v in dict(amenities.get("when_yes", {})).items()}
    for column, amenity in flags.items():
        if amenity not in rules.AMENITY_NAMES:
            raise InvalidInput(
                f"{where}: [amenities.when_yes] {column!r} = {amenity!r} is not an amenity; "
                f"use one of {', '.join(rules.AMENITY_NAMES)}"
            )
    if "always" in amenities:
        constants = {**constants, "amenities": list(amenities["always"])}
    position_table = fields_of("position", data.get("position", {}))
    unknown = sorted(set(position_table) - _POSITION_KEYS)
    if unknown:
        raise InvalidInput(
            f"{where}: [position] has unknown keys {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(_POSITION_KEYS))}"
        )
    position = Position(**{k: str(v) for k, v in position_table.items()})  # type: ignore[arg-type]
    ways = [
        bool(position.lat or position.lng),
        bool(position.latlng),
        bool(position.lnglat),
        bool(position.wkt),
        bool(position.geojson),
        bool(position.x or position.y),
    ]
    if sum(ways) > 1:
        raise InvalidInput(
            f"{where}: [position] gives more than one way to read the position; "
            "keep one of lat+lng, latlng, lnglat, wkt, geojson, x+y"
        )
    if bool(position.lat) != bool(position.lng) or bool(position.x) != bool(position.y):
        raise InvalidInput(f"{where}: [position] needs both lat and lng (or both x and y)")
    if position.crs is not None:
        crsmod.parse_crs(position.crs, field=f"{where}: [position] crs")
    if sum(ways) == 0:
        position = Position(crs=position.crs, geometry=True)
    keep = tuple(
        str(c) for c in fields_of("attributes", data.get("attributes", {})).get("keep", ())
    )
    source = data.get("source")
    return Mapping(
        columns=columns,
        values=values,
        constants=constants,
        defaults=defaults,
        templates=templates,
        amenity_flags=flags,
        position=position,
        keep=keep,
        source=str(source) if source else None,
        name=source_file.name,
    )


def identity_mapping(columns: list[str], *, has_geometry: bool) -> tuple[Mapping, list[str]]:
    """The mapping of a file whose columns already have catalog names.

    Returns the mapping and the columns it ignores (the report lists them).
    """
    lowered = {c.lower(): c for c in columns}
    if "source_id" in lowered:
        lowered.pop("id", None)  # our exports: "id" is the catalog's, "source_id" the source's

    def find(name: str) -> str | None:
        for alias in _ALIASES.get(name, (name,)):
            if alias in lowered:
                return lowered[alias]
        return None

    mapped: dict[str, str] = {}
    for target in (*rules.STATION_FIELDS, "source_id"):
        column = find(target)
        if column is not None:
            mapped[column] = target
    lat, lng, wkt = find("lat"), find("lng"), find("wkt")
    if lat and lng:
        position = Position(lat=lat, lng=lng)
    elif wkt:
        position = Position(wkt=wkt)
    elif has_geometry:
        position = Position(geometry=True)
    elif "x" in lowered and "y" in lowered:
        position = Position(x=lowered["x"], y=lowered["y"])
    else:
        position = Position()
    # what our own exports add besides catalog fields: read elsewhere, or not imported
    used = set(mapped) | set(position.columns) | {"geometry", "source", "crs", "id", "code"}
    ignored = [c for c in columns if c not in used]
    return Mapping(columns=mapped, position=position), ignored
