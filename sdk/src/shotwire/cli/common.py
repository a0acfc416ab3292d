"""The options every command takes (`--json`, `--debug`, `--api-key`, `--api-url`) and its error handling."""

from __future__ import annotations

import functools
import inspect
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any, TypeVar

import typer

from shotwire.cli.errors import handle_errors
from shotwire.cli.output import State

__all__ = [
    "GLOBAL_PANEL",
    "command_options",
    "current_state",
    "make_client",
    "sigterm_as_interrupt",
    "start_state",
]

GLOBAL_PANEL = "Global options"

JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="Print one JSON document (JSON lines for streams) on stdout.", rich_help_panel=GLOBAL_PANEL
    ),
]
DebugOption = Annotated[
    bool,
    typer.Option("--debug", help="Show tracebacks (also SHOTWIRE_DEBUG=1).", rich_help_panel=GLOBAL_PANEL),
]
# The environment (SHOTWIRE_API_KEY / SHOTWIRE_API_URL) is read once, by the options before the command, so
# that `shotwire --api-url X list` is not overridden by the variable on the command's own option.
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", help="API key [env var: SHOTWIRE_API_KEY].", rich_help_panel=GLOBAL_PANEL),
]
ApiUrlOption = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        help="API base URL, default http://127.0.0.1:8000 (make dev) [env var: SHOTWIRE_API_URL].",
        rich_help_panel=GLOBAL_PANEL,
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


_state: ContextVar[State | None] = ContextVar("shotwire_cli_state", default=None)


def start_state(state: State) -> None:
    """The root callback's options, for the command that runs next (one invocation per process, or per
    CliRunner call)."""
    _state.set(state)


def current_state() -> State:
    state = _state.get()
    if state is None:
        state = State()
        _state.set(state)
    return state


def command_options(*, api: bool = True) -> Callable[[F], F]:
    """Add `--json` and `--debug` (and with `api`, `--api-key`/`--api-url`) to a command, merge them with the
    same options given before the command, and run the body under `handle_errors`."""

    def decorate(func: F) -> F:
        signature = inspect.signature(func, eval_str=True)
        extra: list[tuple[str, Any, Any]] = [("json_output", JsonOption, False), ("debug", DebugOption, False)]
        if api:
            extra += [("api_key", ApiKeyOption, None), ("api_url", ApiUrlOption, None)]
        params = list(signature.parameters.values())
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        keyword = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params if p not in positional]
        keyword += [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
            for name, annotation, default in extra
        ]
        names = [name for name, _, _ in extra]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in names}
            state = current_state()
            state.json = state.json or bool(given["json_output"])
            state.debug = state.debug or bool(given["debug"])
            if api:
                state.api_key = given["api_key"] or state.api_key
                state.api_url = given["api_url"] or state.api_url
            with handle_errors(state):
                return func(*args, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=positional + keyword)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in positional + keyword}
        del wrapper.__wrapped__
        return wrapper  # type: ignore[return-value]

    return decorate


def make_client(state: State, **kwargs: Any) -> Any:
    """A `shotwire.Client` from the options and environment (raises ConfigurationError without a key)."""
    from shotwire import Client

    return Client(api_key=state.api_key, base_url=state.api_url, **kwargs)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (e.g. `kill`, a container stopping) ends a command the way Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
