"""What the staff console needs from the service, without a browser.

The page (served by the rider page's server: versioned modules, gzip, CSP, nothing
from outside), the vendored QR decoder with its licence and checksum, the station's day
at a glance, the opening-hours preview, the poster PDF, a claim's QR code, and the
hand-over answer that says whether it confirmed anything.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from pathlib import Path

from api.routes import rider
from tests.factories import (
    bearer,
    claim_at,
    create_campaign,
    create_member_with_token,
    create_staff,
    create_station,
    handover_proof,
    run_tool,
    set_stock,
)

WEB = Path(rider.WEB_DIR)
HTML = {"Accept": "text/html"}


def config_of(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="config">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


async def test_the_console_page_loads_nothing_from_outside(client):
    response = await client.get("/staff/", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert '<html lang="zh-CN">' in html and 'name="viewport"' in html
    sources = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert sources and all(s.startswith("/web/") for s in sources), sources
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    config = config_of(html)
    assert config["session"]["idle_minutes"] == 30
    assert config["password"]["min_length"] == 10
    assert config["statuses"]["temporarily_closed"] == ["暂停服务", "temporarily closed"]
    assert config["vocab"]["amenities"]["drinking_water"] == ["饮用水", "drinking water"]
    moved = await client.get("/staff", follow_redirects=False)
    assert moved.status_code == 308 and moved.headers["location"] == "/staff/"


async def test_every_console_module_is_preloaded_and_versioned(client):
    html = (await client.get("/staff/", headers=HTML)).text
    version = re.search(r'/web/staff/main\.js\?v=([0-9a-f]{12})"', html).group(1)
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/web/([^"?]+)\?v=', html))
    reached, todo = set(), ["staff/main.js"]
    while todo:
        name = todo.pop()
        response = await client.get(f"/web/{name}?v={version}")
        assert response.status_code == 200, name
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        relative = re.findall(r'\b(?:import|from)\s*"(\.[^"]*)"', response.text)
        assert all(i.endswith(f".js?v={version}") for i in relative), (name, relative)
        for target in relative:
            path = posixpath.normpath(posixpath.join(posixpath.dirname(name), target)).split("?")[0]
            if path not in reached:
                reached.add(path)
                todo.append(path)
    assert preloaded == reached
    # The rider page shares the same version: one page server for both.
    rider_html = (await client.get("/", headers=HTML)).text
    assert f"?v={version}" in rider_html


async def test_the_qr_decoder_is_vendored_with_its_licence_and_checksum(client):
    vendor = WEB / "vendor"
    manifest = json.loads((vendor / "MANIFEST.json").read_text())
    entry = manifest["jsqr-1.4.0"]
    assert entry["licence"].startswith("Apache-2.0")
    for name, digest in entry["files"].items():
        assert hashlib.sha256((vendor / "jsqr-1.4.0" / name).read_bytes()).hexdigest() == digest
    html = (await client.get("/staff/", headers=HTML)).text
    assert "jsQR" not in html  # loaded only when a QR code is read without BarcodeDetector
    served = await client.get("/web/vendor/jsqr-1.4.0/jsQR.js", headers={"Accept-Encoding": "gzip"})
    assert served.status_code == 200 and served.headers["content-encoding"] == "gzip"
    assert served.num_bytes_downloaded < 70_000


async def test_hours_preview_uses_the_stations_parser_and_saves_nothing(client, conn):
    good = await client.get(
        "/v1/opening-hours/preview",
        params={"opening_hours": "Mo-Fr   08:30-18:00", "time_zone": "Asia/Shanghai"},
    )
    assert good.status_code == 200
    body = good.json()
    assert body["opening_hours"] == "Mo-Fr 08:30-18:00"
    assert len(body["days"]) == 7
    open_days = [d for d in body["days"] if d["open"]]
    assert len(open_days) == 5 and open_days[0]["open"][0] == {
        "from": "08:30",
        "to": "18:00",
        "ends_next_day": False,
    }
    assert all(d["text_zh"] and d["text_en"] for d in body["days"])

    bad = await client.get("/v1/opening-hours/preview", params={"opening_hours": "Mo-Fr 08:00-1"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_parameter" and bad.json()["field"] == "opening_hours"
    assert "at character" in bad.json()["detail"]
    zone = await client.get(
        "/v1/opening-hours/preview", params={"opening_hours": "24/7", "time_zone": "Mars/Base"}
    )
    assert zone.status_code == 422 and zone.json()["field"] == "time_zone"
    empty = await client.get("/v1/opening-hours/preview", params={"opening_hours": " "})
    assert empty.json()["opening_hours"] is None
    assert all(d["unknown"] for d in empty.json()["days"])


async def test_a_stations_day_at_a_glance(client, conn, settings):
    station = await create_station(conn, kind="water_point", opening_hours="24/7")
    await create_campaign(conn, [station["id"]], daily_allocation=20)
    operator = await create_staff(conn, station_ids=[station["id"]])
    _, member = await create_member_with_token(conn, settings)
    claim = (await claim_at(client, station, member, settings)).json()["claim_code"]
    path = f"/v1/stations/{station['id']}/today"

    day = (await client.get(path, headers=bearer(operator))).json()
    assert day["station"]["code"] == station["code"]
    assert day["open"] == {"is_open": True, "hours_say_open": True, "next_change": None}
    assert (day["stock"]["allocated"], day["stock"]["remaining"]) == (20, 19)
    assert day["stock"]["campaign"]["daily_allocation"] == 20
    assert day["claims"] == {"granted": 1, "waiting": 1, "handed_over": 0}
    assert day["review"] is None and len(day["hours_next_7_days"]) == 7

    proof = await handover_proof(conn, claim)
    first = await client.post(f"/v1/claims/{claim}/handover", json=proof, headers=bearer(operator))
    assert first.json()["confirmed_now"] is True
    again = await client.post(f"/v1/claims/{claim}/handover", json=proof, headers=bearer(operator))
    assert again.json()["confirmed_now"] is False
    assert again.json()["handed_over_at"] == first.json()["handed_over_at"]

    await client.post(
        f"/v1/stations/{station['id']}:close", json={"reason": "停水"}, headers=bearer(operator)
    )
    paused = (await client.get(path, headers=bearer(operator))).json()
    assert paused["open"]["is_open"] is False and paused["open"]["hours_say_open"] is True
    assert paused["claims"] == {"granted": 1, "waiting": 0, "handed_over": 1}


async def test_the_poster_pdf_of_one_station(client, conn, tmp_path):
    station = await create_station(conn, name="相山公园爱心驿站")
    operator = await create_staff(conn, station_ids=[station["id"]])
    response = await client.get(
        f"/v1/stations/{station['id']}/poster.pdf", params={"size": "a4"}, headers=bearer(operator)
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition == f'inline; filename="poster-{station["code"]}-a4.pdf"'
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(response.content)
    info = await run_tool("pdfinfo", str(pdf))
    assert "Pages:           1" in info and "595.276 x 841.89" in info  # one A4 page
    wrong = await client.get(
        f"/v1/stations/{station['id']}/poster.pdf", params={"size": "a3"}, headers=bearer(operator)
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "size"


async def test_a_claims_qr_code_is_for_its_member_and_its_stations_staff(client, conn, settings):
    station = await create_station(conn, kind="water_point")
    elsewhere = await create_station(conn, kind="water_point", lat=30.0)
    await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 5)
    _, member = await create_member_with_token(conn, settings)
    _, other = await create_member_with_token(conn, settings)
    operator = await create_staff(conn, station_ids=[station["id"]])
    other_operator = await create_staff(conn, station_ids=[elsewhere["id"]])
    code = (await claim_at(client, station, member, settings)).json()["claim_code"]
    path = f"/v1/claims/{code}/qr.svg"

    for token in (member, operator):
        image = await client.get(path, headers=bearer(token))
        assert image.status_code == 200 and image.headers["content-type"] == "image/svg+xml"
        assert image.headers["cache-control"] == "private, max-age=86400"
        assert image.content.startswith(b"<svg")
    for token in (other, other_operator):
        refused = await client.get(path, headers=bearer(token))
        assert refused.status_code == 404 and refused.json()["code"] == "claim_not_found"
    assert (await client.get(path)).status_code == 401
