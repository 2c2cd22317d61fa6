"""Blocking sockets for the doctor: a recorded control dialogue and bounded connects.

Why blocking, when the client library is asyncio: the doctor does one
thing at a time and must see each step on its own (the reply to PASV, the
connect, the reply to LIST, the TLS handshake), never a retry or a
fallback.  Plain sockets with a time-out on every call say exactly that,
in order, and cannot hang: each read or connect is given what is left of
its step's :class:`Deadline`.

Replies are parsed by the client's sans-IO
:class:`~ftpferry.client.replies.ReplyParser`; every line sent and
received is recorded (``PASS`` masked) so ``-v`` and ``--json`` can show
the whole dialogue.
"""

from __future__ import annotations

import errno
import select
import socket
import ssl
import time
from collections.abc import Callable

from ftpferry.client.errors import ConnectionLost, FTPTimeout, ProtocolError, mask_command
from ftpferry.client.replies import Reply, ReplyParser

from .observations import ConnectInfo, ConnectOutcome

__all__ = ["Deadline", "Dialogue", "LineSink", "connect", "describe_os_error"]

LineSink = Callable[[str], None]
"""Receives each recorded line: ``-> USER alice``, ``<- 331 ...``, ``** note``."""

MAX_REPLY_BYTES = 1 << 20
UNREACHABLE = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN})


class Deadline:
    """A point in time; :meth:`left` is what a step still may spend."""

    __slots__ = ("_end", "seconds", "started")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self._end = self.started + seconds

    def left(self) -> float:
        """Seconds left; raises :class:`FTPTimeout` once none are."""
        remaining = self._end - time.monotonic()
        if remaining <= 0:
            raise FTPTimeout(f"no answer within {self.seconds:g}s")
        return remaining

    def elapsed(self) -> float:
        """Seconds since the deadline was set."""
        return time.monotonic() - self.started


def describe_os_error(error: BaseException) -> str:
    """A short text for a socket error (``timed out``, ``Connection refused``)."""
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def classify(error: BaseException) -> ConnectOutcome:
    """The kind of a failed connect: the distinction the findings rest on."""
    if isinstance(error, socket.gaierror):
        return "unresolved"
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, OSError) and error.errno in UNREACHABLE:
        return "unreachable"
    return "error"


def connect(
    host: str, port: int, timeout: float, record: LineSink | None = None
) -> tuple[socket.socket | None, ConnectInfo]:
    """Connect once (no retries on other addresses' behalf) within ``timeout``."""
    started = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        seconds = time.monotonic() - started
        info = ConnectInfo(
            host=host,
            port=port,
            outcome=classify(exc),
            seconds=seconds,
            error=describe_os_error(exc),
        )
        if record is not None:
            record(f"** connect {host} port {port}: {info.error} after {seconds:.2f}s")
        return None, info
    seconds = time.monotonic() - started
    if record is not None:
        record(f"** connect {host} port {port}: connected in {seconds:.2f}s")
    return sock, ConnectInfo(host=host, port=port, outcome="ok", seconds=seconds)


