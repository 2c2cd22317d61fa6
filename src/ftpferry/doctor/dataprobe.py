"""One small LIST over one data-channel command, every step observed.

Theory of operation
-------------------
A probe never falls back: PASV is PASV, EPSV is EPSV.  Whatever step fails
ends the probe, and the step is recorded as a
:data:`~.observations.Failure` with the evidence of that moment (the
reply, the connect outcome, whether a connection arrived).

* **Passive** (:func:`probe_passive`): send PASV/EPSV, parse the address,
  connect to it *before* sending LIST (as RFC 959 clients do), then LIST.
  PASV connects to the address the server named, unless the caller asks
  for the control address instead (to see whether clients that ignore the
  PASV address, such as curl, get through).
* **Active** (:func:`probe_active`): listen, send PORT/EPRT naming our
  address (or ``--active-address``), send LIST, then wait for the first of
  the server's reply and its connection, because servers differ in which
  comes first (ftpferry connects before ``150``; others after).  Whether
  the connection ever arrived is the key evidence when the reply is 425.

With PROT P the data connection is wrapped in TLS after the preliminary
reply, resuming the control connection's TLS session (as vsftpd's
``require_ssl_reuse`` demands); whether it resumed is recorded.

Everything a probe does is bounded by its :class:`~.wire.Deadline`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
from dataclasses import dataclass, replace

from ftpferry.client.errors import ConnectionLost, FTPTimeout, ProtocolError
from ftpferry.client.replies import Reply
from ftpferry.protocol.addresses import (
    AddressSyntaxError,
    HostPort,
    format_eprt,
    format_port,
    parse_epsv_reply,
    parse_pasv_reply,
)

from .observations import DataCommand, DataProbe, Failure, ReplyInfo
from .phrases import connect_text
from .wire import Deadline, Dialogue, connect, describe_os_error

__all__ = ["ProbeSettings", "probe_active", "probe_passive"]

READ_LIMIT = 4 << 20
"""Listing bytes read at most; a probe needs to see data flow, not all of it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeSettings:
    """What every probe of one run shares.

    Attributes:
        path: the directory (or file) to LIST, from the URL.
        timeout: seconds each probe may take in all.
        tls_context: set when PROT P is on: data connections are wrapped.
        server_hostname: the name certificates are checked against.
        active_address: what PORT/EPRT advertise (default: our control address).
    """

    path: str
    timeout: float
    tls_context: ssl.SSLContext | None = None
    server_hostname: str = ""
    active_address: str | None = None


def _info(reply: Reply) -> ReplyInfo:
    return ReplyInfo(code=reply.code, text=reply.text)


class _Probe:
    """The mutable record of one probe while it runs; :meth:`result` freezes it."""

    def __init__(self, command: DataCommand, deadline: Deadline) -> None:
        self.result_probe = DataProbe(command=command, ok=False, seconds=0.0)
        self.deadline = deadline

    def update(self, **changes: object) -> None:
        self.result_probe = replace(self.result_probe, **changes)  # type: ignore[arg-type]

    def fail(self, failure: Failure, error: str) -> DataProbe:
        self.update(failure=failure, error=error, seconds=self.deadline.elapsed())
        return self.result_probe

    def succeed(self) -> DataProbe:
        self.update(ok=True, failure=None, error="", seconds=self.deadline.elapsed())
        return self.result_probe


def _list_line(settings: ProbeSettings) -> str:
    return f"LIST {settings.path}" if settings.path else "LIST"


def _reply_failure(reply: ReplyInfo) -> str:
    return f"{reply.code} {reply.text.splitlines()[-1] if reply.text else ''}".strip()


