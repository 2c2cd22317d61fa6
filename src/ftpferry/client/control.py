"""The control connection: commands out, typed replies in.

A small :class:`asyncio.BufferedProtocol` carries the control connection: it cuts
the bytes into lines, and :meth:`ControlConnection.read_reply` decodes them
through the sans-IO :class:`ReplyParser`.  ``loop.start_tls`` upgrades it in
place for ``AUTH TLS``.  Reading lines straight off a protocol, and one
:class:`.Deadline` per connection instead of a new timer per reply, keeps a
command's cost small: a mirror of thousands of small files sends five
commands per file.

Once a read times out or the connection breaks, the replies can no longer
be matched to their commands, so the connection is marked broken and every
later call raises :class:`ConnectionLost` instead of reading a stale reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections import deque
from typing import Final, cast

from ftpferry.netio import receive_buffer

from .deadline import Deadline
from .errors import (
    ConnectionFailed,
    ConnectionLost,
    FTPTimeout,
    ProtocolError,
    TLSError,
    mask_command,
)
from .replies import Reply, ReplyParser

__all__ = ["ControlConnection"]

log = logging.getLogger("ftpferry.client")

MAX_REPLY_LINES: Final = 100_000  # a LIST over STAT can be long, but not endless
MAX_LINE: Final = 1 << 20
CLOSE_TIMEOUT: Final = 2.0


class _LineProtocol(asyncio.BufferedProtocol):
    """Bytes in, complete lines (without LF) queued; flow control for writes.

    Buffered, reading into the thread's shared :func:`~ftpferry.netio.receive_buffer`:
    see there for the three system calls per reply this saves.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.lines: deque[bytes] = deque()
        self.partial = bytearray()
        self.ended = False
        self.overlong = False
        self.error: Exception | None = None
        self.closed: asyncio.Future[None] = loop.create_future()
        self._waiter: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    # -- asyncio callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; uvloop's do not derive from asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return receive_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(receive_buffer()[:nbytes]))

    def data_received(self, data: bytes) -> None:
        end = data.rfind(b"\n")
        if end < 0:
            self.partial += data
        else:
            if self.partial:
                self.partial += data[: end + 1]
                chunk = bytes(self.partial)
                self.partial.clear()
            else:
                chunk = data[: end + 1] if end + 1 < len(data) else data
            self.lines.extend(chunk.split(b"\n")[:-1])
            self.partial += data[end + 1 :]
        if len(self.partial) > MAX_LINE:
            self.overlong = True
            self.partial.clear()
            if self.transport is not None:
                self.transport.close()
        self._wake()

    def eof_received(self) -> bool | None:
        self.ended = True
        self._wake()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.error = exc
        if not self.closed.done():
            self.closed.set_result(None)
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = self.loop.create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    # -- for ControlConnection -----------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_lines(self, deadline: Deadline, seconds: float) -> None:
        """Wait for more lines, the end, or ``seconds`` (``TimeoutError``)."""
        waiter = self._waiter = self.loop.create_future()
        deadline.watch(waiter, seconds)
        try:
            await waiter
        finally:
            self._waiter = None

    async def wait_writable(self, deadline: Deadline, seconds: float) -> None:
        """Wait until the transport takes more bytes (after ``pause_writing``)."""
        writable = self._writable
        if writable is not None:
            deadline.watch(writable, seconds)
            await writable


