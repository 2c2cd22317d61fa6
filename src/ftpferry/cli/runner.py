"""Running one client command: progress, ``-v`` dialogue, output, exit code.

Every client command goes through :func:`run_client_command`, so they all
behave alike: the work runs in one ``asyncio.run``; expected failures
(see :mod:`.failures`) become one ``ftpferry CMD: message`` line on stderr,
a JSON error document with ``--json``, and their exit code; Ctrl+C stops
the transfer (the library closes the data connection and reads the
pending replies) and exits 130.  Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

from ftpferry.printable import printable

from .connection import ClientSettings
from .dialogue import dialogue_logging
from .failures import ExitCode, Failure, describe_failure
from .progress import ProgressView, make_progress
from .render import Rendered, render_failure
from .stdout import stdout_is_terminal

__all__ = ["Work", "run_client_command"]

Work = Callable[[ProgressView], Coroutine[Any, Any, Rendered]]
"""The command's body: gets the progress view, returns what to print."""


def _emit_json(document: dict[str, Any]) -> None:
    import json  # noqa: PLC0415 - start-up time: only --json needs it

    sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _say(text: str) -> None:
    sys.stderr.write(printable(text) + "\n")
    sys.stderr.flush()


def run_client_command(
    name: str,
    settings: ClientSettings,
    url: str | None,
    work: Work,
    *,
    stdout_is_data: bool = False,
) -> NoReturn:
    """Run ``work`` and exit the process with its exit code.

    ``stdout_is_data``: standard output carries a file (``get URL -``), so
    nothing else is printed there, and no bars are drawn on a terminal
    that is also showing the file.
    """
    bars = not (stdout_is_data and stdout_is_terminal())
    view = make_progress(quiet=settings.quiet, bars=bars)
    started = time.monotonic()
    rendered: Rendered | None = None
    failure: Failure | None = None
    with dialogue_logging(settings.verbose, view.message):
        try:
            rendered = asyncio.run(work(view))
        except KeyboardInterrupt:
            failure = Failure(
                message="interrupted", exit_code=ExitCode.INTERRUPTED, kind="interrupted"
            )
        except Exception as exc:
            failure = describe_failure(exc, plain=url is not None and url.startswith("ftp://"))
            if failure is None:
                raise
        finally:
            view.close()
    if failure is not None or rendered is None:
        assert failure is not None
        _say(f"ftpferry {name}: {failure.message}")
        if settings.json:
            _emit_json(render_failure(name, url, failure))
        sys.exit(int(failure.exit_code))
    if settings.json:
        _emit_json({**rendered.document, "seconds": round(time.monotonic() - started, 6)})
    elif not stdout_is_data:
        for line in rendered.lines:
            sys.stdout.write(printable(line) + "\n")
        sys.stdout.flush()
    for warning in rendered.warnings:
        _say(f"ftpferry {name}: {warning}")
    if rendered.summary is not None and not settings.quiet:
        _say(rendered.summary)
    sys.exit(int(rendered.exit_code))
