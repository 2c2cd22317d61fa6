"""Opening data connections: the passive listener pool and the active connector.

Passive (PASV/EPSV)
    :class:`PassivePortPool` hands out ports from the configured range only,
    never outside it, and counts what is in use so STAT and the log can show
    it.  Each session holds at most one :class:`PassiveListener`; it accepts
    the first connection *from the control connection's peer address* (a
    connection from anyone else is closed and logged: anti port-theft) and
    is closed when that connection arrives, when the session asks again, or
    when the data time-out passes.

Active (PORT/EPRT)
    :func:`connect_active` connects out to the address the client named,
    from the control port minus one (port 20 for a server on 21) when the
    process may bind it, otherwise from an ephemeral port, and within a
    bounded time.

Both produce a plain non-blocking socket, which :mod:`.transfer` moves bytes
over with ``sendfile``/``splice`` so file contents do not pass through Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import random
import socket
from dataclasses import dataclass

from ftpferry.netio import connect_socket
from ftpferry.protocol import HostPort

from .config import PortRange

__all__ = [
    "ActiveTarget",
    "DataConnectError",
    "PassiveListener",
    "PassivePortPool",
    "connect_active",
    "peer_ip",
]

log = logging.getLogger("ftpferry.data")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DataConnectError(Exception):
    """The data connection could not be made; the message is for the 425 reply."""


def peer_ip(address: str) -> IPAddress:
    """An IP address, unwrapping IPv4-mapped IPv6 (``::ffff:1.2.3.4``)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class PassivePortPool:
    """The passive range of one server: which ports are handed out right now."""

    __slots__ = ("_in_use", "range")

    def __init__(self, port_range: PortRange) -> None:
        self.range = port_range
        self._in_use: set[int] = set()

    @property
    def in_use(self) -> int:
        """How many ports of the range hold a pending listener."""
        return len(self._in_use)

    def usage(self) -> str:
        """``in use/size (range)`` for STAT and the log."""
        return f"{self.in_use}/{len(self.range)} passive ports in use ({self.range})"

    def bind(self, host: str, family: socket.AddressFamily) -> tuple[socket.socket, int]:
        """Bind a listening socket to a free port of the range on ``host``.

        Starts at a random port so that consecutive sessions do not collide
        and ports are not predictable.  Raises :class:`DataConnectError` naming
        the range when every port is taken; never binds outside it.
        """
        low, size = self.range.low, len(self.range)
        start = random.randrange(size)
        for step in range(size):
            port = low + (start + step) % size
            if port in self._in_use:
                continue
            # SOCK_NONBLOCK at creation saves the ioctl setblocking(False) costs.
            sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
                sock.listen(1)
            except OSError:
                sock.close()
                continue
            self._in_use.add(port)
            in_use, size = len(self._in_use), len(self.range)
            if in_use * 5 >= size * 4:  # 80 % or more: worth knowing before it runs out
                log.warning("passive range nearly full: %s", self.usage())
            else:
                log.debug("passive port %d: %s", port, self.usage())
            return sock, port
        log.error("passive port range %s exhausted: %s", self.range, self.usage())
        raise DataConnectError(f"No free passive port in range {self.range}")

    def release(self, port: int) -> None:
        """Give a port back to the range."""
        self._in_use.discard(port)


