"""The control connection: commands out, typed replies in.

An asyncio stream carries the control connection, because it is small
line-oriented traffic and ``StreamWriter.start_tls`` upgrades it in place
for ``AUTH TLS``.  Lines go through the sans-IO :class:`ReplyParser`.

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

MAX_REPLY_LINES = 100_000  # a LIST over STAT can be long, but not endless


class ControlConnection:
    """One control connection (see the module docstring)."""

    __slots__ = ("_broken", "_parser", "_reader", "_writer", "encoding", "timeout")

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        encoding: str,
        timeout: float,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._parser = ReplyParser()
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
        try:
            async with asyncio.timeout(connect_timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=ssl_context,
                    server_hostname=host if ssl_context is not None else None,
                    limit=1 << 20,
                )
        except TimeoutError as exc:
            raise ConnectionFailed(host, port, f"no connection within {connect_timeout}s") from exc
        except ssl.SSLError as exc:
            raise TLSError(f"TLS handshake with {host} port {port} failed: {exc}") from exc
        except OSError as exc:
            raise ConnectionFailed(host, port, exc.strerror or str(exc), exc) from exc
        return cls(reader, writer, encoding=encoding, timeout=timeout)

    # -- addresses ---------------------------------------------------------------------

    @property
    def peer_host(self) -> str:
        """The server's IP address as this connection sees it."""
        return str(self._writer.get_extra_info("peername")[0]).split("%", 1)[0]

    @property
    def local_host(self) -> str:
        """Our own IP address on this connection."""
        return str(self._writer.get_extra_info("sockname")[0]).split("%", 1)[0]

    @property
    def family(self) -> socket.AddressFamily:
        """AF_INET or AF_INET6."""
        sock: socket.socket = self._writer.get_extra_info("socket")
        return socket.AddressFamily(sock.family)

    @property
    def tls_active(self) -> bool:
        """True once the connection is encrypted."""
        return self._writer.get_extra_info("ssl_object") is not None

    @property
    def tls_session(self) -> ssl.SSLSession | None:
        """The control connection's TLS session, for resumption on data connections."""
        ssl_object: ssl.SSLObject | None = self._writer.get_extra_info("ssl_object")
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
            self._writer.close()

    def write_line(self, line: str) -> None:
        """Queue one command line without waiting (keep-alive NOOPs use this)."""
        self._check()
        if "\r" in line or "\n" in line:
            raise ValueError("a command must not contain CR or LF")
        log.debug("-> %s", mask_command(line))
        self._writer.write(line.encode(self.encoding, "surrogateescape") + b"\r\n")

    async def send(self, line: str) -> None:
        """Send one command line."""
        self.write_line(line)
        try:
            async with asyncio.timeout(self.timeout):
                await self._writer.drain()
        except TimeoutError as exc:
            self._break("sending timed out")
            raise FTPTimeout(
                f"could not send {mask_command(line)!r} within {self.timeout}s"
            ) from exc
        except OSError as exc:
            self._break(str(exc))
            raise ConnectionLost(f"control connection lost: {exc}") from exc

    async def read_reply(self, timeout: float | None = None) -> Reply:
        """Read one complete reply."""
        self._check()
        limit = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                for _ in range(MAX_REPLY_LINES):
                    raw = await self._reader.readuntil(b"\n")
                    line = raw.rstrip(b"\r\n").decode(self.encoding, "surrogateescape")
                    reply = self._parser.feed_line(line)
                    if reply is not None:
                        log.debug("<- %d %s", reply.code, " | ".join(reply.lines))
                        if reply.code == 421:  # the server closes after this reply
                            self._break(f"the server closed it: 421 {reply.text}")
                        return reply
        except TimeoutError as exc:
            self._break("a reply timed out")
            raise FTPTimeout(f"no reply within {limit}s") from exc
        except asyncio.IncompleteReadError as exc:
            self._break("closed by the server")
            raise ConnectionLost("the server closed the control connection") from exc
        except asyncio.LimitOverrunError as exc:
            self._break("reply line too long")
            raise ProtocolError("a reply line is longer than 1 MiB") from exc
        except ValueError as exc:
            self._break("malformed reply")
            raise ProtocolError(str(exc)) from exc
        except OSError as exc:
            self._break(str(exc))
            raise ConnectionLost(f"control connection lost: {exc}") from exc
        self._break("endless reply")
        raise ProtocolError(f"a reply with more than {MAX_REPLY_LINES} lines")

    async def command(self, line: str) -> Reply:
        """Send a command and read its first reply."""
        await self.send(line)
        return await self.read_reply()

    # -- TLS and closing ----------------------------------------------------------------

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Upgrade to TLS in place (after ``234`` to AUTH TLS)."""
        self._check()
        try:
            await self._writer.start_tls(
                context, server_hostname=server_hostname, ssl_handshake_timeout=self.timeout
            )
        except (ssl.SSLError, ConnectionError, TimeoutError) as exc:
            self._break("TLS handshake failed")
            raise TLSError(f"TLS handshake on the control connection failed: {exc}") from exc

    async def close(self) -> None:
        """Close without saying goodbye (QUIT is the caller's business)."""
        self._broken = self._broken or "closed"
        self._writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await self._writer.wait_closed()