class ControlConnection:
    """One control connection (see the module docstring)."""

    __slots__ = ("_broken", "_deadline", "_parser", "_protocol", "encoding", "timeout")

    def __init__(self, protocol: _LineProtocol, *, encoding: str, timeout: float) -> None:
        self._protocol = protocol
        self._parser = ReplyParser()
        self._deadline = Deadline(protocol.loop)
        self._broken: str | None = None
        self.encoding = encoding
        self.timeout = timeout

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        connect_timeout: float,
        timeout: float,
        encoding: str,
        ssl_context: ssl.SSLContext | None = None,
    ) -> ControlConnection:
        """Connect (with TLS from the first byte when ``ssl_context`` is given)."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                _, protocol = await loop.create_connection(
                    lambda: _LineProtocol(loop),
                    host,
                    port,
                    ssl=ssl_context,
                    server_hostname=host if ssl_context is not None else None,
                )
        except TimeoutError as exc:
            raise ConnectionFailed(host, port, f"no connection within {connect_timeout}s") from exc
        except ssl.SSLError as exc:
            raise TLSError(f"TLS handshake with {host} port {port} failed: {exc}") from exc
        except OSError as exc:
            raise ConnectionFailed(host, port, exc.strerror or str(exc), exc) from exc
        return cls(protocol, encoding=encoding, timeout=timeout)

    @property
    def _transport(self) -> asyncio.Transport:
        transport = self._protocol.transport
        assert transport is not None
        return transport

    # -- addresses ---------------------------------------------------------------------

    @property
    def peer_host(self) -> str:
        """The server's IP address as this connection sees it."""
        return str(self._transport.get_extra_info("peername")[0]).split("%", 1)[0]

    @property
    def local_host(self) -> str:
        """Our own IP address on this connection."""
        return str(self._transport.get_extra_info("sockname")[0]).split("%", 1)[0]

    @property
    def family(self) -> socket.AddressFamily:
        """AF_INET or AF_INET6."""
        sock: socket.socket = self._transport.get_extra_info("socket")
        return socket.AddressFamily(sock.family)

    @property
    def tls_active(self) -> bool:
        """True once the connection is encrypted."""
        return self._transport.get_extra_info("ssl_object") is not None

    @property
    def tls_session(self) -> ssl.SSLSession | None:
        """The control connection's TLS session, for resumption on data connections."""
        ssl_object: ssl.SSLObject | None = self._transport.get_extra_info("ssl_object")
        return ssl_object.session if ssl_object is not None else None

    @property
    def broken(self) -> bool:
        """True after a time-out or connection error: the connection is unusable."""
        return self._broken is not None

    # -- commands and replies ------------------------------------------------------------

    def _check(self) -> None:
        if self._broken is not None:
            raise ConnectionLost(f"the control connection is unusable: {self._broken}")

    def _break(self, reason: str) -> None:
        if self._broken is None:
            self._broken = reason
            self._deadline.cancel()
            self._transport.close()

    def write_line(self, line: str) -> None:
        """Queue one command line without waiting (keep-alive NOOPs use this)."""
        self._check()
        self._transport.write(self._encode(line))

    def write_lines(self, lines: tuple[str, ...]) -> None:
        """Queue several command lines as one write (commands sent ahead)."""
        self._check()
        self._transport.write(b"".join(self._encode(line) for line in lines))

    def _encode(self, line: str) -> bytes:
        if "\r" in line or "\n" in line:
            raise ValueError("a command must not contain CR or LF")
        if log.isEnabledFor(logging.DEBUG):
            log.debug("-> %s", mask_command(line))
        return line.encode(self.encoding, "surrogateescape") + b"\r\n"

    def abandon(self, reason: str) -> None:
        """Give the connection up: replies can no longer be matched to commands."""
        self._break(reason)

    async def send(self, line: str) -> None:
        """Send one command line (waiting only if the server is not reading)."""
        self.write_line(line)
        protocol = self._protocol
        if protocol.error is not None and protocol.ended:
            self._break(str(protocol.error))
            raise ConnectionLost(f"control connection lost: {protocol.error}")
        try:
            await protocol.wait_writable(self._deadline, self.timeout)
        except TimeoutError as exc:
            self._break("sending timed out")
            raise FTPTimeout(
                f"could not send {mask_command(line)!r} within {self.timeout}s"
            ) from exc

    async def read_reply(self, timeout: float | None = None) -> Reply:
        """Read one complete reply."""
        self._check()
        limit = self.timeout if timeout is None else timeout
        protocol = self._protocol
        lines = protocol.lines
        expires: float | None = None
        try:
            for _ in range(MAX_REPLY_LINES):
                while not lines:
                    self._check_ended()
                    now = protocol.loop.time()
                    if expires is None:
                        expires = now + limit
                    await protocol.wait_lines(self._deadline, expires - now)
                raw = lines.popleft()
                line = raw.rstrip(b"\r").decode(self.encoding, "surrogateescape")
                reply = self._parser.feed_line(line)
                if reply is not None:
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug("<- %d %s", reply.code, " | ".join(reply.lines))
                    if reply.code == 421:  # the server closes after this reply
                        self._break(f"the server closed it: 421 {reply.text}")
                    return reply
        except TimeoutError as exc:
            self._break("a reply timed out")
            raise FTPTimeout(f"no reply within {limit}s") from exc
        except ValueError as exc:
            self._break("malformed reply")
            raise ProtocolError(str(exc)) from exc
        self._break("endless reply")
        raise ProtocolError(f"a reply with more than {MAX_REPLY_LINES} lines")

    def _check_ended(self) -> None:
        """Raise if no more lines can come."""
        protocol = self._protocol
        if protocol.overlong:
            self._break("reply line too long")
            raise ProtocolError("a reply line is longer than 1 MiB")
        if not protocol.ended:
            return
        if protocol.error is not None:
            self._break(str(protocol.error))
            raise ConnectionLost(f"control connection lost: {protocol.error}")
        self._break("closed by the server")
        raise ConnectionLost("the server closed the control connection")

    async def command(self, line: str) -> Reply:
        """Send a command and read its first reply."""
        await self.send(line)
        return await self.read_reply()

    # -- TLS and closing ----------------------------------------------------------------

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Upgrade to TLS in place (after ``234`` to AUTH TLS)."""
        self._check()
        protocol = self._protocol
        try:
            transport = await protocol.loop.start_tls(
                self._transport,
                protocol,
                context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=self.timeout,
            )
        except (ssl.SSLError, ConnectionError, TimeoutError) as exc:
            self._break("TLS handshake failed")
            raise TLSError(f"TLS handshake on the control connection failed: {exc}") from exc
        if transport is None:  # the connection was closed meanwhile
            self._break("closed during the TLS handshake")
            raise TLSError("the server closed the connection during the TLS handshake")
        protocol.transport = transport

    async def close(self) -> None:
        """Close without saying goodbye (QUIT is the caller's business)."""
        self._broken = self._broken or "closed"
        self._deadline.cancel()
        self._transport.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.shield(self._protocol.closed)
