"""Settings every test shares: the local Chromium (as `make dev` finds it) and no real AWS endpoint."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devstack.options import find_chromium

_chromium = find_chromium()
if _chromium:
    os.environ.setdefault("SHOTWIRE_CHROMIUM_PATH", _chromium)
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    """Whatever a test's in-process code sets in os.environ (the admin commands point boto3 at moto, for
    one) must not reach the tests after it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
