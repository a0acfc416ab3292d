"""Fonts for the local Chromium: the host's, changed the way the capture image changes its own.

The image takes the emoji out of its monochrome fonts at build time (functions/capture/fonts/strip_emoji.py),
so that pages in the default fonts show colour emoji. The host's fonts cannot be changed, so the same script
writes stripped copies of them under build/, and a fontconfig configuration of our own lists the copies in
place of the originals. `fontconfig_environment` returns the FONTCONFIG_FILE that points Chromium at it.

That configuration has a font cache of its own, brought up to date here (fc-cache) before any Chromium
starts: the local Lambda sandbox, like Lambda, can write nothing outside /tmp, so a cache missing then would
be rebuilt by every Chromium launch. The system cache (/var/cache/fontconfig) is not used: it knows the
original fonts.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from stat import S_ISREG
from xml.sax.saxutils import escape

from shotwire_core.observability import logger

ROOT = Path(__file__).resolve().parent.parent
STRIP_EMOJI = ROOT / "functions" / "capture" / "fonts" / "strip_emoji.py"
# One directory per set of host fonts (and version of the script), so a font installed or upgraded on the
# host, or a change to the script, gets fresh copies and a fresh cache rather than stale ones.
FONTS_BUILD_DIR = ROOT / "build" / "fonts"
# The font directories of the stock fonts.conf (Debian, Ubuntu, Fedora). The user's own (~/.fonts,
# ~/.local/share/fonts) are left out: the image has none, and in the sandbox HOME is the environment's /tmp.
SYSTEM_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
# The distribution's rules (aliases, hinting, generic families), as the stock fonts.conf includes them.
SYSTEM_RULES = Path("/etc/fonts/conf.d")
SETUP_TIMEOUT_SECONDS = 300  # each of the two steps; both take about a second on a Debian host


class FontSetupError(RuntimeError):
    """The stripped fonts could not be made (fontTools missing, a font directory unreadable...)."""


def fontconfig_environment(cache_dir: Path = FONTS_BUILD_DIR) -> dict[str, str]:
    """{"FONTCONFIG_FILE": ...} for the capture function's local environment, with its fonts and cache ready.

    The first call on a machine strips the fonts and builds the cache (0.8 s on a Debian host with DejaVu and
    Noto); later ones find them and only let fc-cache check the cache. Safe from several processes at once.
    """
    font_dirs = [directory for directory in SYSTEM_FONT_DIRS if directory.is_dir()]
    home = cache_dir / _fingerprint(font_dirs)
    config = home / "fonts.conf"
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir / ".lock"):
        if not config.exists():
            _build(home, font_dirs, config)
        _update_cache(config)
    return {"FONTCONFIG_FILE": str(config)}


def _fingerprint(font_dirs: list[Path]) -> str:
    digest = hashlib.sha256(STRIP_EMOJI.read_bytes())
    for directory in font_dirs:
        for path in sorted(directory.rglob("*")):
            with contextlib.suppress(OSError):
                info = path.stat()
                if S_ISREG(info.st_mode):
                    digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(home: Path, font_dirs: list[Path], config: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)  # what an interrupted build left
    stripped = home / "fonts"
    stripped.mkdir(parents=True)
    result = subprocess.run(  # noqa: S603 - our own script, with paths we chose
        [sys.executable, str(STRIP_EMOJI), "--out", str(stripped), *map(str, font_dirs)],
        capture_output=True,
        text=True,
        check=False,
        timeout=SETUP_TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise FontSetupError(f"{STRIP_EMOJI.relative_to(ROOT)} failed: {last_line}")
    replaced = [line for line in result.stdout.splitlines() if line]
    partial = config.with_name("fonts.conf.partial")
    partial.write_text(_fonts_conf(font_dirs, stripped, replaced, home / "cache"), encoding="utf-8")
    os.replace(partial, config)  # last: a fonts.conf means a finished build
    logger.info("stripped the emoji from monochrome fonts", extra={"fonts": len(replaced), "dir": str(home)})


def _fonts_conf(font_dirs: list[Path], stripped: Path, replaced: list[str], cache: Path) -> str:
    dirs = "".join(f"  <dir>{escape(str(directory))}</dir>\n" for directory in [*font_dirs, stripped])
    # A plain path is a glob that matches only itself (no font path here has * or ?).
    globs = "".join(f"      <glob>{escape(path)}</glob>\n" for path in replaced)
    rejected = f"  <selectfont>\n    <rejectfont>\n{globs}    </rejectfont>\n  </selectfont>\n" if replaced else ""
    return (
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        "<!-- Written by devstack/fonts.py: the system fonts, with emoji-free copies of the monochrome ones. -->\n"
        "<fontconfig>\n"
        f"{dirs}"
        f"{rejected}"
        f"  <cachedir>{escape(str(cache))}</cachedir>\n"
        f'  <include ignore_missing="yes">{escape(str(SYSTEM_RULES))}</include>\n'
        "</fontconfig>\n"
    )


def _update_cache(config: Path) -> None:
    """Run fc-cache for our configuration: builds the cache, or checks it (a fraction of a second)."""
    fc_cache = shutil.which("fc-cache")
    if fc_cache is None:
        logger.warning("fc-cache not found (apt-get install fontconfig): each Chromium launch will scan the fonts")
        return
    subprocess.run(  # noqa: S603 - fc-cache on our own configuration
        [fc_cache], env={**os.environ, "FONTCONFIG_FILE": str(config)}, check=True, timeout=SETUP_TIMEOUT_SECONDS
    )
