"""The capture image's own environment, read from its Dockerfile's ENV instructions.

The Dockerfile is the one place the image's settings live (Chromium's flags, HOME); the local stack gives
the capture handler the same variables by reading them from there, so a flag that breaks Chromium in the
image breaks it locally too.
"""

from __future__ import annotations

import shlex
from pathlib import Path

CAPTURE_DOCKERFILE = Path(__file__).resolve().parent.parent / "functions" / "capture" / "Dockerfile"

# Variables that describe where the image keeps its files, not how the function behaves: locally the code
# is imported from the source tree (devstack.runtime puts it on sys.path) and /tmp is the environment's own.
IMAGE_LAYOUT_VARIABLES = frozenset({"PYTHONPATH"})


def _instructions(text: str) -> list[str]:
    """The Dockerfile's instructions, each on one line: continuation lines joined, comments dropped."""
    instructions: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        instructions.append(current + line)
        current = ""
    if current.strip():
        instructions.append(current)
    return instructions


def image_environment(dockerfile: Path = CAPTURE_DOCKERFILE) -> dict[str, str]:
    """Every `ENV` the image sets (in order, later ones winning), less the image-layout variables."""
    env: dict[str, str] = {}
    for instruction in _instructions(dockerfile.read_text(encoding="utf-8")):
        keyword, _, rest = instruction.partition(" ")
        if keyword.upper() != "ENV":
            continue
        words = shlex.split(rest)
        if words and "=" not in words[0]:  # the legacy form: ENV NAME value with spaces
            env[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            name, separator, value = word.partition("=")
            if not separator:
                raise ValueError(f"{dockerfile}: cannot read ENV word {word!r}")
            env[name] = value
    return {name: value for name, value in env.items() if name not in IMAGE_LAYOUT_VARIABLES}
