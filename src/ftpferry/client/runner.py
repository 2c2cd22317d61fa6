"""Running one transfer: data connection, bytes, final reply, NOOP replies.

Theory of operation
-------------------
A transfer is: open the data connection (which sends the command and reads
its ``150``), move the bytes, end the data connection, then read the final
reply, and with it the replies to any keep-alive NOOPs sent meanwhile.  In
block mode the data connection is not ended: after a ``250`` the opener
keeps it for the next transfer.
Servers differ in when they answer a NOOP sent during a transfer (ftpferry
and vsftpd after the transfer, pyftpdlib at once), so while NOOPs are
unanswered a 200 is taken for one of theirs: a transfer never ends with 200.

When a transfer fails half-way (the data connection breaks, a local file
cannot be written, or a progress callback raises to cancel it) the data
connection is closed and the pending replies are read, so the control
connection stays usable; if they do not come in time, the control
connection is closed rather than left out of step.  A data connection that
broke is reported as the server saw it (usually ``426``); local errors are
raised as they are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from .control import ControlConnection
from .datachannel import (
    BlockFramingBroken,
    BlockModeUnsupported,
    DataChannelOpener,
    DataConnection,
    DataConnectionBroken,
)
from .errors import ConnectionLost, DataConnectionError, FTPError, ReplyError, UnsupportedCommand
from .replies import Reply
from .transfer import ProgressCallback, Ticker, TransferResult

__all__ = ["Body", "TransferPlan", "run_transfer"]

log = logging.getLogger("ftpferry.client")

SETTLE_TIMEOUT: Final = 10.0
"""Seconds to wait for the pending replies after a transfer failed."""

Body = Callable[[DataConnection, Ticker], Awaitable[None]]
"""Moves the bytes over an open data connection, calling the ticker per chunk."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferPlan:
    """What to transfer and how to report it.

    Attributes:
        command: the transfer command line (``RETR x``, ``APPE y``, ``MLSD``).
        remote: the remote path, for the result.
        direction: ``download``, ``upload`` or ``listing``.
        rest: REST offset to send before the command (0: none).
        offset: where the transfer starts in the file, for progress and result.
        total: the file's size when known, for progress.
        feature: the verb to name in UnsupportedCommand if it is refused
            with 500/502/504 (None: a plain ReplyError).
    """

    command: str
    remote: str
    direction: str
    rest: int = 0
    offset: int = 0
    total: int | None = None
    feature: str | None = None


async def run_transfer(
    control: ControlConnection,
    opener: DataChannelOpener,
    plan: TransferPlan,
    body: Body,
    *,
    progress: ProgressCallback | None,
    keepalive: float,
) -> TransferResult:
    """Run one transfer (see the module docstring)."""
    started = time.monotonic()
    try:
        connection, first = await opener.open(plan.command, rest=plan.rest)
    except ReplyError as exc:
        if plan.feature is not None and exc.code in {500, 502, 504}:
            raise UnsupportedCommand(plan.feature, exc.text, reply=exc.reply) from exc
        raise
    ticker = Ticker(
        offset=plan.offset,
        total=plan.total,
        progress=progress,
        keepalive=keepalive,
        send_noop=lambda: control.write_line("NOOP"),
    )
    known = first if first.category == 2 else None
    try:
        await body(connection, ticker)
        if connection.blocks and plan.direction == "upload" and opener.blocks_unproven:
            # A server that took MODE B without doing it waits for the end of
            # the connection to end the file: end it, keep nothing (see AsyncFTPClient).
            connection.blocks = False
        await connection.finish()
    except DataConnectionBroken as exc:
        connection.close()
        reply = await _settle(control, known, ticker.noops)
        if isinstance(exc, BlockFramingBroken) and opener.blocks_unproven:
            log.warning("the server accepted MODE B but sends no blocks; using stream mode")
            opener.abandon_block_mode()
            message = f"{plan.command}: the server accepted MODE B but sent no blocks ({exc})"
            raise _route_error(BlockModeUnsupported, message, connection, exc, reply) from exc.error
        _raise_broken(plan, connection, ticker, exc, reply)
    except BaseException:
        connection.close()
        await _settle(control, known, ticker.noops)
        raise
    final = await collect_replies(control, known, ticker.noops)
    if connection.blocks:
        opener.keep(connection, final, proven=plan.direction != "upload")
    if final.category != 2:
        raise ReplyError.from_reply(final, expected=(226, 250), command=plan.command)
    return TransferResult(
        remote=plan.remote,
        direction=plan.direction,
        transferred=ticker.moved,
        offset=plan.offset,
        seconds=time.monotonic() - started,
        route=connection.route,
        keepalives=ticker.noops,
        reply=final,
    )


def _raise_broken(
    plan: TransferPlan,
    connection: DataConnection,
    ticker: Ticker,
    exc: DataConnectionBroken,
    reply: Reply | None,
) -> None:
    """The data connection broke: say what the server made of it."""
    if reply is None:
        raise ConnectionLost(
            f"{plan.command}: the data connection broke after {ticker.moved} bytes ({exc}) "
            "and the server did not answer"
        ) from exc.error
    if reply.category != 2:
        raise ReplyError.from_reply(reply, expected=(226, 250), command=plan.command) from exc
    message = f"{plan.command}: the data connection broke after {ticker.moved} bytes"
    raise _route_error(DataConnectionError, message, connection, exc, reply) from exc.error


def _route_error(
    kind: type[DataConnectionError],
    message: str,
    connection: DataConnection,
    exc: DataConnectionBroken,
    reply: Reply | None,
) -> DataConnectionError:
    """A data-connection error naming the route it happened on."""
    route = connection.route
    return kind(
        message,
        mode=route.command,
        address=route.host,
        port=route.port,
        os_error=exc.error,
        reply=reply,
    )


async def collect_replies(control: ControlConnection, final: Reply | None, noops: int) -> Reply:
    """Read the transfer's final reply (unless known) and ``noops`` NOOP replies."""
    waiting = noops
    while final is None or waiting:
        reply = await control.read_reply()
        if final is None and not (reply.code == 200 and waiting):
            final = reply
        else:
            waiting -= 1
    return final


async def _settle(control: ControlConnection, final: Reply | None, noops: int) -> Reply | None:
    """After a failed transfer: read what is pending, or give the connection up."""
    try:
        async with asyncio.timeout(SETTLE_TIMEOUT):
            return await collect_replies(control, final, noops)
    except (FTPError, TimeoutError, OSError):
        await control.close()
        return None