class PassiveListener:
    """One pending passive listener, accepting only from the expected peer.

    It is driven by a reader callback on the listening socket, not by a
    task: most clients connect right after the 227/229 reply, before they
    send RETR or LIST, so by the time the transfer command is handled the
    connection is usually waiting in a completed future and no timer or
    task is created at all.  Nobody connecting within ``timeout`` closes the
    listener and gives the port back.
    """

    __slots__ = (
        "_claimed",
        "_error",
        "_expiry",
        "_future",
        "_loop",
        "_pool",
        "_sock",
        "command",
        "expected_peer",
        "port",
    )

    def __init__(
        self,
        pool: PassivePortPool,
        sock: socket.socket,
        port: int,
        *,
        expected_peer: IPAddress | None,
        command: str,
        timeout: float,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._pool = pool
        self._sock: socket.socket | None = sock
        self.port = port
        self.expected_peer = expected_peer
        self.command = command  # PASV or EPSV, for the transfer log
        self._claimed = False
        self._error: OSError | None = None
        self._loop = loop
        self._future: asyncio.Future[socket.socket | None] = self._loop.create_future()
        self._loop.add_reader(sock.fileno(), self._on_readable)
        self._expiry: asyncio.TimerHandle | None = self._loop.call_later(
            timeout, self._finish, None
        )

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            conn, address = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._error = exc
            self._finish(None)
            return
        if self.expected_peer is not None and peer_ip(address[0]) != self.expected_peer:
            log.warning(
                "refused data connection from %s on passive port %d: expected %s (port theft?)",
                address[0],
                self.port,
                self.expected_peer,
            )
            conn.close()
            return
        conn.setblocking(False)
        self._finish(conn)

    def _finish(self, conn: socket.socket | None) -> None:
        """Stop listening; hand ``conn`` (None: timed out or failed) to the waiter."""
        self._close_listener()
        if self._future.done():
            if conn is not None:
                conn.close()
            return
        self._future.set_result(conn)

    async def wait(self, timeout: float) -> socket.socket:
        """The accepted data socket, or :class:`DataConnectError` after ``timeout``."""
        try:
            if self._future.done():
                conn = self._future.result()
            else:
                conn = await asyncio.wait_for(asyncio.shield(self._future), timeout)
        except TimeoutError:
            conn = None
        except BaseException:
            self.close()
            raise
        if conn is None:
            self.close()
            if self._error is not None:
                raise DataConnectError(f"Passive data connection failed: {self._error.strerror}")
            raise DataConnectError(f"No data connection arrived on port {self.port} in time")
        self._claimed = True
        self.close()
        return conn

    def _close_listener(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self._sock is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
            self._pool.release(self.port)

    def close(self) -> None:
        """Stop listening and give the port back; close an unclaimed connection."""
        self._close_listener()
        future = self._future
        if not future.done():
            future.set_result(None)
        elif not self._claimed:
            conn = future.result()
            if conn is not None:
                conn.close()
            self._claimed = True


@dataclass(frozen=True, slots=True)
class ActiveTarget:
    """Where the client asked the server to connect (PORT/EPRT)."""

    address: HostPort
    command: str  # PORT or EPRT, for the transfer log


async def connect_active(
    target: HostPort,
    *,
    local_host: str,
    source_port: int | None,
    timeout: float,
    source_port_required: bool = False,
) -> socket.socket:
    """Connect to the client's data port; return a non-blocking socket.

    ``source_port`` is the control port minus one (RFC 959's L-1), tried first
    and replaced by an ephemeral port, with a log line, when the process may
    not bind it (unprivileged, or in use) -- unless ``source_port_required``,
    for firewalls that admit only port 20: then binding failure is a 425.
    """
    family = socket.AF_INET if target.host.version == 4 else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    bound = False
    if source_port is not None and source_port > 0:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((local_host, source_port))
            bound = True
        except OSError as exc:
            if source_port_required:
                sock.close()
                raise DataConnectError(
                    f"Cannot bind active-mode source port {source_port}: {exc.strerror}"
                ) from exc
            log.info(
                "active mode: cannot bind source port %d (%s); using an ephemeral port",
                source_port,
                exc.strerror,
            )
            sock.close()
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
    if not bound:
        with contextlib.suppress(OSError):
            sock.bind((local_host, 0))
    try:
        await connect_socket(sock, str(target.host), target.port, timeout)
    except TimeoutError:
        sock.close()
        raise DataConnectError(
            f"Connecting to {target.host} port {target.port} timed out after {timeout:g}s"
        ) from None
    except OSError as exc:
        sock.close()
        if bound and exc.errno == errno.EADDRNOTAVAIL and not source_port_required:
            # The same 4-tuple is still in TIME_WAIT: try again from an ephemeral port.
            return await connect_active(
                target, local_host=local_host, source_port=None, timeout=timeout
            )
        reason = exc.strerror or str(exc)
        raise DataConnectError(
            f"Cannot connect to {target.host} port {target.port}: {reason}"
        ) from exc
    except BaseException:
        sock.close()
        raise
    return sock
