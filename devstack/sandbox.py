"""A Lambda-like sandbox for a local execution environment, with bubblewrap (Debian's `bubblewrap`).

Lambda runs a function as a non-root user on a read-only filesystem where only /tmp is writable, with no
usable /dev/shm. A local stack without those limits once hid a capture image that failed 39 of 40 jobs,
so the local environments run under the same limits wherever bubblewrap can make them.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

# Lambda's function user (sbx_user1051) and group.
LAMBDA_UID = 993
LAMBDA_GID = 990
SANDBOX_TMP = "/tmp"  # noqa: S108 - the sandbox's own /tmp, a private directory bound there
SANDBOX_SHM = "/dev/shm"  # noqa: S108 - mounted empty and read-only, not used


def sandbox_command(tmp: Path, cwd: Path = Path("/")) -> list[str]:
    """bwrap's arguments: `tmp` (a private host directory) becomes the only writable place, at /tmp;
    `cwd` is where the function starts (its code, as /var/task is in Lambda)."""
    return [
        "bwrap",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        # Lambda has no usable shared memory: an empty, read-only /dev/shm (Chromium must not rely on it).
        "--tmpfs", SANDBOX_SHM, "--remount-ro", SANDBOX_SHM,
        "--proc", "/proc",
        "--bind", str(tmp), SANDBOX_TMP,
        # The code, read-only, even where a checkout lives under /tmp (which the line above hides).
        "--ro-bind", str(cwd), str(cwd),
        "--unshare-user", "--uid", str(LAMBDA_UID), "--gid", str(LAMBDA_GID),
        "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--die-with-parent",
        "--chdir", str(cwd),
    ]  # fmt: skip


@functools.cache
def sandbox_unavailable() -> str | None:
    """Why the sandbox cannot run here (None: it can): bwrap missing, or user namespaces refused."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    probe = subprocess.run(  # noqa: S603
        [*sandbox_command(Path("/")), "--", "true"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return f"bubblewrap cannot make a sandbox here: {probe.stderr.decode(errors='replace').strip()}"
    return None
