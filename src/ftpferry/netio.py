"""Non-blocking I/O on raw sockets, plain or TLS, shared by server and client.

FTP data connections are raw non-blocking sockets rather than asyncio
streams or transports, because that is what lets the kernel move file
contents: ``sendfile`` for downloads, ``splice`` for uploads, and one reused
``recv_into`` buffer otherwise.  asyncio's ``sock_*`` calls refuse SSL
sockets, so for PROT P data connections this module drives ``SSLSocket``
handshakes, reads, writes and shutdowns from readiness callbacks.

It imports nothing from :mod:`ftpferry.server` (which would load pydantic
and the whole server into every client) nor from :mod:`ftpferry.client`.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import BinaryIO, Final

__all__ = [
    "SHUTDOWN_TIMEOUT",
    "tls_handshake",
    "tls_recv_into",
    "tls_sendall",
    "tls_unwrap",
    "wait_readable",
    "wait_writable",
    "write_all",
]

SHUTDOWN_TIMEOUT: Final = 2.0


def _wake(waiter: asyncio.Future[None]) -> None:
    # The reader/writer callback may already be queued when a cancellation
    # (ABOR, a time-out) finishes the waiter: setting a result then would
    # raise InvalidStateError inside the event loop.
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


async def tls_handshake(
    context: ssl.SSLContext,
    sock: socket.socket,
    *,
    server_side: bool,
    server_hostname: str | None = None,
    session: ssl.SSLSession | None = None,
) -> ssl.SSLSocket:
    """Wrap a connected non-blocking socket and complete the TLS handshake.

    ``session`` (client side) is the control connection's TLS session:
    resuming it on the data connection is what servers such as vsftpd
    (``require_ssl_reuse``) demand as proof that both connections belong to
    one client.  Callers bound the time with :func:`asyncio.timeout`.
    """
    tls = context.wrap_socket(
        sock,
        server_side=server_side,
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
    """Receive into ``buffer``; 0 means the peer closed.

    A close without close_notify also counts as the end: many FTPS clients
    and servers end data connections that way, and vsftpd accepts it too
    unless ``strict_ssl_read_eof`` is set.
    """
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


def write_all(file: BinaryIO, data: bytes | memoryview) -> None:
    """Write every byte (an unbuffered file may take less than offered)."""
    view = memoryview(data)
    while view:
        view = view[file.write(view) :]
