"""Request and response models of the station endpoints (OpenAPI with examples).

Hot paths (``nearest``, ``nearest:batch``) do not validate their answers through these
models: the answers are assembled from pre-rendered JSON. The models document them,
and the schema-driven fuzz test checks that answers conform.
"""

from __future__ import annotations

import functools
import typing
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from api.errors import CODES
from stations import plaintext
from stations.catalog import fields
from stations.catalog.vocab import AMENITIES
from stations.search import filters
from stations.search import route as corridor

KindName = Literal["love_station", "water_point"]
if TYPE_CHECKING:
    AmenityName = str
else:  # the vocabulary of stations/vocab.py, as an enum in the OpenAPI document
    AmenityName = Literal[tuple(AMENITIES)]
AccessName = Literal["open_to_all", "members_only", "customers_only", "key_or_app"]
StatusName = Literal["active", "temporarily_closed", "closed"]
CrsName = Literal["wgs84", "gcj02", "bd09"]

# Numbers in JSON bodies are JSON numbers: ``true`` is not 1 and ``"5"`` is not 5 (a
# silent coercion would answer a malformed request as if it were another one).
Number = Annotated[float, Strict()]
Whole = Annotated[int, Strict()]
Lat = Annotated[Number, Field(ge=-90, le=90, allow_inf_nan=False, examples=[33.9556])]
Lng = Annotated[Number, Field(ge=-180, le=180, allow_inf_nan=False, examples=[116.7983])]


class Problem(BaseModel):
    """Every error: what was wrong and what to send instead, its code and its facts.

    RFC 9457 style: ``detail`` is for people and may be reworded; ``code`` is stable and
    says which facts sit beside it (``field``, ``distance_m``, ``radius_m`` …). The codes,
    their statuses and facts are the table ``CODES`` in ``api/errors.py``.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "detail": "k: must be an integer from 1 to 100 (got '500')",
                    "code": "invalid_parameter",
                    "field": "k",
                }
            ]
        },
    )

    detail: str = Field(
        description="what was wrong and what to send instead, in words",
        examples=["k: must be an integer from 1 to 100 (got '500')"],
    )
    code: str = Field(
        description="what went wrong, as a stable word; the facts it carries sit beside it",
        json_schema_extra={"enum": [*sorted(CODES)]},
        examples=["invalid_parameter"],
    )


class Input(BaseModel):
    """Base of every request body: no field may carry NUL or another control character.

    Each field's value, as sent (text, lists, objects, their keys), is checked before
    its own validation; a refused character answers 422 ``control_character`` naming
    the field (``attributes.note``) and the character. Fields named in
    ``multiline_fields`` may also hold tab and line breaks (a comment, a note).
    ``tests/api/test_input_rules.py`` fails when a route's body model does not derive
    from this class, so every endpoint gets the rule by construction.
    """

    multiline_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _plain_extra_keys(cls, data: Any) -> Any:
        # Keys the model does not know are ignored, but not stored bytes of any kind:
        # the same rule holds for them (a field's own value is checked below, by name).
        if isinstance(data, dict):
            extra = {key: value for key, value in data.items() if key not in cls.model_fields}
            found = plaintext.find_control(extra) if extra else None
            if found is not None:
                path, char = found
                raise PydanticCustomError(
                    plaintext.CODE,
                    "{field}: contains the control character {character}; send plain text "
                    "without NUL or other control characters",
                    {"character": char, "field": path if path else "body"},
                )
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _plain_text(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool):
            # Lax validation would read true/false as 1/0 for a number: refuse instead.
            spec = cls.model_fields.get(info.field_name or "")
            if spec is not None and not _takes_bool(typing.cast(Any, spec.annotation)):
                raise PydanticCustomError("bool_not_allowed", "true or false is not a value here")
        if isinstance(value, (str, list, dict)):
            field = info.field_name or ""
            found = plaintext.find_control(value, multiline=field in cls.multiline_fields)
            if found is not None:
                path, char = found
                raise PydanticCustomError(
                    plaintext.CODE,
                    "contains the control character {character}{at}; send plain text without "
                    "NUL or other control characters",
                    {"character": char, "at": f" at {path}" if path else ""},
                )
        return value


@functools.cache
def _takes_bool(annotation: Any) -> bool:
    """Whether a field's type accepts true/false (``bool``, ``bool | None``, ``Any`` …)."""
    if annotation is bool or annotation is Any:
        return True
    return any(_takes_bool(arg) for arg in typing.get_args(annotation))


