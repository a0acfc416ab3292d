"""Take the emoji out of monochrome fonts, so that Chromium draws them with the colour emoji font.

Chromium draws a character with the first font in the page's font list whose cmap has it, and asks
fontconfig for a fallback only when none has. DejaVu Sans, the sans-serif font (and Chromium's last-resort
font) wherever it is installed, has black-and-white glyphs for many emoji (😀-🙀, ☕, ⚡...), so pages in the
default fonts showed outline emoji. Windows and macOS do not have this problem because their text fonts carry
no emoji. This script gives every monochrome font the same shape: the characters Unicode displays as emoji by
default (Emoji_Presentation) leave its cmap, and glyphs, metrics and all other characters stay as they are.
Text-first characters (digits, #, ©, ☺ U+263A, ❤ U+2764) keep their text glyphs, as in desktop browsers.

A fontconfig rule that removes the emoji from a font's character set does not help: those sets steer only the
fallback, while Chromium reads the cmap of the font the page asked for (tried: not one pixel changed).

The capture image runs this on its fonts in place before `fc-cache` (functions/capture/Dockerfile); the local
stack writes stripped copies of the host's fonts with --out and points fontconfig at them (devstack/fonts.py).
Needs fontTools. Prints the path of every font it changed.

Font collections (.ttc: the CJK families) are left as they are: rewriting one takes fontTools minutes and a GB
of memory, and they carry only a few enclosed-ideograph emoji (🈚, 🆗) that Chromium takes from them only
when a page names a CJK family.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fontTools.ttLib import TTFont

# Emoji_Presentation, Unicode 17: the code points JavaScript's /\p{Emoji_Presentation}/u matches (Node 26).
EMOJI_PRESENTATION_RANGES = (
    (0x231A, 0x231B), (0x23E9, 0x23EC), (0x23F0, 0x23F0), (0x23F3, 0x23F3), (0x25FD, 0x25FE), (0x2614, 0x2615),
    (0x2648, 0x2653), (0x267F, 0x267F), (0x2693, 0x2693), (0x26A1, 0x26A1), (0x26AA, 0x26AB), (0x26BD, 0x26BE),
    (0x26C4, 0x26C5), (0x26CE, 0x26CE), (0x26D4, 0x26D4), (0x26EA, 0x26EA), (0x26F2, 0x26F3), (0x26F5, 0x26F5),
    (0x26FA, 0x26FA), (0x26FD, 0x26FD), (0x2705, 0x2705), (0x270A, 0x270B), (0x2728, 0x2728), (0x274C, 0x274C),
    (0x274E, 0x274E), (0x2753, 0x2755), (0x2757, 0x2757), (0x2795, 0x2797), (0x27B0, 0x27B0), (0x27BF, 0x27BF),
    (0x2B1B, 0x2B1C), (0x2B50, 0x2B50), (0x2B55, 0x2B55), (0x1F004, 0x1F004), (0x1F0CF, 0x1F0CF),
    (0x1F18E, 0x1F18E), (0x1F191, 0x1F19A), (0x1F1E6, 0x1F1FF), (0x1F201, 0x1F201), (0x1F21A, 0x1F21A),
    (0x1F22F, 0x1F22F), (0x1F232, 0x1F236), (0x1F238, 0x1F23A), (0x1F250, 0x1F251), (0x1F300, 0x1F320),
    (0x1F32D, 0x1F335), (0x1F337, 0x1F37C), (0x1F37E, 0x1F393), (0x1F3A0, 0x1F3CA), (0x1F3CF, 0x1F3D3),
    (0x1F3E0, 0x1F3F0), (0x1F3F4, 0x1F3F4), (0x1F3F8, 0x1F43E), (0x1F440, 0x1F440), (0x1F442, 0x1F4FC),
    (0x1F4FF, 0x1F53D), (0x1F54B, 0x1F54E), (0x1F550, 0x1F567), (0x1F57A, 0x1F57A), (0x1F595, 0x1F596),
    (0x1F5A4, 0x1F5A4), (0x1F5FB, 0x1F64F), (0x1F680, 0x1F6C5), (0x1F6CC, 0x1F6CC), (0x1F6D0, 0x1F6D2),
    (0x1F6D5, 0x1F6D8), (0x1F6DC, 0x1F6DF), (0x1F6EB, 0x1F6EC), (0x1F6F4, 0x1F6FC), (0x1F7E0, 0x1F7EB),
    (0x1F7F0, 0x1F7F0), (0x1F90C, 0x1F93A), (0x1F93C, 0x1F945), (0x1F947, 0x1F9FF), (0x1FA70, 0x1FA7C),
    (0x1FA80, 0x1FA8A), (0x1FA8E, 0x1FAC6), (0x1FAC8, 0x1FAC8), (0x1FACD, 0x1FADC), (0x1FADF, 0x1FAEA),
    (0x1FAEF, 0x1FAF8),
)  # fmt: skip
EMOJI_PRESENTATION = frozenset(c for first, last in EMOJI_PRESENTATION_RANGES for c in range(first, last + 1))
# A font with any of these tables draws in colour: it is the emoji font, not a text font.
COLOUR_TABLES = frozenset({"COLR", "CBDT", "sbix", "SVG "})
FONT_SUFFIXES = frozenset({".ttf", ".otf"})


def strip_emoji(font: TTFont) -> int:
    """Remove the Emoji_Presentation characters from a monochrome font's cmap; how many it had."""
    if COLOUR_TABLES.intersection(font.keys()):
        return 0
    removed: set[int] = set()
    for table in font["cmap"].tables:
        if table.format == 14 or not table.isUnicode():  # 14 maps variation sequences, not characters
            continue
        found = EMOJI_PRESENTATION.intersection(table.cmap)
        for code_point in found:
            del table.cmap[code_point]
        removed |= found
    return len(removed)


def font_files(directories: list[Path]) -> list[Path]:
    return sorted(
        path
        for directory in directories
        for path in directory.rglob("*")
        if path.suffix.lower() in FONT_SUFFIXES and path.is_file()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Take the emoji out of monochrome fonts.")
    parser.add_argument("directories", nargs="+", type=Path, help="font directories, searched recursively")
    parser.add_argument(
        "--out", type=Path, help="write changed fonts here, under their full path (default: change them in place)"
    )
    args = parser.parse_args(argv)
    for path in font_files([directory for directory in args.directories if directory.is_dir()]):
        target = args.out / path.absolute().relative_to("/") if args.out else path
        partial = target.with_name(target.name + ".partial")
        try:
            # Lazy: only the cmap is decoded and rewritten; every other table is copied byte for byte.
            with TTFont(path, lazy=True, recalcBBoxes=False, recalcTimestamp=False) as font:
                if not strip_emoji(font):
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                font.save(partial)
            os.replace(partial, target)
        except Exception as error:  # a font fontTools cannot read or write stays as it is
            print(f"{path}: left as it is ({error})", file=sys.stderr)
            continue
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