def probe_passive(
    dialogue: Dialogue,
    command: DataCommand,
    settings: ProbeSettings,
    *,
    use_control_address: bool = False,
) -> DataProbe:
    """PASV or EPSV, connect, LIST (see the module docstring)."""
    deadline = Deadline(settings.timeout)
    state = _Probe(command, deadline)
    state.update(tls=settings.tls_context is not None)
    data: socket.socket | None = None
    try:
        reply = dialogue.command(command, deadline.left())
        setup = _info(reply)
        state.update(setup_reply=setup)
        expected = 227 if command == "PASV" else 229
        if command == "PASV" and dialogue.family == socket.AF_INET6 and reply.code // 100 == 5:
            return state.fail("not-applicable", "PASV carries only IPv4 addresses; this is IPv6")
        if reply.code != expected:
            return state.fail("setup-refused", f"{command} refused: {_reply_failure(setup)}")
        try:
            if command == "PASV":
                named = parse_pasv_reply(reply.text)
                host, port = str(named.host), named.port
                state.update(advertised_host=host, advertised_port=port)
                if named.host.is_unspecified and not use_control_address:
                    return state.fail(
                        "unusable-address", f"the 227 reply names {host}, which is no address"
                    )
            else:
                port = parse_epsv_reply(reply.text)
                state.update(advertised_port=port)
                host = dialogue.peer_host
        except AddressSyntaxError as exc:
            return state.fail("bad-reply", str(exc))
        if use_control_address:
            host = dialogue.peer_host
        data, attempt = connect(host, port, deadline.left(), dialogue.record)
        state.update(connect=attempt)
        if data is None:
            return state.fail("connect-failed", connect_text(attempt))
        return _transfer(dialogue, state, settings, data)
    except FTPTimeout as exc:
        dialogue.broken = True  # a reply may still be on its way
        return state.fail("reply-timeout", str(exc))
    except (ConnectionLost, ProtocolError) as exc:
        return state.fail("control-lost", str(exc))
    finally:
        if data is not None:
            with contextlib.suppress(OSError):
                data.close()


def _listen(dialogue: Dialogue, settings: ProbeSettings) -> tuple[socket.socket, str]:
    """A listening socket and the address to advertise.

    Binds to the advertised address when it is one of ours, else (an
    ``--active-address`` that is a router's public address) to every
    address of its family, as a port forward would deliver there.
    """
    advertise = settings.active_address or dialogue.local_host
    family = socket.AF_INET6 if ":" in advertise else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        try:
            listener.bind((advertise, 0))
        except OSError:
            listener.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        listener.listen(1)
    except OSError:
        listener.close()
        raise
    return listener, advertise


def probe_active(dialogue: Dialogue, command: DataCommand, settings: ProbeSettings) -> DataProbe:
    """PORT or EPRT, LIST, wait for the server's connection (see the module docstring)."""
    deadline = Deadline(settings.timeout)
    state = _Probe(command, deadline)
    state.update(tls=settings.tls_context is not None)
    if command == "PORT" and dialogue.family == socket.AF_INET6 and not settings.active_address:
        return state.fail("not-applicable", "PORT carries only IPv4 addresses; this is IPv6")
    try:
        listener, advertise = _listen(dialogue, settings)
    except OSError as exc:
        return state.fail("local-error", f"cannot listen locally: {describe_os_error(exc)}")
    data: socket.socket | None = None
    try:
        bound_host, port = listener.getsockname()[:2]
        state.update(advertised_host=advertise, advertised_port=port, listen=f"{bound_host} {port}")
        try:
            target = HostPort(ipaddress.ip_address(advertise), port)
            argument = format_port(target) if command == "PORT" else format_eprt(target)
        except ValueError as exc:
            return state.fail("not-applicable", str(exc))
        reply = dialogue.command(f"{command} {argument}", deadline.left())
        setup = _info(reply)
        state.update(setup_reply=setup)
        if reply.code // 100 != 2:
            return state.fail("setup-refused", f"{command} refused: {_reply_failure(setup)}")
        dialogue.send(_list_line(settings))
        first: Reply | None = None
        while first is None:
            ready = dialogue.wait_readable([] if data else [listener], deadline.left())
            if not ready:
                deadline.left()  # raises FTPTimeout when the time is up
                continue
            if listener in ready and data is None:
                data = _accept(listener, state, dialogue)
            if dialogue.sock in ready:
                first = dialogue.read_reply(deadline.left())
        transfer = _info(first)
        state.update(transfer_reply=transfer)
        if first.code // 100 != 1:
            data = data or _accept_now(listener, state, dialogue)
            if state.result_probe.arrived:
                return state.fail(
                    "transfer-refused",
                    f"the server's connection arrived, but LIST got {_reply_failure(transfer)}",
                )
            return state.fail(
                "no-connection",
                f"the server's connection never arrived; LIST got {_reply_failure(transfer)}",
            )
        if data is None:
            listener.settimeout(deadline.left())
            try:
                data = _accept(listener, state, dialogue)
            except (TimeoutError, OSError) as exc:
                dialogue.broken = True  # the server's 425 will come later
                return state.fail(
                    "no-connection",
                    f"{transfer.code} came, but the server's connection never arrived"
                    f" ({describe_os_error(exc)})",
                )
        return _transfer(dialogue, state, settings, data, first=first)
    except FTPTimeout as exc:
        dialogue.broken = True  # a reply may still be on its way
        data = data or _accept_now(listener, state, dialogue)
        if state.result_probe.setup_reply is not None and not state.result_probe.arrived:
            return state.fail("no-connection", f"{exc}; the server's connection never arrived")
        return state.fail("reply-timeout", str(exc))
    except (ConnectionLost, ProtocolError) as exc:
        return state.fail("control-lost", str(exc))
    finally:
        if data is not None:
            with contextlib.suppress(OSError):
                data.close()
        listener.close()


