"""Signed station codes: forgery, alteration, key rotation, images and posters."""

from __future__ import annotations

import re
import shutil
import uuid

import httpx
import pytest
from pydantic import SecretStr

from api.main import create_app
from stations.errors import InvalidCode
from stations.settings import SecuritySettings
from stations.visits import posters, qr
from tests.factories import (
    HUAIBEI_CENTRE,
    bearer,
    create_campaign,
    create_member_with_token,
    create_staff,
    create_station,
    run_cli,
    run_tool,
    set_stock,
)

BASE = "https://stations.example.org"


def keys(active: list[str], retired: list[str] = ()) -> SecuritySettings:  # type: ignore[assignment]
    return SecuritySettings(
        qr_keys={"k1": SecretStr("first-key"), "k2": SecretStr("second-key")},
        qr_active_keys=active,
        qr_retired_keys=list(retired),
    )


def test_poster_url_carries_station_code_key_and_signature():
    url = qr.poster_url("BHF4A9", security=keys(["k1"]), base_url=BASE)
    assert re.fullmatch(r"https://stations\.example\.org/s/BHF4A9\?k=k1&sig=[a-z2-7]{16}", url)
    assert qr.verify(url, security=keys(["k1"])) == qr.StationCode("BHF4A9", "k1")


def test_signature_depends_on_station_key_id_and_secret():
    sig = qr.signature("BHF4A9", key_id="k1", secret="first-key")
    assert sig != qr.signature("BHF4A8", key_id="k1", secret="first-key")
    assert sig != qr.signature("BHF4A9", key_id="k2", secret="first-key")
    assert sig != qr.signature("BHF4A9", key_id="k1", secret="second-key")


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda u: u.replace("BHF4A9", "BHF4A8"), "the code's signature does not match"),
        (lambda u: u[:-1] + ("a" if u[-1] != "a" else "b"), "the code's signature does not match"),
        (lambda u: u.replace("k=k1", "k=k7"), "the code is signed with an unknown key"),
        (lambda u: u.replace("&sig=", "&sig=&x="), "this is not a Love Stations station code"),
        (lambda u: u + "&sig=aaaaaaaaaaaaaaaa", "this is not a Love Stations station code"),
        (lambda u: "https://evil.example/pay?to=me", "this is not a Love Stations station code"),
        (lambda u: u.replace("/s/", "/x/"), "this is not a Love Stations station code"),
    ],
)
def test_forged_or_altered_codes_are_refused(mangle, reason):
    url = qr.poster_url("BHF4A9", security=keys(["k1"]), base_url=BASE)
    with pytest.raises(InvalidCode) as refused:
        qr.verify(mangle(url), security=keys(["k1"]))
    assert refused.value.code == "invalid_code"
    assert refused.value.detail.startswith(f"invalid_code: {reason}")


def test_key_rotation_keeps_old_posters_until_their_key_is_retired():
    old_poster = qr.poster_url("BHF4A9", security=keys(["k1"]), base_url=BASE)
    rotated = keys(["k2", "k1"])
    new_poster = qr.poster_url("BHF4A9", security=rotated, base_url=BASE)
    assert "k=k2" in new_poster
    assert qr.verify(old_poster, security=rotated).key_id == "k1"
    assert qr.verify(new_poster, security=rotated).key_id == "k2"

    retired = keys(["k2"], retired=["k1"])
    assert qr.verify(new_poster, security=retired).key_id == "k2"
    with pytest.raises(InvalidCode) as refused:
        qr.verify(old_poster, security=retired)
    assert refused.value.detail == (
        "code_retired: this poster was printed with a signing key that has been retired; "
        "ask the staff for the current poster"
    )


def test_retired_key_without_its_secret_still_says_retired():
    old_poster = qr.poster_url("BHF4A9", security=keys(["k1"]), base_url=BASE)
    gone = SecuritySettings(
        qr_keys={"k2": SecretStr("second-key")}, qr_active_keys=["k2"], qr_retired_keys=["k1"]
    )
    with pytest.raises(InvalidCode, match=r"^code_retired: "):
        qr.verify(old_poster, security=gone)


def test_forged_signature_under_a_retired_key_is_invalid_not_retired():
    forged = f"{BASE}/s/BHF4A9?k=k1&sig={'a' * 16}"
    with pytest.raises(InvalidCode, match=r"^invalid_code: the code's signature does not match"):
        qr.verify(forged, security=keys(["k2"], retired=["k1"]))


