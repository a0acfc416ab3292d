"""Settings of the local stack itself (ports, dev tenant), read from the environment."""

from __future__ import annotations

import base64
import binascii
import os
import shutil
from dataclasses import dataclass

DEV_TENANT_ID = "dev"
# Fixed defaults so the README's curl commands work as printed; the stack only listens on loopback.
DEFAULT_DEV_API_KEY = "sw_dev_local_key_0123456789"
DEFAULT_DEV_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"shotwire-local-dev-webhook-key!!").decode()
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


class OptionError(ValueError):
    """A local-stack setting is unusable; the message names the variable."""


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise OptionError(f"{name} must be a TCP port number (1-65535), got {raw!r}")
    return int(raw)


def find_chromium() -> str | None:
    """Debian/Ubuntu's Chromium (or Chrome); None lets Playwright use its own downloaded browser."""
    configured = os.environ.get("SHOTWIRE_CHROMIUM_PATH", "").strip()
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _sandbox_choice(setting: str) -> tuple[bool, str]:
    """SHOTWIRE_LOCAL_SANDBOX: auto (the default: on where bubblewrap works), 1 (required) or 0 (off)."""
    from devstack.sandbox import sandbox_unavailable

    if setting in ("0", "false", "no", "off"):
        return False, "SHOTWIRE_LOCAL_SANDBOX=0"
    if setting not in ("auto", "", "1", "true", "yes", "on"):
        raise OptionError(f"SHOTWIRE_LOCAL_SANDBOX must be auto, 1 or 0, got {setting!r}")
    reason = sandbox_unavailable()
    if reason is not None and setting != "auto":
        raise OptionError(f"SHOTWIRE_LOCAL_SANDBOX=1 but {reason}")
    return reason is None, reason or ""


@dataclass(frozen=True)
class DevOptions:
    host: str
    api_port: int
    moto_port: int
    api_key: str
    webhook_secret: str
    allow_private_networks: bool
    chromium_path: str | None
    # Each function runs in a Lambda-like sandbox (devstack.sandbox); why not, when it cannot.
    sandbox: bool = False
    sandbox_off_reason: str = ""

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def moto_url(self) -> str:
        return f"http://{self.host}:{self.moto_port}"

    @classmethod
    def from_env(cls) -> DevOptions:
        secret = os.environ.get("SHOTWIRE_DEV_WEBHOOK_SECRET", "").strip() or DEFAULT_DEV_WEBHOOK_SECRET
        if not secret.startswith("whsec_"):
            raise OptionError("SHOTWIRE_DEV_WEBHOOK_SECRET must look like whsec_<base64> (Standard Webhooks format)")
        try:
            base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error as error:
            raise OptionError("SHOTWIRE_DEV_WEBHOOK_SECRET: the part after whsec_ must be base64") from error
        api_key = os.environ.get("SHOTWIRE_DEV_API_KEY", "").strip() or DEFAULT_DEV_API_KEY
        if len(api_key) < 16:
            raise OptionError("SHOTWIRE_DEV_API_KEY must be at least 16 characters")
        api_port = _port("SHOTWIRE_PORT", 8000)
        moto_port = _port("SHOTWIRE_MOTO_PORT", 8001)
        if api_port == moto_port:
            raise OptionError("SHOTWIRE_PORT and SHOTWIRE_MOTO_PORT must differ")
        allow = os.environ.get("SHOTWIRE_ALLOW_PRIVATE_NETWORKS", "1").strip().lower() in ("1", "true", "yes", "on")
        sandbox, off_reason = _sandbox_choice(os.environ.get("SHOTWIRE_LOCAL_SANDBOX", "auto").strip().lower())
        return cls(
            sandbox=sandbox,
            sandbox_off_reason=off_reason,
            host="127.0.0.1",
            api_port=api_port,
            moto_port=moto_port,
            api_key=api_key,
            webhook_secret=secret,
            allow_private_networks=allow,
            chromium_path=find_chromium(),
        )