# Error answers as the OpenAPI document lists them (every body is a Problem).
PROBLEMS: dict[int | str, dict[str, Any]] = {
    422: {"model": Problem, "description": "A parameter is malformed or out of range"},
}
BODY_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body is not JSON"},
    413: {"model": Problem, "description": "The body is larger than this endpoint takes"},
    **PROBLEMS,
}
HEAVY_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **BODY_PROBLEMS,
    401: {"model": Problem, "description": "No token: this needs one (any role)"},
    429: {"model": Problem, "description": "The token's rate of such requests is used up"},
}


class Position(BaseModel):
    lat: float = Field(examples=[33.9556])
    lng: float = Field(examples=[116.7983])


class OpenState(BaseModel):
    """Open at the asked instant (null: hours not known) and when that changes next."""

    is_open: bool | None = Field(examples=[True])
    next_change: str | None = Field(
        description="ISO 8601, in the station's time zone; null when it never changes",
        examples=["2026-07-15T18:00:00+08:00"],
    )


class RatingSummary(BaseModel):
    """Filled in once ratings exist (null until then)."""

    model_config = ConfigDict(extra="allow")

    ratings: int
    mean_stars: float
    score: float | None = None
    tags: dict[str, int] = Field(default_factory=dict)


class WaterToday(BaseModel):
    """Today's free water at a water point, in the station's local day (null until claims exist)."""

    model_config = ConfigDict(extra="allow")

    local_day: str
    allocated: int
    remaining: int


class StationHit(BaseModel):
    """A station as every search answer shows it."""

    id: int = Field(examples=[1024])
    code: str = Field(examples=["7K3M9Q"])
    name: str = Field(examples=["相山公园爱心驿站"])
    name_en: str | None = Field(examples=["Xiangshan Park Love Station"])
    kind: KindName
    amenities: list[AmenityName] = Field(examples=[["drinking_water", "restroom", "seating"]])
    access: AccessName
    opening_hours: str | None = Field(
        description="OpenStreetMap opening_hours syntax", examples=["Mo-Fr 08:30-18:00; PH off"]
    )
    time_zone: str = Field(examples=["Asia/Shanghai"])
    address: str | None = Field(examples=["淮北市相山区人民路 12 号"])
    verified_at: str | None = Field(examples=["2026-06-01T08:00:00Z"])
    position: Position
    open: OpenState
    verified_days_ago: int | None = Field(examples=[44])
    rating: RatingSummary | None = None
    water_today: WaterToday | None = None


class NearestHit(StationHit):
    distance_m: float = Field(description="geodesic distance on WGS84, metres", examples=[212.35])
    bearing_deg: float = Field(
        description="direction from the asked point, degrees clockwise from north",
        examples=[87.5],
    )


class NearestAnswer(BaseModel):
    at: str = Field(
        description="the instant open states refer to (UTC)", examples=["2026-07-15T06:00:00Z"]
    )
    crs: CrsName
    count: int
    results: list[NearestHit]


class PointIn(BaseModel):
    # Checked for control characters as part of the body that holds it; strict, so a
    # true/false is not read as 1/0.
    model_config = ConfigDict(strict=True)

    lat: Lat
    lng: Lng