class Dialogue:
    """One control connection: commands out, replies in, every line recorded.

    After a time-out or a broken connection the replies can no longer be
    matched to commands, so the dialogue is marked :attr:`broken` and the
    prober opens a new one for the next step.
    """

    __slots__ = ("_buffer", "_parser", "broken", "encoding", "record", "sock", "timeout")

    def __init__(
        self, sock: socket.socket, *, timeout: float, record: LineSink, encoding: str = "utf-8"
    ) -> None:
        self.sock: socket.socket = sock
        self.timeout = timeout
        self.record = record
        self.encoding = encoding
        self.broken = False
        self._buffer = b""
        self._parser = ReplyParser()

    # -- addresses ---------------------------------------------------------------------

    @property
    def peer_host(self) -> str:
        """The server's IP address."""
        return str(self.sock.getpeername()[0]).split("%", 1)[0]

    @property
    def local_host(self) -> str:
        """Our own IP address on this connection."""
        return str(self.sock.getsockname()[0]).split("%", 1)[0]

    @property
    def family(self) -> socket.AddressFamily:
        """AF_INET or AF_INET6."""
        return socket.AddressFamily(self.sock.family)

    @property
    def tls_session(self) -> ssl.SSLSession | None:
        """The control connection's TLS session, for data connections to resume."""
        return self.sock.session if isinstance(self.sock, ssl.SSLSocket) else None

    # -- lines and replies --------------------------------------------------------------

    def send(self, line: str) -> None:
        """Send one command line."""
        self.record(f"-> {mask_command(line)}")
        try:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(line.encode(self.encoding, "surrogateescape") + b"\r\n")
        except OSError as exc:
            self.broken = True
            raise ConnectionLost(f"control connection lost: {describe_os_error(exc)}") from exc

    def has_buffered_reply_data(self) -> bool:
        """True when bytes of a reply are already here (select would not see them)."""
        pending = self.sock.pending() if isinstance(self.sock, ssl.SSLSocket) else 0
        return bool(self._buffer) or pending > 0

    def read_reply(self, timeout: float | None = None) -> Reply:
        """Read one complete reply within ``timeout`` (default: the dialogue's)."""
        deadline = Deadline(self.timeout if timeout is None else timeout)
        try:
            while True:
                newline = self._buffer.find(b"\n")
                if newline < 0:
                    if len(self._buffer) > MAX_REPLY_BYTES:
                        raise ProtocolError("a reply line longer than 1 MiB")
                    self.sock.settimeout(deadline.left())
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise ConnectionLost("the server closed the control connection")
                    self._buffer += chunk
                    continue
                raw, self._buffer = self._buffer[:newline], self._buffer[newline + 1 :]
                line = raw.rstrip(b"\r").decode(self.encoding, "surrogateescape")
                reply = self._parser.feed_line(line)
                if reply is not None:
                    self.record(f"<- {reply.code} {' | '.join(reply.lines)}")
                    if reply.code == 421:
                        self.broken = True
                    return reply
        except TimeoutError as exc:  # FTPTimeout (from Deadline.left) included
            self.broken = True
            self.record(f"** no reply within {deadline.seconds:.1f}s")
            raise FTPTimeout(f"no reply within {deadline.seconds:.1f}s") from exc
        except ValueError as exc:
            self.broken = True
            raise ProtocolError(str(exc)) from exc
        except OSError as exc:
            self.broken = True
            raise ConnectionLost(f"control connection lost: {describe_os_error(exc)}") from exc
        except (ConnectionLost, ProtocolError):
            self.broken = True
            raise

    def command(self, line: str, timeout: float | None = None) -> Reply:
        """Send a command and read its reply."""
        self.send(line)
        return self.read_reply(timeout)

    def wait_readable(self, others: list[socket.socket], timeout: float) -> list[socket.socket]:
        """Wait until the control connection or one of ``others`` is readable."""
        if self.has_buffered_reply_data():
            return [self.sock]
        readable, _, _ = select.select([self.sock, *others], [], [], timeout)
        return list(readable)

    # -- TLS and closing ----------------------------------------------------------------

    def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> ssl.SSLSocket:
        """Upgrade in place (after ``234``); the caller classifies failures."""
        self.sock.settimeout(self.timeout)
        try:
            wrapped = context.wrap_socket(self.sock, server_hostname=server_hostname)
        except BaseException:
            self.broken = True
            raise
        self.sock = wrapped
        return wrapped

    def close(self, *, quit_first: bool = True) -> None:
        """QUIT (briefly, when still in step) and close."""
        if quit_first and not self.broken:
            try:
                self.send("QUIT")
                self.read_reply(min(self.timeout, 2.0))
            except (ConnectionLost, FTPTimeout, ProtocolError):
                pass
        self.broken = True
        try:
            self.sock.close()
        except OSError:
            pass
