"""Handlers for the data channel: PORT PASV EPRT EPSV REST ABOR and the
commands that transfer (RETR STOR APPE STOU LIST NLST MLSD).

Every transfer follows one path, :func:`run_transfer`: get the data
connection (accept the passive one or connect the active one; failure is
``425`` and the session goes on), send ``150``, move the bytes in a task of
its own so ABOR can cancel it, then answer ``226`` after the last byte, or
``426`` when the transfer was aborted or the connection broke.

After ``MODE B`` the bytes are framed in blocks (:mod:`ftpferry.protocol.blocks`)
and a data connection that carried a transfer to its end-of-file block is
kept: the next transfer command uses it at once (``125``, then ``250``
instead of ``226``, which would announce its closing).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, BinaryIO

from ftpferry.netio import nothing_to_read, tls_unwrap
from ftpferry.protocol import (
    AddressSyntaxError,
    HostPort,
    ReplyCode,
    UnsupportedNetworkProtocol,
    format_epsv_reply,
    format_list_line,
    format_mlsx_facts,
    format_pasv_reply,
    parse_eprt,
    parse_port,
)
from ftpferry.protocol.listing import DEFAULT_FACTS
from ftpferry.protocol.paths import virtual_name
from ftpferry.storage import NotADirectory, StorageError

from ..datachannel import ActiveTarget, DataConnectError, PassiveListener, connect_active
from ..tls import tls_server_handshake
from ..transfer import (
    Progress,
    receive_blocks_to_file,
    receive_to_file,
    send_file,
    send_payload,
)
from .listings import list_entries, list_names, strip_list_options

if TYPE_CHECKING:
    from ..session import Session

__all__ = [
    "abort",
    "append",
    "extended_passive",
    "extended_port",
    "list_command",
    "machine_list_directory",
    "name_list",
    "passive",
    "port",
    "restart",
    "retrieve",
    "store",
    "store_unique",
]

log = logging.getLogger("ftpferry.transfer")

MAX_OFFSET = (1 << 63) - 1
"""The largest offset a file can have (off_t); REST beyond it is a syntax error."""

Body = Callable[[socket.socket, Progress], Coroutine[Any, Any, None]]
"""Moves one transfer's bytes over the data connection (framed in block mode)."""


# -- choosing the data channel ---------------------------------------------------------


def _is_ipv6_session(session: Session) -> bool:
    return session.peer.version == 6


def _check_active_target(session: Session, address: HostPort) -> str | None:
    """Bounce protection: the reason to refuse a PORT/EPRT target, or None."""
    if not session.server.config.permit_foreign_addresses and address.host != session.peer:
        return f"Data connections go only to your own address {session.peer}, not {address.host}."
    if address.port < 1024:
        return f"Refusing to connect to privileged port {address.port}."
    return None


def _set_active(session: Session, address: HostPort, command: str) -> None:
    if address.host.is_unspecified:
        # lftp sends EPRT |2|::|port| for an unbound socket on loopback: it
        # means "my own address", which is the control peer.
        address = HostPort(session.peer, address.port)
    reason = _check_active_target(session, address)
    if reason is not None:
        log.warning("%s refused for %s: %s", command, session.peer, reason)
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, reason)
        return
    session.close_data_channel()
    session.active = ActiveTarget(address, command)
    session.reply(ReplyCode.OK, f"{command} command successful. Consider using EPSV.")


async def port(session: Session, arg: str) -> None:
    """PORT h1,h2,h3,h4,p1,p2 (IPv4 only)."""
    if session.epsv_all:
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, "PORT not allowed after EPSV ALL.")
        return
    if _is_ipv6_session(session):
        session.reply(ReplyCode.NETWORK_PROTOCOL_NOT_SUPPORTED, "PORT is IPv4 only; use EPRT.")
        return
    try:
        address = parse_port(arg.strip())
    except AddressSyntaxError as exc:
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, str(exc) + ".")
        return
    _set_active(session, address, "PORT")


async def extended_port(session: Session, arg: str) -> None:
    """EPRT |af|addr|port| (RFC 2428)."""
    if session.epsv_all:
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, "EPRT not allowed after EPSV ALL.")
        return
    own_family = "2" if _is_ipv6_session(session) else "1"
    try:
        address = parse_eprt(arg.strip())
    except UnsupportedNetworkProtocol:
        session.reply(
            ReplyCode.NETWORK_PROTOCOL_NOT_SUPPORTED,
            f"Network protocol not supported, use ({own_family})",
        )
        return
    except AddressSyntaxError as exc:
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, str(exc) + ".")
        return
    if ("1" if address.host.version == 4 else "2") != own_family:
        session.reply(
            ReplyCode.NETWORK_PROTOCOL_NOT_SUPPORTED,
            f"Network protocol not supported, use ({own_family})",
        )
        return
    _set_active(session, address, "EPRT")


