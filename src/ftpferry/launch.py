"""The ``ftpferry`` console entry point, tuned for a short-lived process.

A client command such as ``ftpferry get`` lives for a fraction of a second,
and Python's start-up is a large part of it.  Importing the command line
creates some hundred thousand objects that live until the process exits;
with the cyclic garbage collector on, import walks them several times for
nothing.  So imports run with the collector off, and ``gc.freeze`` then
moves everything they created out of its reach: collections during the
command (a mirror of thousands of files allocates a lot) only look at new
objects.
"""

from __future__ import annotations

import gc

__all__ = ["main"]


def main() -> None:
    """Run the command line (``ftpferry ...`` and ``python -m ftpferry ...``)."""
    gc.disable()
    try:
        from ftpferry.cli import main as command_line  # noqa: PLC0415 - the point
    finally:
        gc.enable()
    gc.freeze()
    command_line()
