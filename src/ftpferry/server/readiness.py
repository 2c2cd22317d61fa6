"""Waiting for a raw file descriptor to become readable or writable.

The data channel works on raw sockets (for sendfile, splice and TLS), so it
waits for readiness itself.  The reader/writer callback may already be
queued when ABOR cancels the waiting task; setting a result on the cancelled
future would then raise ``InvalidStateError`` inside the event loop, so the
callback checks first.
"""

from __future__ import annotations

import asyncio

__all__ = ["wait_readable", "wait_writable"]


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def wait_readable(fd: int) -> None:
    """Return once ``fd`` has data (or EOF) to read."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    loop.add_reader(fd, _wake, waiter)
    try:
        await waiter
    finally:
        loop.remove_reader(fd)


async def wait_writable(fd: int) -> None:
    """Return once ``fd`` can take more bytes."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    loop.add_writer(fd, _wake, waiter)
    try:
        await waiter
    finally:
        loop.remove_writer(fd)
