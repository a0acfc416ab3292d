"""Settings every test shares: the local Chromium (as `make dev` finds it) and no real AWS endpoint."""

from __future__ import annotations

import os

from devstack.options import find_chromium

_chromium = find_chromium()
if _chromium:
    os.environ.setdefault("SHOTWIRE_CHROMIUM_PATH", _chromium)
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
