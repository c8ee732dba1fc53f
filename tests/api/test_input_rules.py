"""Bad bytes are 4xx: NUL and other control characters are refused where they enter.

Bodies are held to the rule by ``api.schemas.Input`` (every route's body model derives
from it: the first test proves it for the whole app), the path and query by the edge
middleware (``api.guard``), imported files by the catalog's rules, row by row.
"""

from __future__ import annotations

import inspect

import httpx
import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.errors import CODES
from api.main import create_app
from api.routes.ratings import RatingIn
from api.schemas import Input
from stations import plaintext
from stations.catalog.rules import validate_station
from stations.errors import InvalidInput
from tests.factories import HUAIBEI_CENTRE, bearer, create_member_with_token, create_station

LAT, LNG = HUAIBEI_CENTRE
STATION = {"name": "相山公园爱心驿站", "kind": "love_station", "lat": LAT, "lng": LNG}


def _admin(settings) -> dict[str, str]:
    return bearer(settings.security.admin_token.get_secret_value())


def check_refused(response: httpx.Response, field: str, character: str = "U+0000") -> None:
    body = response.json()
    assert response.status_code == 422, (response.status_code, body)
    assert body["code"] == "control_character", body
    assert body["field"] == field, body
    assert body["character"] == character, body
    assert field in body["detail"], body
    assert CODES["control_character"].status == 422


def _api_routes(routes: list) -> list[APIRoute]:
    """Every APIRoute of an app, also those inside included routers."""
    found: list[APIRoute] = []
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included router
        if inner is not None:
            found += _api_routes(inner.routes)
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def test_every_request_body_model_derives_from_input(settings):
    """A new endpoint whose body model is a plain BaseModel fails here, by name."""
    app = create_app(settings)
    routes = _api_routes(app.routes)
    assert len(routes) > 50  # the check below reads every route, not a few
    plain: list[str] = []
    for route in routes:
        for param in route.dependant.body_params:  # the body's fields, not dependencies
            kind = param.field_info.annotation
            if (
                inspect.isclass(kind)
                and issubclass(kind, BaseModel)
                and not issubclass(kind, Input)
            ):
                plain.append(f"{sorted(route.methods)} {route.path}: {kind.__name__}")
    assert not plain, plain


@pytest.mark.parametrize(
    "text",
    ["a\x00b", "\x1b[2J", "bell\x07", "del\x7f", "c1\x85", "surrogate\ud800"],
)
def test_the_rule_refuses_control_characters(text):
    assert plaintext.control_character(text) is not None
    with pytest.raises(InvalidInput) as caught:
        plaintext.check_text({"note": [text]}, field="attributes")
    assert caught.value.code == "control_character"
    assert caught.value.facts["field"] == "attributes.note.0"


def test_multiline_text_keeps_tab_and_line_breaks_only():
    assert plaintext.control_character("第一行\r\n第二行\t完", multiline=True) is None
    assert plaintext.control_character("第一行\n第二行") == "U+000A"
    assert plaintext.control_character("a\x00\n", multiline=True) == "U+0000"
    assert RatingIn(stars=4, comment="水很凉\n谢谢").comment == "水很凉\n谢谢"
    assert plaintext.control_character("普通文字 plain text ✓") is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "驿站\x00"),
        ("address", "人民路\x00 12 号"),
        ("operator", "\x00"),
        ("reason", "new\x00"),
        ("attributes", {"note": "next to\x00 the bus stop"}),
        ("attributes", {"no\x00te": "key"}),
    ],
)
async def test_station_write_fields_refuse_nul(client, settings, field, value):
    response = await client.post(
        "/v1/stations", json={**STATION, field: value}, headers=_admin(settings)
    )
    expected = field if isinstance(value, str) else "attributes"
    check_refused(response, expected)


async def test_station_update_and_close_refuse_nul(client, conn, settings):
    station = await create_station(conn)
    path = f"/v1/stations/{station['id']}"
    check_refused(await client.patch(path, json={"name": "\x00"}, headers=_admin(settings)), "name")
    check_refused(
        await client.post(f"{path}:close", json={"reason": "装修\x00"}, headers=_admin(settings)),
        "reason",
    )


async def test_campaign_and_prize_names_refuse_control_characters(client, settings):
    campaign = {
        "name": "夏季送清凉",
        "starts_on": "2026-07-01",
        "ends_on": "2026-08-31",
        "station_ids": [],
    }
    response = await client.post(
        "/v1/campaigns", json={**campaign, "name": "送清凉\x00"}, headers=_admin(settings)
    )
    check_refused(response, "name")
    prizes = [{"name": "礼包\x1b[31m", "total": 10, "probability": 0.1}]
    response = await client.post(
        "/v1/campaigns", json={**campaign, "prizes": prizes}, headers=_admin(settings)
    )
    check_refused(response, "prizes", "U+001B")


async def test_rating_comment_and_review_note_refuse_nul_but_keep_lines(client, conn, settings):
    station = await create_station(conn)
    _, token = await create_member_with_token(conn, settings)
    response = await client.post(
        f"/v1/stations/{station['id']}/ratings",
        json={"stars": 5, "comment": "好\n\x00"},
        headers=bearer(token),
    )
    check_refused(response, "comment")
    response = await client.post(
        f"/v1/review-queue/{station['id']}/reviewed",
        json={"note": "checked\x00"},
        headers=_admin(settings),
    )
    check_refused(response, "note")


async def test_claim_body_on_the_lean_route_refuses_nul(client, conn, settings):
    _, token = await create_member_with_token(conn, settings)
    response = await client.post(
        "/v1/claims",
        json={"code": "https://x/s/ABC\x00", "lat": LAT, "lng": LNG},
        headers=bearer(token),
    )
    check_refused(response, "code")


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/stations/nearest?lat=33.9&lng=116.8&amenity=%00", "amenity"),
        ("/v1/stations?q=%E9%A9%BF%00", "q"),
        ("/v1/coverage/summary?district=3406%00", "district"),
        ("/v1/stations/nearest?la%00t=1", "query"),
        ("/v1/claims/AB%00CD/handover", "path"),
        ("/v1/stations/1/history?cursor=%1b", "cursor"),
    ],
)
async def test_query_parameters_and_paths_refuse_control_characters(client, settings, url, field):
    method = "POST" if url.endswith("handover") else "GET"
    response = await client.request(method, url, headers=_admin(settings))
    character = "U+001B" if url.endswith("%1b") else "U+0000"
    check_refused(response, field, character)


def test_station_rules_refuse_control_characters_for_the_cli_and_importer():
    with pytest.raises(InvalidInput) as caught:
        validate_station({**STATION, "address": "路\x00"})
    assert "address" in str(caught.value.detail)
    with pytest.raises(InvalidInput) as caught:
        validate_station({**STATION, "attributes": {"note": "\x07"}})
    assert "attributes.note" in str(caught.value.detail)


async def test_unknown_body_keys_are_held_to_the_rule_too(client, settings):
    response = await client.post(
        "/v1/stations/nearest:batch",
        headers=_admin(settings),
        json={"points": [{"lat": LAT, "lng": LNG}], "extra": {"n\x00": ["\x00"]}},
    )
    check_refused(response, "extra.n\x00")