def _open_passive(session: Session, command: str) -> PassiveListener | None:
    session.close_data_channel()
    family = socket.AF_INET6 if ":" in session.local_host else socket.AF_INET
    try:
        sock, port_number = session.server.pool.bind(session.local_host, family)
    except DataConnectError as exc:
        session.reply(ReplyCode.CANT_OPEN_DATA, str(exc) + ".")
        return None
    expected = None if session.server.config.permit_foreign_addresses else session.peer
    listener = PassiveListener(
        session.server.pool,
        sock,
        port_number,
        expected_peer=expected,
        command=command,
        timeout=session.server.config.limits.data_timeout,
        loop=session.server.loop,
    )
    session.passive = listener
    return listener


async def passive(session: Session, arg: str) -> None:
    """PASV: listen on a port of the range; advertise the masquerade address if set."""
    if session.epsv_all:
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, "PASV not allowed after EPSV ALL.")
        return
    if _is_ipv6_session(session):
        session.reply(ReplyCode.NETWORK_PROTOCOL_NOT_SUPPORTED, "PASV is IPv4 only; use EPSV.")
        return
    advertised = session.server.passive_address_for(session)
    listener = _open_passive(session, "PASV")
    if listener is None:
        return
    session.reply(
        ReplyCode.ENTERING_PASSIVE, format_pasv_reply(HostPort(advertised, listener.port))
    )


async def extended_passive(session: Session, arg: str) -> None:
    """EPSV [1|2|ALL] (RFC 2428): the client reuses the control connection's address."""
    value = arg.strip().upper()
    own_family = "2" if _is_ipv6_session(session) else "1"
    if value == "ALL":
        session.epsv_all = True
        session.reply(ReplyCode.OK, "EPSV ALL ok; PORT, PASV and EPRT are now refused.")
        return
    if value not in {"", "1", "2"}:
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, "Syntax: EPSV [1|2|ALL]")
        return
    if value and value != own_family:
        session.reply(
            ReplyCode.NETWORK_PROTOCOL_NOT_SUPPORTED,
            f"Network protocol not supported, use ({own_family})",
        )
        return
    listener = _open_passive(session, "EPSV")
    if listener is not None:
        session.reply(ReplyCode.ENTERING_EXTENDED_PASSIVE, format_epsv_reply(listener.port))


async def restart(session: Session, arg: str) -> None:
    """REST <offset>: where the next RETR/STOR/APPE starts."""
    text = arg.strip()
    if not text.isascii() or not text.isdigit() or int(text) > MAX_OFFSET:
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, "REST needs a non-negative byte offset.")
        return
    session.rest_offset = int(text)
    session.reply(
        ReplyCode.PENDING_FURTHER_INFO, f"Restarting at {session.rest_offset}. Send STOR or RETR."
    )


async def abort(session: Session, arg: str) -> None:
    """ABOR with no transfer running (the running case is handled in Session)."""
    session.close_data_channel()
    session.reply(ReplyCode.DATA_OPEN_NO_TRANSFER, "No transfer to abort.")


# -- running a transfer ------------------------------------------------------------------


async def _open_data_connection(session: Session) -> tuple[socket.socket, str]:
    timeout = session.server.config.limits.data_timeout
    if session.passive is not None:
        listener, session.passive = session.passive, None
        return await listener.wait(timeout), listener.command
    if session.active is not None:
        target, session.active = session.active, None
        server = session.server
        sock = await connect_active(
            target.address,
            local_host=str(session.local_ip),
            source_port=server.active_source_port,
            source_port_required=server.config.active_source == "control-minus-one",
            timeout=timeout,
        )
        return sock, target.command
    raise DataConnectError("Use PORT, EPRT, PASV or EPSV first")


