"""``-v``: the FTP dialogue (commands and replies) on stderr, through the progress view.

The client library logs every command it sends (``-> USER alice``, with
the argument of PASS already masked) and every reply (``<- 230 ...``) at
DEBUG level on the ``ftpferry.client`` logger.  This module routes those
records to the progress view, so on a terminal they scroll above the
bars.  With several connections (``mirror --parallel``), each line is
tagged with its connection's number: a context variable set by the task
that opened the connection, which asyncio copies into that task's
context, so the tag follows the connection without the library knowing.

Without ``-v`` only warnings are shown (for example a fallback from
passive to active mode).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator

__all__ = ["connection_tag", "dialogue_logging", "set_connection_tag"]

_TAG: contextvars.ContextVar[str] = contextvars.ContextVar("ftpferry_connection_tag", default="")
LOGGERS = ("ftpferry.client", "ftpferry.sync")


def set_connection_tag(number: int | None) -> None:
    """Tag the current task's log lines with ``[number]`` (None: no tag)."""
    _TAG.set(f"[{number}] " if number is not None else "")


def connection_tag() -> str:
    """The current task's tag (``"[2] "``, or empty)."""
    return _TAG.get()


class _ViewHandler(logging.Handler):
    """Hands formatted records to a ``write(line)`` function."""

    def __init__(self, write: Callable[[str], None], level: int) -> None:
        super().__init__(level)
        self._write = write

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.levelno >= logging.WARNING:
                message = f"ftpferry: {record.levelname.lower()}: {message}"
            self._write(f"{connection_tag()}{message}")
        except Exception:  # a broken stderr must not break the transfer
            self.handleError(record)


@contextlib.contextmanager
def dialogue_logging(verbose: bool, write: Callable[[str], None]) -> Iterator[None]:
    """Route the client's log records to ``write`` while the block runs."""
    level = logging.DEBUG if verbose else logging.WARNING
    handler = _ViewHandler(write, level)
    saved: list[tuple[logging.Logger, int, bool]] = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.setLevel(level)
        logger.propagate = False
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger, old_level, propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(old_level)
            logger.propagate = propagate
