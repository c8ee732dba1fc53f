"""What the rider page needs from the service, without a browser.

The page and its files (served from memory, gzipped, cached by version), the poster
URL answering HTML to browsers and JSON to programs, the rider's position in every
CRS, and whether a member may rate a station now.
"""

from __future__ import annotations

import json
import posixpath
import re
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pyproj import Geod

from api.main import create_app
from api.routes import rider
from stations.geo import crs
from stations.settings import CoverageSettings, TileSettings
from stations.visits import qr
from tests.factories import (
    HUAIBEI_CENTRE,
    bearer,
    claim_at,
    code_for,
    create_campaign,
    create_member_with_token,
    create_station,
    set_stock,
)

LAT, LNG = HUAIBEI_CENTRE
WEB = Path(rider.WEB_DIR)
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
_GEOD = Geod(ellps="WGS84")


def page_config(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="config">(.*?)</script>', html, re.S)
    assert match, "the page carries its config"
    return json.loads(match.group(1))


# --- the page and its files -------------------------------------------------------------


async def test_page_is_mobile_ready_and_loads_nothing_from_outside(client):
    response = await client.get("/", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<html lang="zh-CN">' in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "/static/maps/vendor/leaflet-1.9.3/leaflet.js" in sources
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-cache"


async def test_page_serves_the_configured_speeds_and_no_tiles_by_default(settings, conn):
    coverage = CoverageSettings(walk_kmh=5, ebike_kmh=18)
    app = create_app(settings.model_copy(update={"coverage": coverage, "tiles": TileSettings()}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        config = page_config((await http.get("/", headers=HTML)).text)
    assert config["speeds"] == {"walk_kmh": 5.0, "ebike_kmh": 18.0}
    assert config["tiles"]["url"] is None
    assert config["vocab"]["amenities"]["restroom"] == ["卫生间", "restroom"]
    assert config["vocab"]["tags"]["no_water"] == ["没有水", "no water"]


async def test_chinese_tiles_are_named_in_the_config_and_allowed_by_the_policy(settings, conn):
    tiles = TileSettings(url="https://{s}.tiles.example.cn/{z}/{x}/{y}.png", crs="gcj02")
    app = create_app(settings.model_copy(update={"tiles": tiles}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/", headers=HTML)
    assert page_config(response.text)["tiles"]["crs"] == "gcj02"
    policy = response.headers["content-security-policy"]
    assert "img-src 'self' data: https://*.tiles.example.cn;" in policy


async def test_page_files_are_gzipped_versioned_and_cached_for_a_year(client):
    html = (await client.get("/", headers=HTML)).text
    version = re.search(r'/web/rider/main\.js\?v=([0-9a-f]{12})"', html).group(1)
    response = await client.get(
        f"/web/rider/main.js?v={version}", headers={"Accept-Encoding": "gzip"}
    )
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    # Module imports carry the same version, so they are cached as long as the page.
    imports = re.findall(r'from "(\.\.?/[\w/-]+\.js[^"]*)"', response.text)
    assert imports and all(i.endswith(f"?v={version}") for i in imports), imports
    plain = await client.get("/web/rider/main.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["cache-control"] == "no-cache"
    # httpx decodes gzip: same text, fewer bytes on the wire.
    assert response.content == plain.content
    assert response.num_bytes_downloaded < len(plain.content) / 2
    again = await client.get("/web/rider/main.js", headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    missing = await client.get("/web/nothing.js")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no page file 'nothing.js'", "code": "not_found"}
    outside = await client.get("/web/../api/main.py")
    assert outside.status_code == 404


async def test_every_module_is_preloaded_and_imported_with_the_version(client):
    """The page preloads the modules its entry reaches, each at its versioned URL."""
    html = (await client.get("/", headers=HTML)).text
    version = re.search(r'/web/rider/main\.js\?v=([0-9a-f]{12})"', html).group(1)
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/web/([^"?]+)\?v=', html))
    reached, todo = set(), ["rider/main.js"]
    while todo:
        name = todo.pop()
        response = await client.get(f"/web/{name}?v={version}")
        assert response.status_code == 200, name
        relative = re.findall(r'\b(?:import|from)\s*"(\.[^"]*)"', response.text)
        assert all(i.endswith(f".js?v={version}") for i in relative), (name, relative)
        for target in relative:
            path = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
            path = path.split("?")[0]
            if path not in reached:
                reached.add(path)
                todo.append(path)
    assert preloaded == reached


def own_files(*suffixes: str) -> list[Path]:
    """The pages' own files: vendored libraries (web/vendor, checked against their
    MANIFEST.json) are not the project's to lint."""
    return [
        p
        for p in WEB.rglob("*")
        if p.suffix in suffixes and "vendor" not in p.relative_to(WEB).parts
    ]


def test_no_module_reads_words_of_an_answer():
    """The pages branch on codes and facts; they never parse a detail sentence."""
    for path in own_files(".js"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "detail" in line:
                parses = re.search(r"\.(exec|match|test|replace|split|startsWith|slice)\(", line)
                assert not parses, f"{path.name}:{number}: {line.strip()}"
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path.name


def test_page_files_link_nothing_outside_the_service():
    """Only the map-app hand-off links name other hosts; nothing is loaded from them.

    (The SVG namespace, with which the console draws its charts, is a name in the
    document, never fetched.)"""
    allowed = {
        "https://uri.amap.com/marker",
        "https://api.map.baidu.com/marker",
        "http://www.w3.org/2000/svg",
    }
    for path in own_files(".js", ".css", ".html"):
        found = set(re.findall(r"https?://[^\s\"'`?)]+", path.read_text(encoding="utf-8")))
        assert found <= allowed, (path.name, found - allowed)


# --- the poster URL ---------------------------------------------------------------------


async def test_poster_url_opens_the_page_in_a_browser_and_json_elsewhere(client, conn, settings):
    station = await create_station(conn, name="相山公园爱心驿站")
    url = qr.poster_url(station["code"], security=settings.security, base_url="http://testserver")
    page = await client.get(url, headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert 'id="station-view"' in page.text
    assert page.headers["vary"] == "Accept, Accept-Encoding"
    data = await client.get(url, headers={"Accept": "application/json"})
    assert data.json()["id"] == station["id"]
    assert data.headers["vary"] == "Accept"


# --- the rider's position in every CRS --------------------------------------------------


async def test_position_in_every_crs_converts_back_to_the_same_point(client):
    response = await client.get("/v1/rider/position", params={"lat": LAT, "lng": LNG})
    assert response.status_code == 200
    body = response.json()
    assert body["wgs84"] == {"lat": LAT, "lng": LNG}
    for name in ("gcj02", "bd09"):
        point = body[name]
        back_lat, back_lng = crs.point_to_wgs84(point["lat"], point["lng"], crs.Crs(name))
        _, _, metres = _GEOD.inv(LNG, LAT, back_lng, back_lat)
        assert metres < 0.01, (name, metres)
    # In China, GCJ-02 is hundreds of metres off WGS84: the conversion really happened.
    _, _, shift = _GEOD.inv(LNG, LAT, body["gcj02"]["lng"], body["gcj02"]["lat"])
    assert 100 < shift < 1000


async def test_position_refuses_what_is_not_a_position(client):
    response = await client.get("/v1/rider/position", params={"lat": 91, "lng": LNG})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("lat: ")


# --- may I rate? ------------------------------------------------------------------------


@pytest.fixture
async def station(conn):
    return await create_station(conn, name="相山公园爱心驿站")


async def eligibility(client, station, token) -> httpx.Response:
    return await client.get(
        f"/v1/stations/{station['id']}/ratings/eligibility", headers=bearer(token)
    )


async def check_in(client, station, token, settings) -> None:
    response = await client.post(
        "/v1/checkins",
        json={"code": code_for(station, settings), "lat": LAT, "lng": LNG},
        headers=bearer(token),
    )
    assert response.status_code == 201


async def test_without_a_visit_rating_is_not_possible_and_says_why(client, conn, settings, station):
    _, token = await create_member_with_token(conn, settings)
    response = await eligibility(client, station, token)
    assert response.status_code == 200
    refused = await client.post(
        f"/v1/stations/{station['id']}/ratings", json={"stars": 4}, headers=bearer(token)
    )
    assert response.json() == {
        "station_id": station["id"],
        "can_rate": False,
        "reason": "no_recent_visit",
        "detail": refused.json()["detail"],
        "visit": None,
        "today": None,
    }


async def test_after_a_check_in_rating_is_open_for_24_hours_and_shows_todays_rating(
    client, conn, settings, station
):
    _, token = await create_member_with_token(conn, settings)
    await check_in(client, station, token, settings)
    body = (await eligibility(client, station, token)).json()
    assert (body["can_rate"], body["reason"], body["detail"]) == (True, None, None)
    visited = await conn.fetchval("SELECT checked_in_at FROM checkins")
    assert body["visit"]["kind"] == "checkin"
    rate_until = datetime.fromisoformat(body["visit"]["rate_until"])
    assert rate_until == visited + timedelta(hours=24)
    assert body["today"] is None
    rated = await client.post(
        f"/v1/stations/{station['id']}/ratings",
        json={"stars": 4, "tags": ["clean"]},
        headers=bearer(token),
    )
    assert rated.status_code == 201
    body = (await eligibility(client, station, token)).json()
    assert body["can_rate"] is True
    assert body["today"] == {"stars": 4, "tags": ["clean"]}


async def test_a_claim_counts_as_a_visit(client, conn, settings):
    water = await create_station(conn, kind="water_point")
    await create_campaign(conn, [water["id"]])
    await set_stock(conn, water["id"], 2)
    _, token = await create_member_with_token(conn, settings)
    claimed = await claim_at(client, water, token, settings)
    assert claimed.status_code == 201
    body = (await eligibility(client, water, token)).json()
    assert body["can_rate"] is True and body["visit"]["kind"] == "claim"


@pytest.mark.parametrize(
    ("age", "allowed"), [("23 hours 59 minutes", True), ("24 hours 1 minute", False)]
)
async def test_eligibility_and_rating_agree_at_the_24_hour_edge(
    client, conn, settings, station, age, allowed
):
    _, token = await create_member_with_token(conn, settings)
    await check_in(client, station, token, settings)
    await conn.execute(f"UPDATE checkins SET checked_in_at = now() - interval '{age}'")
    body = (await eligibility(client, station, token)).json()
    rated = await client.post(
        f"/v1/stations/{station['id']}/ratings", json={"stars": 3}, headers=bearer(token)
    )
    assert body["can_rate"] is allowed
    assert rated.status_code == (201 if allowed else 403)


async def test_suspended_member_is_told_why(client, conn, settings, station):
    member_id, token = await create_member_with_token(conn, settings)
    await check_in(client, station, token, settings)
    await conn.execute("UPDATE members SET status = 'suspended' WHERE id = $1", member_id)
    body = (await eligibility(client, station, token)).json()
    assert (body["can_rate"], body["reason"]) == (False, "member_suspended")
    assert body["detail"].startswith("member_suspended: your union membership is suspended")


async def test_eligibility_needs_a_member_and_a_station(client, conn, settings, station):
    anonymous = await client.get(f"/v1/stations/{station['id']}/ratings/eligibility")
    assert anonymous.status_code == 401
    _, token = await create_member_with_token(conn, settings)
    missing = await client.get(
        f"/v1/stations/{station['id'] + 1000}/ratings/eligibility", headers=bearer(token)
    )
    assert missing.status_code == 404
    gone = station["id"] + 1000
    hint = "check the id (search or list stations to find it)"
    assert missing.json() == {
        "detail": f"there is no station {gone}; {hint}",
        "code": "station_not_found",
        "station_id": gone,
    }