async def run_transfer(
    session: Session, *, direction: str, path: str, opening: str, body: Body
) -> bool:
    """Open the data connection, run ``body`` over it, reply; True on success.

    In block mode the data connection a transfer ended cleanly on is kept
    for the next one, which then starts with ``125`` (RFC 959: "data
    connection already open") instead of waiting for a connection; a new
    PASV, EPSV, PORT or EPRT replaces it.
    """
    if session.data_protection_required and not session.prot_private:
        session.close_data_channel()
        session.reply(
            ReplyCode.DATA_PROTECTION_REQUIRED,
            "Data connections must be protected: send AUTH TLS, PBSZ 0 and PROT P.",
        )
        return False
    kept, session.kept_data = session.kept_data, None
    if kept is not None and not nothing_to_read(kept[0]):
        kept[0].close()  # the client closed it (or sent stray bytes): as if none were kept
        kept = None
    if kept is not None:
        sock, mode = kept
    else:
        try:
            sock, mode = await _open_data_connection(session)
        except DataConnectError as exc:
            log.warning("data connection for %s from %s failed: %s", direction, session.peer, exc)
            session.reply(ReplyCode.CANT_OPEN_DATA, str(exc) + ".")
            return False
    progress = Progress(path=path, direction=direction, mode=mode)
    if kept is not None:
        session.reply(ReplyCode.DATA_ALREADY_OPEN, opening)
    else:
        session.reply(ReplyCode.FILE_STATUS_OK, opening)
    task: asyncio.Task[socket.socket | None] = session.server.loop.create_task(
        _secured(session, sock, progress, body, reused=kept is not None)
    )
    session.transfer_task, session.progress = task, progress
    keep: socket.socket | None = None
    try:
        await asyncio.wait({task})
        if not task.cancelled() and task.exception() is None:
            keep = task.result()
    finally:
        if not task.done():
            task.cancel()
        session.transfer_task = session.progress = None
        if keep is None:
            sock.close()
        session.last_activity = time.monotonic()
    succeeded = _report(session, task, progress, kept_open=keep is not None)
    if session.abort_requested:
        # ABOR got here while the transfer was ending (cancelled, broken or
        # complete): its own reply comes after the transfer's, as RFC 959 4.1.3 says.
        session.abort_requested = False
        session.reply(ReplyCode.TRANSFER_COMPLETE, "ABOR successful.")
        if keep is not None:
            keep.close()
            keep = None
    if keep is not None:
        session.kept_data = (keep, mode)
    return succeeded


async def _secured(
    session: Session, sock: socket.socket, progress: Progress, body: Body, *, reused: bool
) -> socket.socket | None:
    """Run ``body`` over the data socket, inside TLS when PROT P is in force.

    Returns the connection to keep for the next transfer (block mode: the
    TLS one, still open), or None when it is done with.  A ``reused``
    connection is ready as it is, TLS included.
    """
    keep = session.block_mode
    context = session.server.tls_context
    if reused or not session.prot_private or context is None:
        await body(sock, progress)
        return sock if keep else None
    timeout = session.server.config.limits.data_timeout
    try:
        secure = await tls_server_handshake(context, sock, timeout)
    except (OSError, TimeoutError) as exc:
        raise DataConnectError(f"TLS handshake on the data connection failed: {exc}") from exc
    kept: socket.socket | None = None
    try:
        if session.server.config.tls.require_session_reuse and not secure.session_reused:
            raise DataConnectError(
                "TLS session reuse is required on the data connection: "
                "the client must resume the control connection's session"
            )
        await body(secure, progress)
        if keep:
            kept = secure
        else:
            await tls_unwrap(secure)
    finally:
        if kept is None:
            secure.close()
    return kept


def _report(
    session: Session,
    task: asyncio.Task[socket.socket | None],
    progress: Progress,
    *,
    kept_open: bool = False,
) -> bool:
    who = session.account.name if session.account else "-"
    summary = (
        f"{who} {progress.direction} {progress.path} {progress.bytes} bytes in "
        f"{progress.seconds:.3f}s via {progress.mode} from {session.peer}"
    )
    if task.cancelled():
        log.info("aborted: %s", summary)
        session.reply(ReplyCode.TRANSFER_ABORTED, "Transfer aborted; data connection closed.")
        return False
    error = task.exception()
    if isinstance(error, DataConnectError):
        log.warning("data connection refused: %s (%s)", summary, error)
        session.reply(ReplyCode.CANT_OPEN_DATA, f"{error}.")
        return False
    if error is None:
        log.info("done: %s", summary)
        if kept_open:  # 226 says "closing data connection" (RFC 959 4.2.2)
            session.reply(ReplyCode.FILE_ACTION_OK, "Transfer complete; data connection open.")
        else:
            session.reply(ReplyCode.TRANSFER_COMPLETE, "Transfer complete.")
        return True
    if isinstance(error, OSError):
        log.info("broken: %s (%s)", summary, error.strerror or error)
        session.reply(
            ReplyCode.TRANSFER_ABORTED, f"Data connection lost after {progress.bytes} bytes."
        )
        return False
    log.error("failed: %s", summary, exc_info=error)
    session.reply(ReplyCode.LOCAL_ERROR, "Transfer failed: local error.")
    return False


def _take_offset(session: Session) -> int:
    offset, session.rest_offset = session.rest_offset, 0
    return offset


def _refuse_offset(session: Session, offset: int, size: int) -> None:
    session.reply(
        ReplyCode.INVALID_REST,
        f"Restart offset {offset} is beyond the end of the file ({size} bytes).",
    )


