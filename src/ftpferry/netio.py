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
import contextlib
import errno
import fcntl
import io
import os
import select
import socket
import ssl
import stat
import threading
from collections.abc import Callable
from typing import BinaryIO, Final

__all__ = [
    "SENDFILE_CHUNK",
    "connect_socket",
    "regular_file_descriptor",
    "sendfile_range",
    "SHUTDOWN_TIMEOUT",
    "DataSocketError",
    "SpliceUnavailable",
    "splice_to_file",
    "tls_handshake",
    "tls_recv_into",
    "tls_sendall",
    "tls_unwrap",
    "wait_readable",
    "wait_writable",
    "nothing_to_read",
    "write_all",
    "write_pieces",
    "receive_buffer",
]

SHUTDOWN_TIMEOUT: Final = 2.0
RECEIVE_BUFFER: Final = 64 * 1024
PIPE_SIZE: Final = 1024 * 1024
LARGE_PIPE_SIZE: Final = 4 * 1024 * 1024
"""Tried first: beyond /proc/sys/fs/pipe-max-size (1 MiB) only root may go, and
a quarter of the trips through the loop per gigabyte is measurably faster."""
_F_SETPIPE_SZ: Final = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class _ThreadBuffer(threading.local):
    def __init__(self) -> None:
        self.view = memoryview(bytearray(RECEIVE_BUFFER))


_buffers = _ThreadBuffer()


def receive_buffer() -> memoryview:
    """The receive buffer for control connections (:class:`asyncio.BufferedProtocol`).

    A plain protocol's transport reads with ``recv(256 KiB)``: a fresh
    allocation large enough for glibc to ``mmap`` it, shrunk with ``mremap``
    and ``munmap``-ed again, three system calls for every command line or
    reply.  A buffered protocol's transport reads into this buffer instead.
    One per thread is enough: the event loop calls ``get_buffer``, the
    ``recv_into`` and ``buffer_updated`` back to back, and the protocol
    copies what arrived out before returning, so every connection of a loop
    can share it while costing no memory per connection.
    """
    return _buffers.view


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


SENDFILE_CHUNK: Final = 64 * 1024
"""Bytes asked of one ``sendfile`` call.  Small on purpose: in three interleaved
comparisons over loopback against curl (10-20 downloads of 1 GiB per size, one
server per size), the server's median was 3.2-3.9 GB/s for 64 KiB, 3.0-3.4 for
256 KiB and 2.6-3.1 for 8 MiB, and 64 KiB cost the least CPU (0.27 s per GiB,
8 MiB 0.38 s); a sender alone on a huge-page tmpfs sent 1 GiB in 0.14-0.20 s
with 64 KiB calls and 0.19-0.26 s with one call for the whole file.  Probably
because ``sendfile`` marks all but the last piece of a call "more to come"
(``MSG_MORE``), so a large call that fills the socket buffer ends with its tail
held back until the next one."""


