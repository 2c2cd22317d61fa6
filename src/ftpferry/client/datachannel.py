"""Opening data connections: passive (EPSV/PASV), active (EPRT/PORT), auto.

Theory of operation
-------------------
Every transfer command (RETR, STOR, APPE, LIST, MLSD) goes through
:meth:`DataChannelOpener.open`, which returns a connected
:class:`DataConnection` and the server's preliminary ``150``/``125`` reply.

* **Passive**: EPSV, and PASV when EPSV is refused with a 5xx (remembered
  for the rest of the session).  The client connects to the port named,
  at the control connection's address for EPSV, and for PASV at the
  address named unless :func:`.modes.pasv_connect_host` distrusts it.
  The connection is made *before* the transfer command is sent.
* **Active**: the client listens (on a port of ``active_ports`` if set),
  sends EPRT, or PORT when EPRT is refused, then the transfer command, and
  accepts the server's connection after the preliminary reply.  Only a
  connection from the server's own address is accepted.
* **Auto**: the remembered mode for this server, else passive; when the
  data connection cannot be made (connect refused or timed out, 425, or
  the mode's commands refused) the same steps are retried in the other
  mode, and the mode that worked is remembered process-wide.

* **Block mode** (``block_mode``): ``MODE B`` before the first transfer;
  when the server takes it, a data connection that carried a transfer to
  its end-of-file block and got ``250`` (not ``226``, "closing") is kept
  and the next transfer command is sent alone, answered with ``125``.  A
  kept connection the server has closed (or would answer ``425`` for) is
  dropped and a new one opened as above.  Block mode is *unproven* until
  a download or listing arrived properly framed (or an upload's SIZE
  matched, see ``AsyncFTPClient``): a server that says yes to MODE B and
  sends stream data anyway is caught there, and the connection goes back
  to stream mode (``MODE S``) before anything is kept.

``REST`` is sent right before the transfer command, so a retry in the
other mode repeats it.  With PROT P the TLS handshake on the data
connection happens after the preliminary reply, resuming the control
connection's TLS session.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass
from typing import BinaryIO, Final

from ftpferry.netio import (
    connect_socket,
    nothing_to_read,
    sendfile_range,
    tls_handshake,
    tls_recv_into,
    tls_sendall,
    tls_unwrap,
)
from ftpferry.protocol.addresses import (
    AddressSyntaxError,
    HostPort,
    format_eprt,
    format_port,
    parse_epsv_reply,
    parse_pasv_reply,
)

from .config import ClientConfig
from .control import ControlConnection
from .errors import (
    ConnectionLost,
    DataConnectionError,
    FTPTimeout,
    ReplyError,
    TLSError,
    UnsupportedCommand,
)
from .modes import (
    ConcreteMode,
    pasv_connect_host,
    pipelining_refused,
    refuse_pipelining,
    remember_mode,
    remembered_mode,
)
from .replies import Reply

__all__ = [
    "BlockFramingBroken",
    "BlockModeUnsupported",
    "DataChannelOpener",
    "DataConnection",
    "DataConnectionBroken",
    "DataRoute",
]

log = logging.getLogger("ftpferry.client")

NOT_IMPLEMENTED: Final = frozenset({500, 501, 502, 504, 522})
"""Replies to EPSV/EPRT (and REST) that mean "not offered here", not "failed"."""
SENT_AHEAD_GRACE: Final = 0.5
"""Seconds to wait, after the connection to the passive port failed, for the
server's refusal of the command sent ahead with EPSV (see
:meth:`DataChannelOpener._refusal_sent_ahead`); longer than a round trip."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DataRoute:
    """How a data connection was made, for reports such as ``doctor``'s.

    Attributes:
        mode: ``passive`` or ``active``.
        command: ``EPSV``, ``PASV``, ``EPRT`` or ``PORT``.
        host: the address connected to (passive) or advertised (active).
        port: the port connected to (passive) or listened on (active).
        tls: True when the data connection is encrypted (PROT P).
        note: why the route differs from what the server announced, if it does.
    """

    mode: ConcreteMode
    command: str
    host: str
    port: int
    tls: bool = False
    note: str | None = None


