"""`python -m devstack.receiver` (`make receiver`): the local webhook receiver, which is `shotwire listen`.

One implementation: this wrapper runs the repository's `shotwire listen` (devstack/shotwire_cli.py, on
sdk/src/shotwire/cli/listen.py) with the same arguments, so `make receiver` and older instructions keep
working. It verifies signatures with the dev tenant's secret (SHOTWIRE_DEV_WEBHOOK_SECRET or its default;
--secret for another), prints each event, saves completed images to ./screenshots/ (--out), and answers
204, or 401 to a bad signature. Port: --port, else SHOTWIRE_RECEIVER_PORT, else 9000.
"""

from __future__ import annotations

import sys

from devstack.shotwire_cli import main as shotwire


def main(argv: list[str] | None = None) -> int:
    return shotwire(["listen", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
