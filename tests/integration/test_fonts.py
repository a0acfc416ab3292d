"""Emoji and CJK in screenshots: real Chromium with the fonts the local stack gives the capture function.

DejaVu Sans, installed here (fonts-dejavu-core), has outline glyphs for many emoji, and Chromium draws a
character with the page's font when that font has it: every page in the default fonts showed black-and-white
emoji. devstack.fonts gives Chromium emoji-free copies of the monochrome fonts, as the capture image's
Dockerfile strips its own with the same script.
"""

from __future__ import annotations

import io
import itertools
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from devstack.fonts import FONTS_BUILD_DIR, STRIP_EMOJI, fontconfig_environment
from devstack.image import CAPTURE_DOCKERFILE
from devstack.options import find_chromium
from shotwire_core.adapters.browser import BrowserEngine
from shotwire_core.models import CaptureOptions
from tests.support import Site

ROOT = Path(__file__).resolve().parents[2]
LINE = 120  # px: the height of each line of text on a test page
PAGE_STYLE = f"margin:0;font-size:100px;line-height:{LINE}px;white-space:nowrap;background:white;color:black"

Pixels = list[tuple[int, int, int]]


@pytest.fixture(scope="module")
def font_environment() -> dict[str, str]:
    return fontconfig_environment(FONTS_BUILD_DIR)


@pytest.fixture(scope="module")
def engine(font_environment: dict[str, str]) -> Iterator[BrowserEngine]:
    # Chromium inherits the environment of Playwright's driver, which starts with the first capture, so the
    # variables stay set for the module. The local stack sets them on the capture function's process.
    with pytest.MonkeyPatch.context() as patch:
        for name, value in font_environment.items():
            patch.setenv(name, value)
        instance = BrowserEngine(find_chromium(), concurrency=2)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site().running() as running:
        yield running


_pages = itertools.count()


def capture_lines(engine: BrowserEngine, site: Site, lines: list[str], family: str = "") -> list[Pixels]:
    """One page with these lines of text, captured; the pixels of each line. No family: the default font."""
    font = f";font-family:{family}" if family else ""
    body = "".join(f"<div>{line}</div>" for line in lines)
    url = site.add(f"/page-{next(_pages)}", f"<body style='{PAGE_STYLE}{font}'>{body}</body>")
    result = engine.capture(CaptureOptions(url=url, width=700, height=LINE * len(lines), timeout_ms=15_000), guard=None)
    with Image.open(io.BytesIO(result.image)) as image:
        rgb = image.convert("RGB")
        bands = [rgb.crop((0, index * LINE, rgb.width, (index + 1) * LINE)).tobytes() for index in range(len(lines))]
    return [list(zip(band[0::3], band[1::3], band[2::3], strict=True)) for band in bands]


def yellow(pixels: Pixels) -> int:
    """The yellow of an emoji face: an outline emoji or black text has none."""
    return sum(1 for r, g, b in pixels if r > 200 and g > 150 and b < 100)


def coloured(pixels: Pixels) -> int:
    """Pixels that are not grey: black text on white anti-aliases to greys only."""
    return sum(1 for r, g, b in pixels if max(r, g, b) - min(r, g, b) > 60)


def dark(pixels: Pixels) -> int:
    return sum(1 for r, g, b in pixels if max(r, g, b) < 100)


@pytest.mark.parametrize("family", ["", "sans-serif", "serif", "monospace", "'DejaVu Sans'"])
def test_emoji_are_in_colour_and_digits_are_not(engine: BrowserEngine, site: Site, family: str) -> None:
    # Given a page in the default font (or a generic family, or the font that has outline emoji)
    emoji, digits = capture_lines(engine, site, ["😀", "0123456789#*"], family)

    # Then the face is the colour emoji (its yellow), and the digits, which the emoji font also has
    # (for keycaps), are still black text
    assert yellow(emoji) > 2000, f"{yellow(emoji)} yellow pixels: an outline emoji"
    assert coloured(digits) == 0 and dark(digits) > 5000, (coloured(digits), dark(digits))


def test_only_emoji_style_characters_leave_the_text_fonts(engine: BrowserEngine, site: Site) -> None:
    # Given characters Unicode shows as text by default (☺ U+263A, ❤ U+2764, ✂ U+2702) and two it shows as
    # emoji (☕ U+2615, ⚡ U+26A1), all of which DejaVu Sans has, in the default font
    text_style, *emoji_style = capture_lines(engine, site, ["☺❤✂", "☕", "⚡"])

    # Then the first stay black text, as in desktop browsers, and the others are colour emoji
    assert coloured(text_style) == 0 and dark(text_style) > 3000, (coloured(text_style), dark(text_style))
    for text, pixels in zip("☕⚡", emoji_style, strict=True):
        assert coloured(pixels) > 250, f"{text}: {coloured(pixels)} coloured pixels"


def test_cjk_renders_as_glyphs(engine: BrowserEngine, site: Site) -> None:
    tofu, *glyphs = capture_lines(engine, site, ["\ue000", "漢", "字", "한"])  # U+E000: always the missing box
    for text, pixels in zip("漢字한", glyphs, strict=True):
        assert pixels != tofu, f"{text} rendered as a missing glyph"


@pytest.mark.skipif(shutil.which("fc-list") is None, reason="needs fontconfig's fc-list")
def test_only_the_colour_font_has_the_emoji_for_fallback(font_environment: dict[str, str]) -> None:
    # When the page's font lacks 😀 (DejaVu Serif, say), Chromium asks fontconfig for a font that has it:
    # only the colour font may answer.
    listing = subprocess.run(
        ["fc-list", ":charset=1f600", "family"],
        env={"PATH": "/usr/bin:/bin", **font_environment},
        capture_output=True,
        text=True,
        check=True,
    )
    assert {line.strip() for line in listing.stdout.splitlines() if line.strip()} == {"Noto Color Emoji"}


def test_the_image_strips_its_fonts_with_the_same_script_before_caching_them() -> None:
    # Instructions on one line each: continuation lines joined.
    text = re.sub(r"\\\n\s*", " ", CAPTURE_DOCKERFILE.read_text(encoding="utf-8"))
    script = STRIP_EMOJI.relative_to(ROOT).as_posix()
    copy = re.search(rf"^COPY {re.escape(script)} (\S+)$", text, re.MULTILINE)
    assert copy, f"the Dockerfile does not COPY {script}"
    run = next((line for line in text.splitlines() if line.startswith("RUN ") and copy[1] in line), "")
    assert re.search(rf"python {re.escape(copy[1])} /usr/share/fonts", run), "the script does not run on the fonts"
    assert run.index(copy[1]) < run.index("fc-cache -f"), "fc-cache must run after the fonts are stripped"
    assert text.index(copy[0]) < text.index(run)
