"""Printed posters carry their own font: the Chinese text renders on any computer."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image
from reportlab.lib.pagesizes import A5
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from stations.visits import posters
from tests.conftest import ARTIFACTS
from tests.factories import create_station

TITLE = "爱心驿站 · 扫码领水"
RESOLUTION = 100  # dots per inch: an A5 page is 583 × 827 pixels


def no_fonts_env(tmp_path: Path) -> dict[str, str]:
    """An environment in which fontconfig knows no font at all: poppler then cannot
    substitute a missing font with a local one, as on a computer without CJK fonts."""
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
        f"<fontconfig><cachedir>{tmp_path / 'fc-cache'}</cachedir></fontconfig>\n",
        encoding="utf-8",
    )
    return dict(os.environ, FONTCONFIG_FILE=str(config), FONTCONFIG_PATH=str(tmp_path))


def tool(*args: str, env: dict[str, str] | None = None) -> str:
    assert shutil.which(args[0]), f"{args[0]} (Debian's poppler-utils) reads the posters"
    result = subprocess.run(args, capture_output=True, env=env, check=True)
    return result.stdout.decode()


def page_one(pdf: Path, env: dict[str, str]) -> tuple[np.ndarray, Path]:
    """Page 1 rendered by poppler, as an RGB array (rows from the top)."""
    prefix = str(pdf.with_suffix(""))
    tool("pdftoppm", "-png", "-r", str(RESOLUTION), "-f", "1", "-l", "1", str(pdf), prefix, env=env)
    [png] = sorted(pdf.parent.glob(f"{pdf.stem}-*1.png"))
    return np.asarray(Image.open(png).convert("RGB")), png


def title_band(pixels: np.ndarray) -> np.ndarray:
    """The green band at the top (30 mm of the A5 page's 210 mm)."""
    return pixels[: int(pixels.shape[0] * 30 / 210)]


def white_pixels(area: np.ndarray) -> int:
    return int((area.min(axis=2) > 200).sum())


def cid_font_poster(path: Path) -> None:
    """The title drawn as posters were before: reportlab's STSong-Light, not embedded."""
    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A5)
    width, height = A5
    canvas.setFillColorRGB(0.05, 0.45, 0.30)
    canvas.rect(0, height - 85, width, 85, stroke=0, fill=1)
    canvas.setFillColorRGB(1, 1, 1)
    canvas.setFont("STSong-Light", 26)
    canvas.drawCentredString(width / 2, height - 50, TITLE)
    canvas.showPage()
    canvas.save()
    path.write_bytes(buffer.getvalue())


async def test_poster_text_renders_from_the_embedded_font_without_any_system_font(
    conn, settings, tmp_path
):
    station = await create_station(conn, name="相山公园爱心驿站")
    [row] = await posters.stations_for_posters(conn, station_ids=[station["id"]])
    row["name_en"] = "Xiangshan Park"
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(
        posters.render_pdf([row], security=settings.security, base_url="https://example.org")
    )
    env = no_fonts_env(tmp_path)

    # every font of the poster is embedded (a subset of it)
    listing = tool("pdffonts", str(pdf)).splitlines()[2:]
    assert listing, "the poster uses at least one font"
    for line in listing:
        name, emb = line.split()[0], line.split()[-5]
        assert emb == "yes", f"font {name} is not embedded: {line}"
        assert re.match(r"[A-Z]{6}\+", name), f"font {name} is not a subset"

    # the control: with no font on the machine, a non-embedded CJK font shows nothing
    control = tmp_path / "control.pdf"
    cid_font_poster(control)
    control_pixels, _ = page_one(control, env)
    assert white_pixels(title_band(control_pixels)) == 0

    text = tool("pdftotext", "-f", "1", "-l", "1", str(pdf), "-", env=env)
    assert TITLE in text
    assert "相山公园爱心驿站" in text and "Xiangshan Park" in text
    assert "站点编号" in text and "Union members: scan to check in" in text
    pixels, png = page_one(pdf, env)
    band = title_band(pixels)
    assert white_pixels(band) > 0.02 * band.shape[0] * band.shape[1]  # the white title
    # each word of the title, "·" included, has white ink where poppler placed it
    for word in TITLE.split():
        box = word_box(pdf, word, env)
        assert white_pixels(pixels[box]) > 0, f"{word!r} is blank"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(png, ARTIFACTS / "poster-page1-no-system-fonts.png")


def word_box(pdf: Path, word: str, env: dict[str, str]) -> tuple[slice, slice]:
    """Where ``pdftotext -bbox`` puts the first ``word`` of page 1, in pixels."""
    html = tool("pdftotext", "-bbox", "-f", "1", "-l", "1", str(pdf), "-", env=env)
    for match in re.finditer(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        html,
    ):
        if match.group(5) == word:
            x0, y0, x1, y1 = (float(v) * RESOLUTION / 72 for v in match.groups()[:4])
            return slice(int(y0), int(y1) + 1), slice(int(x0), int(x1) + 1)
    raise AssertionError(f"{word!r} is not on page 1: {html}")
