"""One local execution environment: `python -m devstack.worker functions/<name>/handler.py`.

Like Lambda's runtime, it imports the handler once (the init phase), then serves one invocation at a time:
the parent (devstack.lambdas) writes a JSON line {"requestId", "deadlineEpochMs", "event"} to stdin and
reads the answer from the protocol channel, {"result": ...} or Lambda's error shape. The process gets only
its function's environment, and the parent kills it when an invocation outlives the function's timeout.
The handler's own output (Powertools logs to stdout, as in Lambda) goes to the stack's console.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from devstack.runtime import LocalContext, load_function


def _answer(channel: Any, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message, separators=(",", ":"), default=str) + "\n")
    channel.flush()


def main() -> int:
    handler_path = Path(sys.argv[1])
    # The protocol owns the original stdout; everything the handler prints goes to stderr, the console.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    module = load_function(handler_path, f"shotwire_fn_{handler_path.parent.name}")
    _answer(channel, {"ready": True})
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", handler_path.parent.name)
    memory = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
    for line in sys.stdin:
        request = json.loads(line)
        context = LocalContext(
            function_name=function_name,
            memory_limit_in_mb=memory,
            aws_request_id=request["requestId"],
            deadline_epoch=request["deadlineEpochMs"] / 1000,
        )
        try:
            result = module.lambda_handler(request["event"], context)
        except Exception as error:
            # Lambda logs the error and answers its type and message to the caller.
            traceback.print_exc()
            _answer(channel, {"errorType": type(error).__name__, "errorMessage": str(error)})
            continue
        _answer(channel, {"result": result})
    shutdown = getattr(module, "shutdown", None)
    if shutdown is not None:  # the stack is stopping: close Chromium cleanly
        shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