async def test_claim_with_retired_poster_is_refused_through_the_api(conn, settings):
    station = await create_station(conn, kind="water_point")
    await create_campaign(conn, [station["id"]])
    await set_stock(conn, station["id"], 3)
    _, token = await create_member_with_token(conn, settings)
    old_keys = settings.security.model_copy(
        update={"qr_keys": {"k1": SecretStr("first-key"), "k2": SecretStr("second-key")}}
    )
    old_poster = qr.poster_url(station["code"], security=old_keys, base_url=BASE)
    rotated = old_keys.model_copy(update={"qr_active_keys": ["k2"], "qr_retired_keys": ["k1"]})
    app = create_app(settings.model_copy(update={"security": rotated}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(
                "/v1/claims",
                json={"code": old_poster, "lat": HUAIBEI_CENTRE[0], "lng": HUAIBEI_CENTRE[1]},
                headers=bearer(token) | {"Idempotency-Key": str(uuid.uuid4())},
            )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("code_retired: ")


# --- images, the scan page, posters ------------------------------------------------------


async def test_operator_gets_own_station_qr_as_svg_and_png(client, conn, settings):
    station = await create_station(conn)
    operator = await create_staff(conn, station_ids=[station["id"]])
    svg = await client.get(f"/v1/stations/{station['id']}/qr.svg", headers=bearer(operator))
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.content.startswith(b"<svg") and b"<path" in svg.content
    png = await client.get(f"/v1/stations/{station['id']}/qr.png", headers=bearer(operator))
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    _, member = await create_member_with_token(conn, settings)
    denied = await client.get(f"/v1/stations/{station['id']}/qr.png", headers=bearer(member))
    assert denied.status_code == 403


async def test_qr_png_decodes_to_the_signed_url(client, conn, settings, tmp_path):
    zbarimg = shutil.which("zbarimg")
    assert zbarimg, "zbarimg (Debian zbar-tools) decodes the rendered QR code"
    station = await create_station(conn)
    admin = settings.security.admin_token.get_secret_value()
    png = await client.get(f"/v1/stations/{station['id']}/qr.png", headers=bearer(admin))
    (tmp_path / "qr.png").write_bytes(png.content)
    decoded = (await run_tool(zbarimg, "-q", "--raw", str(tmp_path / "qr.png"))).strip()
    assert decoded == qr.poster_url(
        station["code"], security=settings.security, base_url=settings.api.public_base_url
    )


async def test_scanned_url_opens_the_station_page(client, conn, settings):
    station = await create_station(conn, name="相山公园爱心驿站")
    url = qr.poster_url(station["code"], security=settings.security, base_url="http://testserver")
    page = await client.get(url)
    assert page.status_code == 200
    assert page.json()["name"] == "相山公园爱心驿站"
    forged = await client.get(url[:-2] + "aa")
    assert forged.status_code == 422
    assert forged.json()["detail"].startswith("invalid_code: the code's signature does not")


async def test_posters_render_one_page_per_station_with_chinese_text(conn, settings):
    first = await create_station(conn, name="相山公园爱心驿站")
    second = await create_station(conn, name="人民路派水点", kind="water_point")
    stations = await posters.stations_for_posters(conn, station_ids=[first["id"], second["id"]])
    pdf = posters.render_pdf(
        stations, security=settings.security, base_url=settings.api.public_base_url
    )
    assert pdf.startswith(b"%PDF")
    assert re.findall(rb"/Count (\d+)", pdf) == [b"2"]
    assert b"/FontFile2" in pdf and b"WenQuanYiMicroHei" in pdf  # embedded: see test_posters


async def test_cli_writes_posters_that_decode_to_signed_urls(conn, settings, tmp_path):
    station = await create_station(conn, name="相山公园爱心驿站")
    output = tmp_path / "posters.pdf"
    code, out, err = await run_cli(
        settings, "qr", "posters", "--station", station["code"], "-o", str(output)
    )
    assert code == 0, err
    assert out.strip() == f"wrote 1 poster(s) to {output} (signed with key k1)"
    pdftoppm, zbarimg = shutil.which("pdftoppm"), shutil.which("zbarimg")
    assert pdftoppm and zbarimg, "poppler-utils and zbar-tools render and read the poster"
    await run_tool(pdftoppm, "-png", "-r", "150", str(output), str(tmp_path / "p"))
    decoded = (await run_tool(zbarimg, "-q", "--raw", str(tmp_path / "p-1.png"))).strip()
    assert decoded == qr.poster_url(
        station["code"], security=settings.security, base_url=settings.api.public_base_url
    )


async def test_cli_posters_needs_stations_or_all(settings, conn):
    code, _, err = await run_cli(settings, "qr", "posters")
    assert code == 1
    assert err.strip() == (
        "error: name stations with --station CODE, or print every one with --all"
    )
