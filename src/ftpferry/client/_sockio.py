"""Non-blocking I/O on raw data sockets, plain or TLS.

Data connections are raw non-blocking sockets rather than asyncio streams:
that lets a download ``recv_into`` one reused 1 MiB buffer and an upload
use ``loop.sock_sendfile`` (zero-copy ``sendfile``), where streams would
copy every chunk into new bytes objects.  asyncio's ``sock_*`` calls refuse
SSL sockets, so for PROT P this module drives ``SSLSocket`` reads, writes,
handshakes and shutdowns from readiness callbacks.

The server has the same helpers (``ftpferry.server.readiness``/``tls``);
they are repeated here because importing anything under
``ftpferry.server`` imports the whole server and its pydantic
configuration, which a client should not pay for.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Final

__all__ = [
    "tls_client_handshake",
    "tls_recv_into",
    "tls_sendall",
    "tls_unwrap",
    "wait_readable",
    "wait_writable",
]

SHUTDOWN_TIMEOUT: Final = 2.0


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # the waiting task may have been cancelled meanwhile
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


async def tls_client_handshake(
    context: ssl.SSLContext,
    sock: socket.socket,
    *,
    server_hostname: str | None,
    session: ssl.SSLSession | None,
) -> ssl.SSLSocket:
    """Wrap a connected non-blocking socket and complete a client handshake.

    ``session`` is the control connection's TLS session: resuming it on the
    data connection is what servers such as vsftpd (``require_ssl_reuse``,
    on by default) demand as proof that both connections have one client.
    """
    tls = context.wrap_socket(
        sock,
        server_side=False,
        server_hostname=server_hostname,
        do_handshake_on_connect=False,
        session=session,
    )
    while True:
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            await wait_readable(tls.fileno())
        except ssl.SSLWantWriteError:
            await wait_writable(tls.fileno())
        else:
            return tls


async def tls_sendall(sock: ssl.SSLSocket, data: bytes | memoryview) -> None:
    """Send everything in ``data``."""
    view = memoryview(data)
    while view:
        try:
            sent = sock.send(view)
        except ssl.SSLWantWriteError:
            await wait_writable(sock.fileno())
            continue
        except ssl.SSLWantReadError:
            await wait_readable(sock.fileno())
            continue
        view = view[sent:]


async def tls_recv_into(sock: ssl.SSLSocket, buffer: bytearray | memoryview) -> int:
    """Receive into ``buffer``; 0 means the peer closed (with or without close_notify)."""
    while True:
        try:
            return sock.recv_into(buffer)
        except ssl.SSLWantReadError:
            await wait_readable(sock.fileno())
        except ssl.SSLWantWriteError:
            await wait_writable(sock.fileno())
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return 0


async def tls_unwrap(sock: ssl.SSLSocket) -> None:
    """Exchange close_notify, bounded in time; errors mean the peer already left."""
    try:
        async with asyncio.timeout(SHUTDOWN_TIMEOUT):
            while True:
                try:
                    sock.unwrap()
                    return
                except ssl.SSLWantReadError:
                    await wait_readable(sock.fileno())
                except ssl.SSLWantWriteError:
                    await wait_writable(sock.fileno())
    except (TimeoutError, OSError, ValueError):
        return
