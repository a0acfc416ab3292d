"""Device presets for the `device` option: viewport, pixel ratio, mobile/touch and user agent.

Values follow Playwright's device descriptors (which mirror Chrome DevTools'), trimmed to the devices
screenshot users ask for most. The user agents are Chromium's, since Chromium renders every capture.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

_CHROME = "Chrome/131.0.0.0"
_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)"


class Device(BaseModel):
    model_config = ConfigDict(frozen=True)

    width: int
    height: int
    device_scale_factor: float
    is_mobile: bool
    has_touch: bool
    user_agent: str


# The preset names, as a type a request field (and a type checker) can use; DEVICES holds exactly these.
DeviceName = Literal[
    "desktop", "desktop-hd", "macbook-retina", "iphone-15", "iphone-se", "pixel-7", "galaxy-s9", "ipad", "ipad-pro"
]

DEVICES: dict[DeviceName, Device] = {
    "desktop": Device(
        width=1280,
        height=800,
        device_scale_factor=1,
        is_mobile=False,
        has_touch=False,
        user_agent=f"{_WINDOWS} {_CHROME} Safari/537.36",
    ),
    "desktop-hd": Device(
        width=1920,
        height=1080,
        device_scale_factor=1,
        is_mobile=False,
        has_touch=False,
        user_agent=f"{_WINDOWS} {_CHROME} Safari/537.36",
    ),
    "macbook-retina": Device(
        width=1440,
        height=900,
        device_scale_factor=2,
        is_mobile=False,
        has_touch=False,
        user_agent=f"{_MAC} {_CHROME} Safari/537.36",
    ),
    "iphone-15": Device(
        width=393,
        height=659,
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.0 Mobile/15E148 Safari/604.1",
    ),
    "iphone-se": Device(
        width=375,
        height=667,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 15_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/15.0 Mobile/15E148 Safari/604.1",
    ),
    "pixel-7": Device(
        width=412,
        height=839,
        device_scale_factor=2.625,
        is_mobile=True,
        has_touch=True,
        user_agent=f"Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) {_CHROME} "
        "Mobile Safari/537.36",
    ),
    "galaxy-s9": Device(
        width=360,
        height=740,
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        user_agent=f"Mozilla/5.0 (Linux; Android 10; SM-G960U) AppleWebKit/537.36 (KHTML, like Gecko) {_CHROME} "
        "Mobile Safari/537.36",
    ),
    "ipad": Device(
        width=810,
        height=1080,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        user_agent="Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.0 Mobile/15E148 Safari/604.1",
    ),
    "ipad-pro": Device(
        width=1024,
        height=1366,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        user_agent="Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.0 Mobile/15E148 Safari/604.1",
    ),
}

if tuple(DEVICES) != get_args(DeviceName):
    raise RuntimeError("DeviceName and DEVICES name different presets")