def _accept(listener: socket.socket, state: _Probe, dialogue: Dialogue) -> socket.socket:
    sock, address = listener.accept()
    state.update(arrived=True, arrived_from=str(address[0]))
    dialogue.record(f"** the server connected from {address[0]} port {address[1]}")
    return sock


def _accept_now(listener: socket.socket, state: _Probe, dialogue: Dialogue) -> socket.socket | None:
    """Take a connection that is already queued, without waiting; record if none."""
    listener.setblocking(False)
    try:
        return _accept(listener, state, dialogue)
    except OSError:
        state.update(arrived=False)
        dialogue.record("** no connection from the server arrived")
        return None


def _transfer(
    dialogue: Dialogue,
    state: _Probe,
    settings: ProbeSettings,
    data: socket.socket,
    *,
    first: Reply | None = None,
) -> DataProbe:
    """From LIST (sent here unless ``first`` is its reply already) to the final reply."""
    deadline = state.deadline
    if first is None:
        reply = dialogue.command(_list_line(settings), deadline.left())
        transfer = _info(reply)
        state.update(transfer_reply=transfer)
        if reply.code // 100 != 1:
            return state.fail("transfer-refused", f"LIST refused: {_reply_failure(transfer)}")
    stream: socket.socket = data
    if settings.tls_context is not None:
        session = dialogue.tls_session
        data.settimeout(deadline.left())
        try:
            stream = settings.tls_context.wrap_socket(
                data, server_hostname=settings.server_hostname or None, session=session
            )
        except (ssl.SSLError, OSError, ValueError) as exc:
            dialogue.record(f"** TLS handshake on the data connection failed: {exc}")
            state.update(tls_session_reused=False if session is not None else None)
            final = _late_reply(dialogue, deadline)
            if final is not None:
                state.update(final_reply=final)
            return state.fail(
                "tls-handshake",
                f"TLS handshake on the data connection failed: {describe_os_error(exc)}",
            )
        state.update(tls_session_reused=bool(stream.session_reused))
        dialogue.record(
            "** data connection: TLS "
            + ("resumed the control session" if stream.session_reused else "new session")
        )
    received, broken = _read_all(stream, deadline)
    state.update(bytes_received=received)
    if broken:
        dialogue.record(f"** the data connection broke after {received} bytes: {broken}")
    final_reply = dialogue.read_reply(deadline.left())
    final = _info(final_reply)
    state.update(final_reply=final)
    if final_reply.code // 100 != 2:
        return state.fail("transfer-failed", f"the transfer ended with {_reply_failure(final)}")
    return state.succeed()


def _read_all(stream: socket.socket, deadline: Deadline) -> tuple[int, str]:
    """Read until the end of the listing (or READ_LIMIT).

    Returns the byte count and, when the connection broke rather than
    ended, why; the server's final reply then says what it thinks happened.
    """
    received, broken = 0, ""
    try:
        while received < READ_LIMIT:
            stream.settimeout(deadline.left())
            chunk = stream.recv(65536)
            if not chunk:
                break
            received += len(chunk)
    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
        pass
    except OSError as exc:
        broken = describe_os_error(exc)
    if isinstance(stream, ssl.SSLSocket) and not broken:
        # Answer the server's close_notify at once: it waits for ours.
        with contextlib.suppress(OSError, ValueError):
            stream.settimeout(min(1.0, deadline.left()))
            stream.unwrap()
    stream.close()
    return received, broken


def _late_reply(dialogue: Dialogue, deadline: Deadline) -> ReplyInfo | None:
    """The server's verdict after a failed data handshake (it often explains why)."""
    try:
        return _info(dialogue.read_reply(deadline.left()))
    except (FTPTimeout, ConnectionLost, ProtocolError):
        return None