def _ignore(_count: int) -> None:
    """The caller counts what ``sendfile`` returns; nothing to do per call."""


class DataConnectionBroken(Exception):
    """An open data connection failed mid-transfer (reset, TLS error ...).

    Internal: the client turns it into the server's verdict (usually a 426
    :class:`~.errors.TemporaryError`) or :class:`~.errors.ConnectionLost`.
    It is kept apart from OSError so that a *local* file error during a
    transfer is never blamed on the network.
    """

    def __init__(self, error: OSError) -> None:
        self.error = error
        super().__init__(error.strerror or str(error) or type(error).__name__)


class BlockFramingBroken(DataConnectionBroken):
    """A block-mode transfer's bytes were not blocks, or ended without the
    end-of-file block.  Before block mode has worked once on a connection
    this means a server that said yes to MODE B without doing it."""


class BlockModeUnsupported(DataConnectionError):
    """The server accepted MODE B but does not frame its data: the opener is
    back in stream mode, and the transfer can run again (nothing was kept)."""


class DataConnection:
    """One open data connection: a raw non-blocking socket, maybe wrapped in TLS.

    ``blocks`` says its bytes are framed in block mode (MODE B), so it ends
    each transfer with an end-of-file block instead of closing.
    """

    __slots__ = ("_sock", "_timeout", "_tls", "blocks", "route")

    def __init__(self, sock: socket.socket | None, route: DataRoute, *, timeout: float) -> None:
        self._sock = sock
        self._tls: ssl.SSLSocket | None = None
        self._timeout = timeout
        self.route = route
        self.blocks = False

    @property
    def reusable(self) -> bool:
        """Open, and nothing to read on it: a kept block-mode connection the
        server has not closed (end of file, or stray bytes, make it readable)."""
        sock = self._tls or self._sock
        return sock is not None and sock.fileno() >= 0 and nothing_to_read(sock)

    @property
    def zero_copy(self) -> bool:
        """True when ``sendfile``/``splice`` can move bytes without user space."""
        return self._sock is not None and self._tls is None

    @property
    def timeout(self) -> float:
        """Seconds without progress before the transfer fails."""
        return self._timeout

    @property
    def has_socket(self) -> bool:
        """False for a transfer the server finished without a data connection."""
        return self._sock is not None

    def fileno(self) -> int:
        """The plain socket's descriptor (only when :attr:`zero_copy`)."""
        assert self._sock is not None and self._tls is None
        return self._sock.fileno()

    async def start_tls(
        self, context: ssl.SSLContext, server_hostname: str, session: ssl.SSLSession | None
    ) -> None:
        """TLS handshake, resuming the control connection's session."""
        if self._sock is None:
            return
        try:
            async with asyncio.timeout(self._timeout):
                self._tls = await tls_handshake(
                    context,
                    self._sock,
                    server_side=False,
                    server_hostname=server_hostname,
                    session=session,
                )
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            raise TLSError(f"TLS handshake on the data connection failed: {exc}") from exc
        self.route = DataRoute(
            mode=self.route.mode,
            command=self.route.command,
            host=self.route.host,
            port=self.route.port,
            tls=True,
            note=self.route.note,
        )

    async def recv_into(self, buffer: bytearray) -> int:
        """Receive into ``buffer``; 0 at the end of the data."""
        sock = self._sock
        if sock is None:
            return 0
        if self._tls is None:
            # Bytes are usually waiting already (always, for a small file):
            # take them without setting up a wait and its time limit.
            try:
                return sock.recv_into(buffer)
            except BlockingIOError:
                pass
            except OSError as exc:
                raise DataConnectionBroken(exc) from exc
        try:
            async with asyncio.timeout(self._timeout):
                if self._tls is not None:
                    return await tls_recv_into(self._tls, buffer)
                return await asyncio.get_running_loop().sock_recv_into(sock, buffer)
        except TimeoutError as exc:
            raise FTPTimeout(f"no data for {self._timeout}s") from exc
        except OSError as exc:
            raise DataConnectionBroken(exc) from exc

    async def sendall(self, data: bytes | memoryview) -> None:
        """Send all of ``data``."""
        assert self._sock is not None
        try:
            async with asyncio.timeout(self._timeout):
                if self._tls is not None:
                    await tls_sendall(self._tls, data)
                else:
                    await asyncio.get_running_loop().sock_sendall(self._sock, data)
        except TimeoutError as exc:
            raise FTPTimeout(f"the server took no data for {self._timeout}s") from exc
        except OSError as exc:
            raise DataConnectionBroken(exc) from exc

    async def sendfile(self, file: BinaryIO, offset: int, count: int) -> int:
        """Send up to ``count`` bytes of ``file`` from ``offset``; 0 at its end."""
        assert self._sock is not None and self._tls is None
        try:
            async with asyncio.timeout(self._timeout):
                return await sendfile_range(
                    self._sock.fileno(), file.fileno(), offset, count, _ignore, yield_every=16
                )
        except TimeoutError as exc:
            raise FTPTimeout(f"the server took no data for {self._timeout}s") from exc
        except OSError as exc:
            raise DataConnectionBroken(exc) from exc

    async def finish(self) -> None:
        """Orderly end: close_notify for TLS, then FIN, so the server sees a complete file.

        A block-mode connection stays open: its end-of-file block said it
        all, and the opener may keep it for the next transfer.
        """
        if self.blocks:
            return
        if self._tls is not None:
            await tls_unwrap(self._tls)
        self.close()

    def close(self) -> None:
        """Close at once (also after errors)."""
        if self._tls is not None:
            self._tls.close()
        if self._sock is not None:
            self._sock.close()