class SearchFilters(Input):
    """The filters shared by nearest, batch and along-route (all optional)."""

    kind: list[KindName] | None = Field(default=None, description="any of these kinds")
    amenity: list[AmenityName] | None = Field(default=None, description="all of these amenities")
    access: list[str] | None = Field(
        default=None,
        description="access rules accepted (any of); prefix one with '-' to exclude it: "
        "open_to_all, members_only, customers_only, key_or_app",
        examples=[["-customers_only"]],
    )
    open_now: bool = Field(default=False, description="only stations open now")
    open_at: str | None = Field(
        default=None,
        description="only stations open at this ISO 8601 instant (with its UTC offset)",
        examples=["2026-07-15T04:00:00+08:00"],
    )
    min_rating: Number | None = Field(
        default=None,
        ge=filters.MIN_RATING,
        le=filters.MAX_RATING,
        allow_inf_nan=False,
        description="minimum mean stars; stations without ratings are excluded",
    )
    water_now: bool = Field(
        default=False, description="only stations with bottles of today's stock left"
    )
    crs: CrsName = Field(default="wgs84", description="CRS of every coordinate in and out")


MAX_BATCH_POINTS = 10_000


class BatchRequest(SearchFilters):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "points": [{"lat": 33.9556, "lng": 116.7983}, {"lat": 33.97, "lng": 116.81}],
                    "k": 3,
                    "amenity": ["drinking_water"],
                    "open_now": True,
                }
            ]
        }
    )

    points: list[PointIn] = Field(min_length=1, max_length=MAX_BATCH_POINTS)
    k: Whole = Field(default=filters.DEFAULT_K, ge=1, le=20)
    radius_m: Number | None = Field(
        default=None, ge=0, le=filters.MAX_RADIUS_M, allow_inf_nan=False
    )


class BatchAnswer(BaseModel):
    at: str
    crs: CrsName
    count: int = Field(description="number of points answered")
    answers: list[list[NearestHit]] = Field(description="one list per point, in input order")


class LineString(BaseModel):
    """A GeoJSON LineString: [lng, lat] positions (RFC 7946 order), in the request's CRS."""

    model_config = ConfigDict(strict=True)  # true/false is not a coordinate

    type: Literal["LineString"]
    coordinates: list[list[Number]] = Field(
        min_length=2,
        max_length=corridor.MAX_VERTICES,
        examples=[[[116.780, 33.950], [116.800, 33.956], [116.820, 33.970]]],
    )


class RouteRequest(SearchFilters):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "route": {
                        "type": "LineString",
                        "coordinates": [[116.780, 33.950], [116.800, 33.956], [116.820, 33.970]],
                    },
                    "max_detour_m": 300,
                    "amenity": ["drinking_water"],
                }
            ]
        }
    )

    route: LineString
    max_detour_m: Number = Field(default=300.0, gt=0, le=corridor.MAX_DETOUR_M, allow_inf_nan=False)
    limit: Whole = Field(default=100, ge=1, le=1000)


class RouteHit(StationHit):
    distance_off_route_m: float = Field(examples=[35.2])
    distance_along_route_m: float = Field(examples=[1830.0])


class RouteAnswer(BaseModel):
    at: str
    crs: CrsName
    route_length_m: float
    count: int
    total: int = Field(description="stations in the corridor before the limit")
    results: list[RouteHit]


def _out_type(spec: fields.Field) -> Any:
    """A field's type in answers: its vocabulary as an enum, text as text."""
    if spec.vocabulary is not None:
        item: Any = Literal[spec.vocabulary]  # type: ignore[valid-type]
        return list[item] if spec.sql_type == "text[]" else item
    base: Any = {"text": str, "text[]": list[str], "timestamptz": str, "jsonb": dict[str, Any]}[
        spec.sql_type
    ]
    return base if spec.not_null else base | None


def _in_type(spec: fields.Field) -> Any:
    """A field's type in requests: the server's rules check values (one wording everywhere)."""
    base: Any = {"text": str, "text[]": list[str], "timestamptz": str, "jsonb": dict[str, Any]}[
        spec.sql_type
    ]
    return base | None


