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
        ports = list(range(self.range.low, self.range.high + 1))
        start = random.randrange(len(ports))
        for port in ports[start:] + ports[:start]:
            if port in self._in_use:
                continue
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
                sock.listen(1)
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            self._in_use.add(port)
            return sock, port
        log.error("passive port range %s exhausted: %s", self.range, self.usage())
        raise DataConnectError(f"No free passive port in range {self.range}")

    def release(self, port: int) -> None:
        """Give a port back to the range."""
        self._in_use.discard(port)


class PassiveListener:
    """One pending passive listener, accepting only from the expected peer."""

    __slots__ = ("_accept_task", "_claimed", "_pool", "_sock", "command", "expected_peer", "port")

    def __init__(
        self,
        pool: PassivePortPool,
        sock: socket.socket,
        port: int,
        *,
        expected_peer: IPAddress | None,
        command: str,
        timeout: float,
    ) -> None:
        self._pool = pool
        self._sock: socket.socket | None = sock
        self.port = port
        self.expected_peer = expected_peer
        self.command = command  # PASV or EPSV, for the transfer log
        self._claimed = False
        self._accept_task: asyncio.Task[socket.socket] = asyncio.get_running_loop().create_task(
            self._accept(timeout)
        )

    async def _accept(self, timeout: float) -> socket.socket:
        """Accept the expected peer; give the port back if nobody comes in time."""
        try:
            async with asyncio.timeout(timeout):
                return await self._accept_expected_peer()
        finally:
            self._close_listener()

    async def _accept_expected_peer(self) -> socket.socket:
        loop = asyncio.get_running_loop()
        assert self._sock is not None
        while True:
            conn, address = await loop.sock_accept(self._sock)
            if self.expected_peer is None or peer_ip(address[0]) == self.expected_peer:
                conn.setblocking(False)
                return conn
            log.warning(
                "refused data connection from %s on passive port %d: expected %s (port theft?)",
                address[0],
                self.port,
                self.expected_peer,
            )
            conn.close()

    async def wait(self, timeout: float) -> socket.socket:
        """The accepted data socket, or :class:`DataConnectError` after ``timeout``."""
        try:
            conn = await asyncio.wait_for(asyncio.shield(self._accept_task), timeout)
        except TimeoutError:
            self.close()
            raise DataConnectError(
                f"No data connection arrived on port {self.port} within {timeout:g}s"
            ) from None
        except OSError as exc:
            self.close()
            raise DataConnectError(f"Passive data connection failed: {exc.strerror}") from exc
        except BaseException:
            self.close()
            raise
        self._claimed = True
        self.close()
        return conn

    def _close_listener(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._pool.release(self.port)

    def close(self) -> None:
        """Stop listening and give the port back; close an unclaimed connection."""
        task = self._accept_task
        if task.done():
            if not task.cancelled() and task.exception() is None and not self._claimed:
                task.result().close()
                self._claimed = True
        else:
            task.cancel()
        self._close_listener()


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
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (str(target.host), target.port)), timeout)
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