def regular_file_descriptor(file: BinaryIO) -> bool:
    """True for a file ``sendfile`` can read: a regular file with a descriptor
    (not an in-memory stream, nor a pipe, socket or terminal, which it refuses
    with EINVAL)."""
    try:
        return stat.S_ISREG(os.fstat(file.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False


async def sendfile_range(
    out_fd: int,
    in_fd: int,
    offset: int,
    count: int | None,
    on_bytes: Callable[[int], None],
    *,
    yield_every: int = 1,
) -> int:
    """Send ``count`` bytes (None: to the end) of ``in_fd`` from ``offset`` to a
    non-blocking socket, :data:`SENDFILE_CHUNK` per call; returns the bytes sent,
    fewer than ``count`` only at the file's end.  ``on_bytes`` hears of each call's.

    The event loop gets a turn after ``yield_every`` full calls in a row (and
    whenever the socket is full).  Measured over loopback, a server sending to
    curl did best yielding after every call (4.0 GB/s against 3.1 with every
    16th, at less CPU), and a client sending to ftpferry's server, alone on
    its loop, with every 16th (0.15-0.24 s per GiB against 0.19-0.30).
    """
    sent_total = 0
    full_calls = 0
    while count is None or sent_total < count:
        want = SENDFILE_CHUNK if count is None else min(SENDFILE_CHUNK, count - sent_total)
        try:
            sent = os.sendfile(out_fd, in_fd, offset + sent_total, want)
        except BlockingIOError:
            await wait_writable(out_fd)
            continue
        if sent == 0:
            break
        sent_total += sent
        on_bytes(sent)
        if sent < want:
            # The socket buffer is full: wait for it to drain (other sessions
            # run meanwhile) rather than call sendfile only to hear EAGAIN.
            full_calls = 0
            await wait_writable(out_fd)
        else:
            full_calls += 1
            if full_calls >= yield_every:
                full_calls = 0
                await asyncio.sleep(0)  # a reader keeping up: still let others in
    return sent_total


async def connect_socket(sock: socket.socket, host: str, port: int, timeout: float) -> None:
    """Connect a non-blocking socket to an IP address within ``timeout`` seconds.

    Raises ``OSError`` (with its ``errno``) when refused or unreachable, and
    ``TimeoutError``.  Used by the client's passive and the server's active
    data connections.

    ``connect`` on a non-blocking socket always says "in progress", but on
    loopback and fast local links the handshake is done by the time the
    call returns.  A zero-timeout ``poll`` sees that without a trip through
    the event loop; only a connection really still in progress waits, and
    only then is a timer set.
    """
    error = sock.connect_ex((host, port))
    if error == 0:
        return
    if error not in {errno.EINPROGRESS, errno.EAGAIN}:
        raise OSError(error, os.strerror(error))
    probe = select.poll()
    probe.register(sock, select.POLLOUT)
    if not probe.poll(0):
        async with asyncio.timeout(timeout):
            await wait_writable(sock.fileno())
    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if error != 0:
        raise OSError(error, os.strerror(error))


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


def nothing_to_read(sock: socket.socket) -> bool:
    """True when ``sock`` has neither bytes nor an end of file waiting: a data
    connection kept open by block mode that the peer has not closed."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return not poller.poll(0)


def write_pieces(file: BinaryIO, pieces: list[memoryview]) -> None:
    """Write several slices in order: one ``writev`` for an unbuffered file
    (block mode's data comes in slices between the headers).  A buffered or
    in-memory stream gets them one by one, through its own buffer."""
    if len(pieces) != 1 and isinstance(file, io.FileIO):
        _writev_all(file.fileno(), pieces)
        return
    for piece in pieces:
        write_all(file, piece)


def _writev_all(fd: int, pieces: list[memoryview]) -> None:
    while pieces:
        written = os.writev(fd, pieces)
        while pieces and written >= len(pieces[0]):
            written -= len(pieces[0])
            pieces = pieces[1:]
        if written:
            pieces = [pieces[0][written:], *pieces[1:]]


class SpliceUnavailable(Exception):
    """splice() cannot be used here; whatever it consumed was written and counted."""


class DataSocketError(ConnectionError):
    """Reading the data socket failed (as opposed to writing the local file)."""


async def splice_to_file(
    in_fd: int,
    out_fd: int,
    on_bytes: Callable[[int], None],
    *,
    idle_timeout: float | None = None,
) -> None:
    """Move a socket's bytes into a file until EOF, without them entering Python.

    socket -> pipe -> file with ``splice(2)``: the kernel moves the pages and
    Python loops once per pipe's worth (1 MiB).  The file is written at its
    descriptor's position.  Raises :class:`SpliceUnavailable` when the socket
    or file system refuses splice (the caller then copies the rest itself),
    :class:`DataSocketError` when the socket fails, ``TimeoutError`` after
    ``idle_timeout`` seconds without data, and ``OSError`` for the file.
    """
    if not hasattr(os, "splice"):
        raise SpliceUnavailable
    pipe_read, pipe_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        chunk = _grow_pipe(pipe_write)
        flags = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
        first = True
        while True:
            try:
                moved = os.splice(in_fd, pipe_write, chunk, flags=flags)
            except BlockingIOError:
                async with asyncio.timeout(idle_timeout):
                    await wait_readable(in_fd)
                continue
            except OSError as exc:
                if first and exc.errno in {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP}:
                    raise SpliceUnavailable from exc
                raise DataSocketError(exc.errno, exc.strerror) from exc
            if moved == 0:
                return
            first = False
            on_bytes(moved)
            _drain_pipe(pipe_read, out_fd, moved)
            await asyncio.sleep(0)  # let ABOR and other sessions in between chunks
    finally:
        os.close(pipe_read)
        os.close(pipe_write)


def _grow_pipe(pipe_write: int) -> int:
    """Make the pipe as large as allowed; returns its size (what one splice may move)."""
    for size in (LARGE_PIPE_SIZE, PIPE_SIZE):
        with contextlib.suppress(OSError):
            return int(fcntl.fcntl(pipe_write, _F_SETPIPE_SZ, size))
    return 64 * 1024  # the kernel's default pipe size


def _drain_pipe(pipe_read: int, out_fd: int, count: int) -> None:
    """Move ``count`` bytes from the pipe to the file, by hand if splice is refused."""
    while count:
        try:
            count -= os.splice(pipe_read, out_fd, count, flags=os.SPLICE_F_MOVE)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            # The file system refuses splice: copy what the pipe holds, then
            # let the caller go on with recv_into and write.
            while count:
                data = os.read(pipe_read, count)
                view = memoryview(data)
                while view:
                    view = view[os.write(out_fd, view) :]
                count -= len(data)
            raise SpliceUnavailable from exc
