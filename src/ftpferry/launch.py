"""The ``ftpferry`` console entry point, tuned for a short-lived process.

A client command such as ``ftpferry get`` lives for a fraction of a second,
and Python's start-up is a large part of it.  Importing the command line
creates some hundred thousand objects that live until the process exits;
with the cyclic garbage collector on, import walks them several times for
nothing.  So imports run with the collector off, and ``gc.freeze`` then
moves everything they created out of its reach: collections during the
command (a mirror of thousands of files allocates a lot) only look at new
objects.

At the end the process leaves with ``os._exit`` once its output is
flushed: the interpreter's teardown (freeing every module and object one
by one) would otherwise add some ten milliseconds to every command, for
nothing the operating system does not do at once.
"""

from __future__ import annotations

import gc
import logging
import os
import sys

__all__ = ["main"]


def main() -> None:
    """Run the command line (``ftpferry ...`` and ``python -m ftpferry ...``)."""
    gc.disable()
    try:
        from ftpferry.cli import main as command_line  # noqa: PLC0415 - the point
    finally:
        gc.enable()
    gc.freeze()
    try:
        command_line()
    except SystemExit as exc:
        _exit_now(exc.code)


def _exit_now(code: object) -> None:
    """Exit as ``sys.exit(code)`` would, without the interpreter's teardown."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): the message goes to stderr, the status is 1
        print(code, file=sys.stderr)
        status = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: the command has said so already
            pass
    os._exit(status)