# The station as answers show it and as writes send it: both from the field table
# (stations/catalog/fields.py), so a new field appears in the OpenAPI document by itself.
if TYPE_CHECKING:
    _StationOutFields = BaseModel
    _StationInFields = Input
else:
    _StationOutFields = create_model(
        "_StationOutFields",
        **{
            f.name: (_out_type(f), Field(description=f.description, examples=[f.example]))
            for f in fields.FIELDS
            if f.public
        },
    )
    _StationInFields = create_model(
        "_StationInFields",
        __base__=Input,
        **{
            f.name: (_in_type(f), Field(default=None, description=f.description))
            for f in fields.FIELDS
        },
    )


class StationOut(_StationOutFields):
    """A station as the catalog holds it (its position in the answer's CRS)."""

    id: int
    code: str
    position: Position
    version: int
    updated_at: str | None


class OpenSpan(BaseModel):
    from_: str = Field(alias="from", examples=["08:30"])
    to: str = Field(examples=["12:00"])
    ends_next_day: bool


class DayHours(BaseModel):
    date: str = Field(examples=["2026-07-15"])
    weekday: str = Field(examples=["Wed"])
    open: list[OpenSpan]
    all_day: bool
    unknown: bool
    comments: list[str]
    text_zh: str = Field(examples=["周三 7月15日：08:30–12:00、13:30–18:00"])
    text_en: str = Field(examples=["Wed 15 Jul: 08:30–12:00, 13:30–18:00"])


class StationDetail(StationOut):
    open: OpenState
    hours_next_7_days: list[DayHours]
    rating: RatingSummary | None = None
    water_today: WaterToday | None = None


class StationListed(StationOut):
    water_today: WaterToday | None = None


class SearchPage(BaseModel):
    crs: CrsName
    count: int
    items: list[StationListed]
    next: str | None = Field(description="the next page, or null on the last one")


class HistoryEntry(BaseModel):
    id: int
    action: Literal["create", "update", "delete"]
    actor: str
    reason: str | None
    changed_at: str | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None


class HistoryPage(BaseModel):
    count: int
    items: list[HistoryEntry]
    next: str | None


class PointGeometry(BaseModel):
    type: Literal["Point"]
    coordinates: list[float]


class Feature(BaseModel):
    type: Literal["Feature"]
    id: int
    geometry: PointGeometry
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[Feature]
    numberReturned: int
    links: list[dict[str, str]]


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` inlined (for extra response media types).

    FastAPI registers only the models of ``responses[...]["model"]`` as components; a
    schema placed directly under ``content`` must not refer to ``#/$defs/...``.
    """
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


class StationFields(_StationInFields):
    """Catalog fields of a station (checked by the importer's own rules on the server).

    On create ``name``, ``kind``, ``lat`` and ``lng`` are required; on update send only
    what changes. ``lat``/``lng`` are in ``crs`` (wgs84, gcj02, bd09 or a geographic
    EPSG code); the time zone and country follow the position unless given.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "相山公园爱心驿站",
                    "kind": "love_station",
                    "amenities": ["drinking_water", "restroom", "seating"],
                    "access": "open_to_all",
                    "opening_hours": "Mo-Su 07:00-21:00",
                    "address": "淮北市相山区人民路 12 号",
                    "lat": 33.9556,
                    "lng": 116.7983,
                    "crs": "gcj02",
                }
            ]
        },
    )

    lat: Number | None = None
    lng: Number | None = None
    crs: str | None = None
    reason: str | None = Field(
        default=None, max_length=500, description="why: kept in the station's history"
    )


class StatusChange(Input):
    """Why a station closes or reopens (kept in its history)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, examples=["装修暂停服务两周"])
    permanently: bool = Field(
        default=False,
        description="close for good (status closed) instead of for a while "
        "(temporarily_closed); only for :close",
    )
