"""The station's fields, in one table: everything else about a station's shape derives here.

A field a caller can set (from the API, a file or a DataFrame) is one :class:`Field`.
From :data:`FIELDS` derive: the rules' limits, defaults and required fields
(:mod:`stations.catalog.rules`), the importer's staging table, COPY columns and
encoders (:mod:`stations.importer.prepare`), the SQL column lists of inserts, updates,
exports and searches (the ``{{…}}`` macros of :mod:`stations.sql`), the API's request
and response models (:mod:`api.schemas`) and a station's public dict
(:func:`stations.search.lookup.station_dict`). Adding a field is one line here plus a
migration that adds the column (with its CHECK, which ``tests/catalog/test_fields.py``
holds against this table).

The position (``lat``/``lng`` in a CRS) is not a field of this table: it is converted
to WGS84 and indexed by H3 at the boundary, and stored as ``geom``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from stations.catalog import vocab

SqlType = Literal["text", "text[]", "timestamptz", "jsonb"]


@dataclass(frozen=True)
class Field:
    """One settable column of ``stations``.

    ``required``: a station cannot be created without it. ``default``: what a station
    gets when it is left empty (the column's DEFAULT; the column is then NOT NULL).
    ``limit``: most characters (a CHECK in the schema). ``vocabulary``: the only values
    allowed. ``public``: part of the station as the API shows it.
    """

    name: str
    sql_type: SqlType
    description: str
    example: Any = None
    required: bool = False
    default: Any = None
    limit: int | None = None
    vocabulary: tuple[str, ...] | None = None
    public: bool = True

    @property
    def not_null(self) -> bool:
        return self.required or self.default is not None or self.name in DERIVED_NOT_NULL


KINDS = tuple(k.value for k in vocab.Kind)
STATUSES = tuple(s.value for s in vocab.Status)
ACCESS_RULES = tuple(a.value for a in vocab.Access)
AMENITY_NAMES = tuple(vocab.AMENITIES)

FIELDS: tuple[Field, ...] = (
    Field("name", "text", "name as shown on the map", "相山公园爱心驿站", required=True, limit=200),
    Field("name_en", "text", "English name", "Xiangshan Park Love Station", limit=200),
    Field(
        "kind",
        "text",
        "love_station or water_point",
        "love_station",
        required=True,
        vocabulary=KINDS,
    ),
    Field(
        "status",
        "text",
        "open, paused or closed for good",
        "active",
        default="active",
        vocabulary=STATUSES,
    ),
    Field(
        "amenities",
        "text[]",
        "what the station offers",
        ["drinking_water", "restroom"],
        default=(),
        vocabulary=AMENITY_NAMES,
    ),
    Field(
        "access",
        "text",
        "who may come in",
        "open_to_all",
        default="open_to_all",
        vocabulary=ACCESS_RULES,
    ),
    Field("opening_hours", "text", "OpenStreetMap opening_hours syntax", "Mo-Fr 08:30-18:00"),
    Field(
        "time_zone",
        "text",
        "IANA time zone (found from the position when not given)",
        "Asia/Shanghai",
    ),
    Field("country_code", "text", "ISO 3166 country, for public holidays", "CN"),
    Field("address", "text", "street address", "淮北市相山区人民路 12 号", limit=500),
    Field("district", "text", "district name", "相山区", limit=100),
    Field("district_code", "text", "district code (GB/T 2260)", "340603", limit=20),
    Field("operator", "text", "who runs it", "淮北市总工会", limit=200),
    Field("contact", "text", "a phone number or e-mail for the public", "0561-0000001", limit=200),
    Field(
        "verified_at",
        "timestamptz",
        "when someone last checked the listing on site",
        "2026-06-01T08:00:00+08:00",
    ),
    Field(
        "attributes",
        "jsonb",
        "other facts from the source, as a JSON object",
        {"note": "next to the bus stop"},
        default={},
        public=False,
    ),
)
"""Every settable field, in the order of the staging table and of COPY."""

DERIVED_NOT_NULL = frozenset({"time_zone"})
"""Fields that are never empty in the catalog although a caller may leave them out: the
time zone is found from the position."""

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
STATION_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS)
PUBLIC_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.public)
REQUIRED_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.required)
OPTIONAL_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if not f.required)
TEXT_LIMITS: dict[str, int] = {
    **{f.name: f.limit for f in FIELDS if f.limit is not None},
    "source_id": 200,
}
TEXT_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.limit is not None)
DEFAULTS: dict[str, Any] = {f.name: f.default for f in FIELDS if f.default is not None}
"""What a station gets for a NOT NULL field left empty."""

STAGED_HEAD: tuple[tuple[str, str], ...] = (("row_no", "integer"), ("source_id", "text"))
STAGED_TAIL: tuple[tuple[str, str], ...] = (
    ("original_position", "jsonb"),
    ("lat", "double precision"),
    ("lng", "double precision"),
    ("h3_r7", "bigint"),
    ("h3_r9", "bigint"),
    ("h3_r11", "bigint"),
)
STAGED_COLUMNS: tuple[str, ...] = (
    *(name for name, _ in STAGED_HEAD),
    *STATION_FIELDS,
    *(name for name, _ in STAGED_TAIL),
)
"""The importer's staging table ``import_rows``, column by column (the COPY order)."""


def staging_table_columns() -> str:
    """The column definitions of ``import_rows`` (every column NOT NULL that must be)."""
    lines = [f"{name} {sql} NOT NULL" for name, sql in STAGED_HEAD]
    lines += [f"{f.name} {f.sql_type}{' NOT NULL' if f.not_null else ''}" for f in FIELDS]
    lines += [f"{name} {sql} NOT NULL" for name, sql in STAGED_TAIL]
    return ",\n    ".join(lines)


_MACRO = re.compile(r"\{\{(\w+)((?: [\w$]+)*)\}\}")


def expand_sql(sql: str) -> str:
    """Replace the ``{{…}}`` macros of a query (see :mod:`stations.sql`) with the fields."""

    def one(match: re.Match[str]) -> str:
        macro, args = match.group(1), match.group(2).split()
        names = STATION_FIELDS
        if macro == "fields" and len(args) <= 1:
            prefix = f"{args[0]}." if args else ""
            return ", ".join(prefix + name for name in names)
        if macro == "set" and len(args) == 1:
            return ", ".join(f"{name} = {args[0]}.{name}" for name in names)
        if macro == "staging_columns" and not args:
            return staging_table_columns()
        if macro == "provided" and len(args) == 3:
            new, old, given = args
            return ",\n           ".join(
                f"{new}.{f.name} AS {f.name}"
                if f.required
                else f"CASE WHEN '{f.name}' = ANY({given}) THEN {new}.{f.name} "
                f"ELSE {old}.{f.name} END AS {f.name}"
                for f in FIELDS
            )
        raise ValueError(f"unknown SQL macro {match.group(0)!r}")

    return _MACRO.sub(one, sql)