async def _offset_fits(session: Session, path: str, offset: int) -> bool:
    """An upload may resume at most at the current end of the file (no holes)."""
    if offset == 0:
        return True
    try:
        size = (await session.stat(path)).size
    except StorageError:
        size = 0
    if offset > size:
        _refuse_offset(session, offset, size)
        return False
    return True


async def retrieve(session: Session, arg: str) -> None:
    """RETR: sendfile in binary mode, LF -> CRLF in ASCII mode; REST honoured."""
    path = session.resolve(arg)
    offset = _take_offset(session)
    file = await session.require_storage().open_read(path)
    try:
        total = os.fstat(file.fileno()).st_size
        if offset > total:
            _refuse_offset(session, offset, total)
            return
        ascii_mode = session.ascii_mode
        kind = "ASCII" if ascii_mode else "BINARY"
        name = virtual_name(path)

        blocks = session.block_mode

        async def body(sock: socket.socket, progress: Progress) -> None:
            await send_file(
                sock, file, offset, progress, size=total, ascii_mode=ascii_mode, blocks=blocks
            )

        await run_transfer(
            session,
            direction="RETR",
            path=path,
            opening=f"Opening {kind} mode data connection for {name} ({total} bytes).",
            body=body,
        )
    finally:
        file.close()


async def _store(session: Session, path: str, file: BinaryIO, direction: str, opening: str) -> None:
    ascii_mode = session.ascii_mode
    receive = receive_blocks_to_file if session.block_mode else receive_to_file

    async def body(sock: socket.socket, progress: Progress) -> None:
        await receive(sock, file, progress, ascii_mode=ascii_mode)

    try:
        await run_transfer(session, direction=direction, path=path, opening=opening, body=body)
    finally:
        file.close()


async def store(session: Session, arg: str) -> None:
    """STOR: replace (or, after REST, overwrite from the offset)."""
    path = session.resolve(arg)
    offset = _take_offset(session)
    if not await _offset_fits(session, path, offset):
        return
    file = await session.require_storage().open_write(path, offset=offset)
    await _store(session, path, file, "STOR", f"Ready to receive {virtual_name(path)}.")


async def append(session: Session, arg: str) -> None:
    """APPE: append to (or create) a file; after REST, write from that offset."""
    path = session.resolve(arg)
    offset = _take_offset(session)
    if not await _offset_fits(session, path, offset):
        return
    storage = session.require_storage()
    if offset:
        file = await storage.open_write(path, offset=offset)
    else:
        file = await storage.open_write(path, append=True)
    await _store(session, path, file, "APPE", f"Ready to append to {virtual_name(path)}.")


async def store_unique(session: Session, arg: str) -> None:
    """STOU: store under a new name, announced as ``150 FILE: name`` (RFC 1123)."""
    prefix = virtual_name(session.resolve(arg)) if arg.strip() else "ftpferry"
    if prefix == "/":
        prefix = "ftpferry"
    _take_offset(session)
    path, file = await session.require_storage().create_unique(session.cwd, prefix)
    await _store(session, path, file, "STOU", f"FILE: {virtual_name(path)}")


async def _send_listing(session: Session, direction: str, arg: str, lines: list[str]) -> None:
    payload = "".join(line + "\r\n" for line in lines).encode("utf-8", "replace")
    blocks = session.block_mode

    async def body(sock: socket.socket, progress: Progress) -> None:
        await send_payload(sock, payload, progress, blocks=blocks)

    shown = strip_list_options(arg) or session.cwd
    await run_transfer(
        session,
        direction=direction,
        path=shown,
        opening=f"Here comes the listing of {shown}.",
        body=body,
    )


async def list_command(session: Session, arg: str) -> None:
    """LIST in ``ls -l`` style."""
    entries = await list_entries(session, arg)
    now = time.time()
    await _send_listing(session, "LIST", arg, [format_list_line(e, now=now) for e in entries])


async def name_list(session: Session, arg: str) -> None:
    """NLST: one name per line."""
    await _send_listing(session, "NLST", arg, await list_names(session, arg))


async def machine_list_directory(session: Session, arg: str) -> None:
    """MLSD (RFC 3659): facts for each entry of a directory."""
    path = session.resolve(arg)
    storage = session.require_storage()
    if not (await storage.stat(path)).is_dir:
        raise NotADirectory(f"{path}: not a directory")
    entries = await storage.list_dir(path)
    facts = session.mlst_facts if session.mlst_facts is not None else DEFAULT_FACTS
    writable = session.writable
    lines = [format_mlsx_facts(entry, facts=facts, writable=writable) for entry in entries]
    await _send_listing(session, "MLSD", arg, lines)
