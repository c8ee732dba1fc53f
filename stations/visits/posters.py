"""Printable QR posters (A5 or A4 PDF), one page per station.

Each page carries the station's name in Chinese (and English when known), its public
code, the signed QR code and a one-line instruction. All text is set in WenQuanYi Micro
Hei (Debian's ``fonts-wqy-microhei``, Apache-2.0 or GPL-3+ with the font exception),
embedded as a subset of the glyphs used: a print shop or a computer without any CJK font
(poppler on Debian, say) shows every character, "·" included. A font the PDF only names
(reportlab's CID ``STSong-Light``, as before) is left to the reader to find, and most
find none. The QR code is drawn as vector squares (sharp at any print size), with the
four-module quiet zone scanners need.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from stations.errors import InvalidInput, NotFound, StationNotFound
from stations.settings import SecuritySettings
from stations.sql import load
from stations.visits import qr

SQL = load("visits")

FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
"""A TrueType collection with Chinese, Latin and punctuation glyphs (Debian's
``fonts-wqy-microhei``, which ``scripts/system-packages.sh server`` installs)."""
CJK_FONT = "WenQuanYiMicroHei"
LATIN_FONT = CJK_FONT  # one embedded font for everything: no reader-side substitutes
PAGE_SIZES = {"a5": A5, "a4": A4}
QUIET_ZONE = 4
TITLES = {"love_station": "爱心驿站", "water_point": "派水站点"}
INSTRUCTION_ZH = "工会会员扫码签到或领水，领水后请向工作人员出示领取码"
INSTRUCTION_EN = "Union members: scan to check in or claim water, then show your claim code."
_GREEN = (0.05, 0.45, 0.30)


def _register_fonts() -> None:
    """Register the poster font once (reportlab embeds a subset of what a PDF uses)."""
    if CJK_FONT in pdfmetrics.getRegisteredFontNames():
        return
    if not FONT_FILE.is_file():
        raise RuntimeError(
            f"the poster font {FONT_FILE} is missing; install Debian's fonts-wqy-microhei "
            "(scripts/system-packages.sh server does)"
        )
    pdfmetrics.registerFont(TTFont(CJK_FONT, str(FONT_FILE), subfontIndex=0))


async def station_for_poster(conn: asyncpg.Connection, *, station_id: int) -> dict[str, Any]:
    row = await conn.fetchrow(SQL.station_for_poster, station_id)
    if row is None:
        raise StationNotFound(station_id)
    return dict(row)


async def station_by_code(conn: asyncpg.Connection, *, code: str) -> dict[str, Any]:
    row = await conn.fetchrow(SQL.station_by_code, code)
    if row is None:
        raise NotFound(f"no station has the code {code}")
    return dict(row)


async def stations_for_posters(
    conn: asyncpg.Connection, *, station_ids: list[int] | None
) -> list[dict[str, Any]]:
    """The stations to print (not closed ones), in code order; None means all."""
    return [dict(r) for r in await conn.fetch(SQL.stations_for_posters, station_ids)]


def _fit(text: str, font: str, size: float, width: float) -> float:
    """The largest font size up to ``size`` at which ``text`` fits ``width``."""
    measured = pdfmetrics.stringWidth(text, font, size)
    return size if measured <= width else size * width / measured


def _draw_qr(canvas: Canvas, url: str, *, x: float, y: float, side: float) -> None:
    """The QR symbol as black squares in a ``side``-wide square whose lower left is x, y."""
    matrix = qr.qr_symbol(url).matrix
    modules = len(matrix) + 2 * QUIET_ZONE
    unit = side / modules
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, side, side, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    for row_index, row in enumerate(matrix):
        top = y + side - (row_index + QUIET_ZONE + 1) * unit
        col = 0
        while col < len(row):
            if row[col] & 1:
                start = col
                while col < len(row) and row[col] & 1:
                    col += 1
                # A hair of overlap hides the seams some renderers draw between squares.
                canvas.rect(
                    x + (start + QUIET_ZONE) * unit,
                    top,
                    (col - start) * unit + 0.05,
                    unit + 0.05,
                    stroke=0,
                    fill=1,
                )
            else:
                col += 1


def _draw_page(canvas: Canvas, station: dict[str, Any], url: str, page: tuple[float, float]):
    width, height = page
    margin = width * 0.08
    inner = width - 2 * margin
    scale = width / A5[0]

    band = 30 * mm * scale
    canvas.setFillColorRGB(*_GREEN)
    canvas.rect(0, height - band, width, band, stroke=0, fill=1)
    canvas.setFillColorRGB(1, 1, 1)
    title = f"{TITLES.get(station['kind'], '爱心驿站')} · 扫码领水"
    size = _fit(title, CJK_FONT, 26 * scale, inner)
    canvas.setFont(CJK_FONT, size)
    canvas.drawCentredString(width / 2, height - band / 2 - size / 3, title)

    canvas.setFillColorRGB(0, 0, 0)
    y = height - band - 16 * mm * scale
    size = _fit(station["name"], CJK_FONT, 22 * scale, inner)
    canvas.setFont(CJK_FONT, size)
    canvas.drawCentredString(width / 2, y, station["name"])
    if station.get("name_en"):
        y -= 8 * mm * scale
        size = _fit(station["name_en"], LATIN_FONT, 12 * scale, inner)
        canvas.setFont(LATIN_FONT, size)
        canvas.drawCentredString(width / 2, y, station["name_en"])

    side = min(inner * 0.8, y - 62 * mm * scale)
    qr_top = y - 6 * mm * scale
    _draw_qr(canvas, url, x=(width - side) / 2, y=qr_top - side, side=side)

    y = qr_top - side - 10 * mm * scale
    canvas.setFont(CJK_FONT, 16 * scale)
    canvas.drawCentredString(width / 2, y, f"站点编号  {station['code']}")
    y -= 10 * mm * scale
    size = _fit(INSTRUCTION_ZH, CJK_FONT, 12 * scale, inner)
    canvas.setFont(CJK_FONT, size)
    canvas.drawCentredString(width / 2, y, INSTRUCTION_ZH)
    y -= 6 * mm * scale
    size = _fit(INSTRUCTION_EN, LATIN_FONT, 9 * scale, inner)
    canvas.setFont(LATIN_FONT, size)
    canvas.drawCentredString(width / 2, y, INSTRUCTION_EN)

    canvas.setFillColorRGB(0.4, 0.4, 0.4)
    canvas.setFont(CJK_FONT, 8 * scale)
    canvas.drawCentredString(width / 2, 8 * mm * scale, "户外劳动者服务站点 · Love Stations")


def render_pdf(
    stations: Sequence[dict[str, Any]],
    *,
    security: SecuritySettings,
    base_url: str,
    page_size: str = "a5",
) -> bytes:
    """One poster page per station, as PDF bytes."""
    if page_size.lower() not in PAGE_SIZES:
        raise InvalidInput(f"page size: {', '.join(PAGE_SIZES)}", field="page_size")
    if not stations:
        raise InvalidInput("no stations to print; check the station codes")
    _register_fonts()
    page = PAGE_SIZES[page_size.lower()]
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=page, pageCompression=1, initialFontName=CJK_FONT)
    canvas.setTitle("Love Stations QR posters")
    canvas.setAuthor("Love Stations")
    for station in stations:
        url = qr.poster_url(station["code"], security=security, base_url=base_url)
        _draw_page(canvas, station, url, page)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