class DataChannelOpener:
    """Opens data connections for one control connection (see the module docstring)."""

    __slots__ = (
        "_blocks",
        "_blocks_proven",
        "_control",
        "_eprt_refused",
        "_epsv_refused",
        "_kept",
        "_mode_reset",
        "_pipeline_ready",
        "_server_key",
        "_ssl_context",
        "config",
        "server_hostname",
    )

    def __init__(
        self,
        control: ControlConnection,
        config: ClientConfig,
        *,
        server_key: tuple[str, int],
        server_hostname: str,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``ssl_context`` set means PROT P: data connections are wrapped in TLS."""
        self._control = control
        self._ssl_context = ssl_context
        self.config = config
        self._server_key = server_key
        self.server_hostname = server_hostname
        self._epsv_refused = not config.use_epsv
        self._eprt_refused = not config.use_eprt
        self._pipeline_ready = False
        self._blocks: bool | None = None if config.block_mode else False
        self._blocks_proven = False
        self._mode_reset = False
        self._kept: DataConnection | None = None

    def _modes(self) -> list[ConcreteMode]:
        if self.config.mode == "passive":
            return ["passive"]
        if self.config.mode == "active":
            return ["active"]
        remembered = remembered_mode(*self._server_key) if self.config.remember_mode else None
        return ["active", "passive"] if remembered == "active" else ["passive", "active"]

    async def open(self, command: str, *, rest: int = 0) -> tuple[DataConnection, Reply]:
        """Open the data connection for ``command``; returns it and the 1xx (or 2xx) reply."""
        if self._blocks is None:
            await self._ask_block_mode()
        elif self._mode_reset:
            self._mode_reset = False
            await self._control.command("MODE S")  # whatever it says: stream is what it sends
        if self._kept is not None:
            reused = await self._reuse(command, rest)
            if reused is not None:
                return reused
        connection, reply = await self._open_new(command, rest)
        connection.blocks = bool(self._blocks) and connection.has_socket
        return connection, reply

    async def _ask_block_mode(self) -> None:
        reply = await self._control.command("MODE B")
        self._blocks = reply.code == 200
        if not self._blocks:
            log.info("MODE B refused (%d %s): stream mode", reply.code, reply.text)

    async def _reuse(self, command: str, rest: int) -> tuple[DataConnection, Reply] | None:
        """Send ``command`` over the kept block-mode connection; None when it is gone."""
        connection, self._kept = self._kept, None
        assert connection is not None
        if not connection.reusable:
            connection.close()
            return None
        try:
            reply = await self._start_command(command, rest, connection.route)
        except DataConnectionError:  # 425: the server has no connection for us any more
            connection.close()
            return None
        except (ReplyError, UnsupportedCommand):
            self._kept = connection  # refused before any data: the connection is as it was
            raise
        except BaseException:
            connection.close()
            raise
        if reply.category == 2:  # done without data: the connection stays as it was
            self._kept = connection
            return DataConnection(None, connection.route, timeout=self.config.data_timeout), reply
        return connection, reply

    def keep(self, connection: DataConnection, final: Reply, *, proven: bool) -> None:
        """After a block-mode transfer: keep its connection for the next one, unless
        the server said it closes it (``226``) or it is not a block-mode one.

        ``proven``: the transfer came in well-framed blocks (a download or
        listing), so block mode is known to work here.
        """
        if proven and final.category == 2:
            self._blocks_proven = True
        if connection.blocks and final.code == 250 and self._kept is None:
            self._kept = connection
        else:
            connection.close()

    @property
    def blocks_unproven(self) -> bool:
        """In block mode, and no transfer has shown yet that the server frames its data."""
        return bool(self._blocks) and not self._blocks_proven

    def prove_blocks(self) -> None:
        """An upload's size came out right: block mode works here."""
        self._blocks_proven = True

    def avoid_unproven_blocks(self) -> None:
        """The next transfer could not show whether block mode works (an ASCII
        or unseekable upload): use stream mode unless block mode is proven."""
        if self._blocks is None:
            self._blocks = False  # never asked: do not ask
        elif self.blocks_unproven:
            self.abandon_block_mode()

    def abandon_block_mode(self) -> None:
        """Stream mode from now on (``MODE S`` goes out before the next transfer):
        the server took MODE B without doing it, or it cannot be checked."""
        self._blocks = False
        self._mode_reset = True
        self.close()

    def transfer_mode_set(self, blocks: bool) -> None:
        """MODE S or B was sent by hand (``quote``): the server closed any kept
        data connection, and the next transfers are framed as it now expects."""
        self._blocks = blocks
        self._mode_reset = False
        self.close()

    def close(self) -> None:
        """Close a kept data connection (the control connection is closing)."""
        if self._kept is not None:
            self._kept.close()
            self._kept = None

    async def _open_new(self, command: str, rest: int) -> tuple[DataConnection, Reply]:
        modes = self._modes()
        failures: list[DataConnectionError] = []
        for index, mode in enumerate(modes):
            try:
                if mode == "passive":
                    connection, reply = await self._open_passive(command, rest)
                else:
                    connection, reply = await self._open_active(command, rest)
            except DataConnectionError as exc:
                failures.append(exc)
                if index + 1 < len(modes):
                    log.warning(
                        "%s:%d %s: %s mode failed: %s; retrying in %s mode",
                        *self._server_key,
                        command.split(" ", 1)[0],
                        mode,
                        exc,
                        modes[index + 1],
                    )
                    continue
                for earlier in failures[:-1]:
                    exc.add_note(f"before that: {earlier}")
                raise
            if self.config.mode == "auto" and self.config.remember_mode:
                previous = remember_mode(*self._server_key, mode)
                if previous != mode and failures:
                    log.warning(
                        "%s:%d: using %s mode from now on (%s)",
                        *self._server_key,
                        mode,
                        failures[-1],
                    )
            if self._ssl_context is not None:
                try:
                    await connection.start_tls(
                        self._ssl_context, self.server_hostname, self._control.tls_session
                    )
                except TLSError:
                    connection.close()
                    await self.drain_after_failure()
                    raise
            return connection, reply
        raise AssertionError("unreachable: at least one mode is always tried")

    # -- passive ------------------------------------------------------------------------

    async def _passive_address(self) -> tuple[str, str, int, str | None]:
        """EPSV or PASV: ``(command, host, port, note)``."""
        control = self._control
        peer = control.peer_host
        if not self._epsv_refused:
            reply = await control.command("EPSV")
            if reply.code == 229:
                try:
                    return "EPSV", peer, parse_epsv_reply(reply.text), None
                except AddressSyntaxError as exc:
                    raise DataConnectionError(
                        f"unparseable EPSV reply: {exc}", mode="EPSV", reply=reply
                    ) from exc
            if reply.code not in NOT_IMPLEMENTED or control.family == socket.AF_INET6:
                raise DataConnectionError("EPSV failed", mode="EPSV", reply=reply)
            log.info("EPSV refused (%d %s); using PASV from now on", reply.code, reply.text)
            self._epsv_refused = True
        if control.family == socket.AF_INET6:
            raise DataConnectionError("PASV cannot work over IPv6 and EPSV is off", mode="PASV")
        reply = await control.command("PASV")
        if reply.code != 227:
            raise DataConnectionError("PASV failed", mode="PASV", reply=reply)
        try:
            named = parse_pasv_reply(reply.text)
        except AddressSyntaxError as exc:
            raise DataConnectionError(
                f"unparseable PASV reply: {exc}", mode="PASV", reply=reply
            ) from exc
        host, note = pasv_connect_host(str(named.host), peer, trust=self.config.trust_pasv_address)
        if note is not None:
            log.info("%s", note)
        return "PASV", host, named.port, note

    async def _open_passive(self, command: str, rest: int) -> tuple[DataConnection, Reply]:
        if self._pipeline_ready and not rest:
            return await self._open_passive_pipelined(command)
        mode, host, port, note = await self._passive_address()
        sock = await self._connect_passive(mode, host, port)
        route = DataRoute(mode="passive", command=mode, host=host, port=port, note=note)
        connection = DataConnection(sock, route, timeout=self.config.data_timeout)
        try:
            reply = await self._start_command(command, rest, route)
        except BaseException:
            connection.close()
            raise
        if mode == "EPSV" and self.config.pipeline:
            self._pipeline_ready = not pipelining_refused(*self._server_key)
        return connection, reply

    async def _open_passive_pipelined(self, command: str) -> tuple[DataConnection, Reply]:
        """EPSV and the transfer command in one write, once EPSV has worked here.

        The server answers EPSV, then waits for the data connection before it
        starts the command, so the client connects in between; that saves a
        round trip, and a system call on both sides, per file.  A refused
        EPSV (the range is full, say) is followed by the command's own
        refusal, which is read and dropped before trying again in lockstep.
        """
        control = self._control
        control.write_lines(("EPSV", command))
        try:
            reply = await control.read_reply()
        except (ConnectionLost, FTPTimeout):
            self._refuse_pipelining()
            raise
        port: int | None = None
        if reply.code == 229:
            with contextlib.suppress(AddressSyntaxError):
                port = parse_epsv_reply(reply.text)
        if port is None:
            self._pipeline_ready = False
            log.info("EPSV sent ahead: %d %s; one command at a time", reply.code, reply.text)
            await self._discard_reply_to(command)
            return await self._open_passive(command, 0)
        host = control.peer_host
        try:
            sock = await self._connect_passive("EPSV", host, port)
        except DataConnectionError as exc:
            self._pipeline_ready = False
            refusal = await self._refusal_sent_ahead(command)
            if refusal is not None:
                raise refusal from exc
            # The server now waits for this connection to run the command;
            # its answer would come only after its own time-out.
            control.abandon("a command sent ahead waits for a data connection that failed")
            raise
        route = DataRoute(mode="passive", command="EPSV", host=host, port=port)
        connection = DataConnection(sock, route, timeout=self.config.data_timeout)
        try:
            reply = await self._await_start(command, route)
        except (ConnectionLost, FTPTimeout):
            connection.close()
            self._refuse_pipelining()
            raise
        except BaseException:
            connection.close()
            raise
        return connection, reply

    async def _refusal_sent_ahead(self, command: str) -> ReplyError | None:
        """The refusal of ``command`` when that, not the network, failed the
        connection to the passive port.

        A server that refuses the command sent ahead (ProFTPD: ``451
        Append/Restart not permitted`` for APPE) answers it at once and
        closes the port it had just opened, so connecting there fails.
        Taken for a data-channel failure, that sent ``auto`` mode into
        active mode, with the command refused all over again.  The answer
        is on its way by the time the connection attempt has failed (one
        round trip); a server still silent after :data:`SENT_AHEAD_GRACE`
        seconds is waiting for the data connection, which did fail.
        """
        try:
            reply = await self._control.read_reply(timeout=SENT_AHEAD_GRACE)
        except (FTPTimeout, ConnectionLost):
            return None
        if reply.category not in {4, 5} or reply.code == 425:
            return None
        return ReplyError.from_reply(reply, expected=(125, 150), command=command)

    def _refuse_pipelining(self) -> None:
        """The connection broke or went silent right after commands sent ahead:
        maybe the server or a strict firewall does not take them."""
        self._pipeline_ready = False
        refuse_pipelining(*self._server_key)
        log.warning(
            "%s:%d: the connection failed after commands sent ahead; "
            "sending one at a time to this server from now on",
            *self._server_key,
        )

    async def _discard_reply_to(self, command: str) -> None:
        """Read and drop the reply to ``command``, sent ahead of a refused EPSV."""
        reply = await self._control.read_reply()
        log.debug("dropped the reply to %s sent ahead: %d %s", command, reply.code, reply.text)
        if reply.category == 1:  # it started after all (an old PORT?): wait for its end
            await self.drain_after_failure()

    async def _connect_passive(self, mode: str, host: str, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        try:
            await connect_socket(sock, host, port, self.config.connect_timeout)
        except (OSError, TimeoutError) as exc:
            sock.close()
            os_error = (
                exc if isinstance(exc, OSError) and not isinstance(exc, TimeoutError) else None
            )
            reason = "refused or unreachable" if os_error else "timed out"
            raise DataConnectionError(
                f"cannot connect to the passive port ({reason})",
                mode=mode,
                address=host,
                port=port,
                os_error=os_error
                or TimeoutError(f"no connection in {self.config.connect_timeout}s"),
            ) from exc
        return sock

    # -- active -------------------------------------------------------------------------

    def _listen(self) -> socket.socket:
        control = self._control
        family = control.family
        bind_host = control.local_host
        ports: list[int] = [0]
        if self.config.active_ports is not None:
            import random  # noqa: PLC0415 - start-up time: only active port ranges need it

            low, high = self.config.active_ports
            ports = random.sample(range(low, high + 1), high - low + 1)
        last_error: OSError | None = None
        for port in ports:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.bind((bind_host, port))
                sock.listen(1)
            except OSError as exc:
                sock.close()
                last_error = exc
                continue
            sock.setblocking(False)
            return sock
        raise DataConnectionError(
            "no free port to listen on for active mode",
            mode="EPRT",
            address=bind_host,
            os_error=last_error,
        )

    async def _announce(self, port: int) -> tuple[str, str]:
        """EPRT or PORT for our listening port: ``(command, advertised host)``."""
        control = self._control
        advertised = self.config.active_address or control.local_host
        address = HostPort(ipaddress.ip_address(advertised), port)
        if not self._eprt_refused:
            reply = await control.command(f"EPRT {format_eprt(address)}")
            if reply.code == 200:
                return "EPRT", advertised
            if reply.code not in NOT_IMPLEMENTED or address.host.version != 4:
                raise DataConnectionError(
                    "EPRT refused", mode="EPRT", address=advertised, port=port, reply=reply
                )
            log.info("EPRT refused (%d %s); using PORT from now on", reply.code, reply.text)
            self._eprt_refused = True
        if address.host.version != 4:
            raise DataConnectionError(
                "PORT cannot carry an IPv6 address and EPRT is off",
                mode="PORT",
                address=advertised,
                port=port,
            )
        reply = await control.command(f"PORT {format_port(address)}")
        if reply.code != 200:
            raise DataConnectionError(
                "PORT refused", mode="PORT", address=advertised, port=port, reply=reply
            )
        return "PORT", advertised

    async def _open_active(self, command: str, rest: int) -> tuple[DataConnection, Reply]:
        listener = self._listen()
        try:
            port = listener.getsockname()[1]
            mode, advertised = await self._announce(port)
            route = DataRoute(mode="active", command=mode, host=advertised, port=port)
            reply = await self._start_command(command, rest, route)
            if reply.category == 2:  # finished without a data connection
                return DataConnection(None, route, timeout=self.config.data_timeout), reply
            try:
                sock = await self._accept(listener, route)
            except DataConnectionError:
                await self.drain_after_failure()
                raise
            return DataConnection(sock, route, timeout=self.config.data_timeout), reply
        finally:
            listener.close()

    async def _accept(self, listener: socket.socket, route: DataRoute) -> socket.socket:
        loop = asyncio.get_running_loop()
        expected = _plain_ip(self._control.peer_host)
        try:
            async with asyncio.timeout(self.config.data_timeout):
                while True:
                    sock, address = await loop.sock_accept(listener)
                    if _plain_ip(address[0]) == expected:
                        sock.setblocking(False)
                        return sock
                    log.warning(
                        "refused a data connection from %s: only the server %s may connect",
                        address[0],
                        expected,
                    )
                    sock.close()
        except TimeoutError as exc:
            raise DataConnectionError(
                f"the server did not connect within {self.config.data_timeout}s",
                mode=route.command,
                address=route.host,
                port=route.port,
                os_error=TimeoutError("accept timed out"),
            ) from exc

    # -- the transfer command -------------------------------------------------------------

    async def _start_command(self, command: str, rest: int, route: DataRoute) -> Reply:
        control = self._control
        if rest:
            reply = await control.command(f"REST {rest}")
            if reply.code != 350:
                if reply.code in {500, 502, 504}:
                    raise UnsupportedCommand("REST", "the server cannot resume", reply=reply)
                raise ReplyError.from_reply(reply, expected=(350,), command=f"REST {rest}")
        await control.send(command)
        return await self._await_start(command, route)

    async def _await_start(self, command: str, route: DataRoute) -> Reply:
        """The transfer command's first reply: 1xx to go on (2xx: done already)."""
        control = self._control
        reply = await control.read_reply()
        while reply.code in {110, 120}:  # restart marker, "ready in n minutes"
            reply = await control.read_reply()
        if reply.category in {1, 2}:
            return reply
        if reply.code == 425:
            raise DataConnectionError(
                "the server could not open the data connection",
                mode=route.command,
                address=route.host,
                port=route.port,
                reply=reply,
            )
        raise ReplyError.from_reply(reply, expected=(125, 150), command=command)

    async def drain_after_failure(self) -> None:
        """Read the final reply of a transfer that failed after its 1xx reply.

        Without this the next command would receive that stale reply.  If it
        does not come in time, the control connection is given up.
        """
        with contextlib.suppress(FTPTimeout):
            await self._control.read_reply(timeout=min(self.config.timeout, 10.0))


def _plain_ip(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)
