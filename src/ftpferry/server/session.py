"""One control connection: the asyncio glue around the sans-IO core.

Theory of operation
-------------------
:class:`Session` is an :class:`asyncio.BufferedProtocol` (reading into the
thread's shared :func:`~ftpferry.netio.receive_buffer`), not a coroutine reading a
stream, so an idle logged-in session is just this slotted object, its
transport and a line buffer: no task, no stream reader, no per-session
buffers beyond what the kernel keeps.  That is what lets 10,000 idle
clients cost little more than 10,000 sockets.

Bytes arrive in :meth:`buffer_updated`, go into the :class:`LineReader`, and
complete lines are queued.  A short-lived *runner* task takes commands off
the queue one at a time and awaits their handlers (from
:mod:`.handlers`), so commands are answered strictly in order even when the
client pipelines them.  While a transfer runs, three commands jump the
queue, as RFC 959 requires: ABOR (cancels the transfer: ``426`` then
``226``), STAT (reports progress) and QUIT.

Every reply goes through :meth:`reply`, which serializes a :class:`Reply`:
no code path writes raw text to the client.  An exception escaping a handler
is logged and answered with ``451``; it never reaches the event loop, so a
bug in one session cannot harm another.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import time
from typing import TYPE_CHECKING, Final

from ftpferry.netio import receive_buffer
from ftpferry.protocol import (
    COMMANDS,
    MAX_LINE,
    NEED_DATA,
    Arg,
    EndOfStream,
    LineReader,
    LineReceived,
    LineTooLong,
    PathError,
    Reply,
    ReplyCode,
    StreamCorrupt,
    parse_command,
    resolve,
)
from ftpferry.protocol.commands import NOT_IMPLEMENTED
from ftpferry.storage import StorageError

from .datachannel import ActiveTarget, PassiveListener, peer_ip
from .handlers import HANDLERS

if TYPE_CHECKING:
    from ftpferry.protocol.listing import FileStat
    from ftpferry.storage import Storage

    from .auth import Account
    from .server import FtpServer
    from .transfer import Progress

__all__ = ["Session"]

log = logging.getLogger("ftpferry.session")

MAX_QUEUED: Final = 32
URGENT: Final = frozenset({"ABOR", "STAT", "QUIT"})

Event = LineReceived | LineTooLong


class Session(asyncio.BufferedProtocol):
    """The state of one FTP control connection (see the module docstring)."""

    __slots__ = (
        "_admitted",
        "_closing",
        "_paused",
        "_queue",
        "_reader",
        "_runner",
        "_timer",
        "_token_time",
        "_tokens",
        "abort_requested",
        "account",
        "active",
        "ascii_mode",
        "block_mode",
        "connected_at",
        "cwd",
        "epsv_all",
        "kept_data",
        "last_activity",
        "local_host",
        "local_ip",
        "local_port",
        "mlst_facts",
        "passive",
        "pbsz_done",
        "peer",
        "peer_host",
        "peer_port",
        "pending_user",
        "progress",
        "prot_private",
        "rename_from",
        "rest_offset",
        "server",
        "storage",
        "tls_active",
        "transfer_task",
        "transport",
    )

    def __init__(self, server: FtpServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self._reader = LineReader()
        self._queue: collections.deque[Event] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False
        self._admitted = False
        self._paused = False
        self._tokens = server.config.limits.max_commands_per_second
        self._token_time = time.monotonic()
        self.peer_host = ""
        self.peer_port = 0
        self.local_host = ""
        self.local_port = 0
        self.peer = self.local_ip = peer_ip("0.0.0.0")
        self.connected_at = self.last_activity = time.monotonic()
        self.pending_user: str | None = None
        self.account: Account | None = None
        self.storage: Storage | None = None
        self.cwd = "/"
        self.ascii_mode = False
        self.rest_offset = 0
        self.rename_from: str | None = None
        self.epsv_all = False
        self.mlst_facts: tuple[str, ...] | None = None
        self.passive: PassiveListener | None = None
        self.active: ActiveTarget | None = None
        self.block_mode = False
        self.kept_data: tuple[socket.socket, str] | None = None
        self.transfer_task: asyncio.Task[object] | None = None
        self.progress: Progress | None = None
        self.abort_requested = False
        self.tls_active = False
        self.pbsz_done = False
        self.prot_private = False

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Greet the client, or refuse it when a connection limit is reached."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peername = transport.get_extra_info("peername")
        sockname = transport.get_extra_info("sockname")
        self.peer_host, self.peer_port = peername[0], peername[1]
        self.local_host, self.local_port = sockname[0], sockname[1]
        self.peer = peer_ip(self.peer_host)
        self.local_ip = peer_ip(self.local_host)
        refusal = self.server.admit(self)
        if refusal is not None:
            log.warning("refused %s: %s", self.peer, refusal)
            self.reply(ReplyCode.SERVICE_NOT_AVAILABLE, refusal)
            self._closing = True
            transport.close()
            return
        self._admitted = True
        if transport.get_extra_info("sslcontext") is not None:
            # Implicit FTPS: the connection is TLS from its first byte, and
            # clients expect protected data connections without asking.
            self.tls_active = self.pbsz_done = self.prot_private = True
        sock: socket.socket | None = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                # Urgent data (the Telnet Synch of ABOR) stays in the stream,
                # where the line reader strips it, instead of being lost.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE, 1)
        log.info("connect from %s port %d", self.peer, self.peer_port)
        self.reply(ReplyCode.SERVICE_READY, self.server.banner)
        limits = self.server.config.limits
        self._schedule_timer(min(limits.login_timeout, limits.idle_timeout))

    def connection_lost(self, exc: Exception | None) -> None:
        """Release everything the session holds: listener, transfer, runner, timer."""
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.close_data_channel()
        if self.transfer_task is not None:
            self.transfer_task.cancel()
        if self._runner is not None:
            self._runner.cancel()
        if self._admitted:
            self._admitted = False
            self.server.release(self)
            who = self.account.name if self.account else "-"
            log.info("disconnect %s (user %s)", self.peer, who)

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the transport reads to: the shared buffer (no per-session memory)."""
        return receive_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        """Feed the line reader and run whatever complete commands arrived."""
        self.last_activity = time.monotonic()
        self._reader.receive_data(receive_buffer()[:nbytes])
        self._drain_reader()

    def eof_received(self) -> bool | None:
        """The client half-closed: finish queued commands, then close."""
        self._reader.receive_data(b"")
        self._drain_reader()
        return True

    def pause_writing(self) -> None:
        """The client is not reading our replies: stop reading its commands."""
        if self.transport is not None and not self._paused:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        """The client caught up: read commands again."""
        if self.transport is not None and not self._paused:
            self.transport.resume_reading()

    # -- the command queue -----------------------------------------------------------

    def _drain_reader(self) -> None:
        while not self._closing:
            event = self._reader.next_event()
            if event is NEED_DATA:
                break
            if isinstance(event, EndOfStream):
                self._enqueue_close()
                break
            if isinstance(event, StreamCorrupt):
                log.warning(
                    "%s sent %d bytes without a line end; closing", self.peer, event.discarded
                )
                self.reply(ReplyCode.SERVICE_NOT_AVAILABLE, "Line too long; closing connection.")
                self.close()
                return
            assert isinstance(event, LineReceived | LineTooLong)
            if self.transfer_task is not None and self._handle_urgent(event):
                continue
            if self._queue is None:
                self._queue = collections.deque()
            self._queue.append(event)
            if len(self._queue) >= MAX_QUEUED:
                self._paused = True
                if self.transport is not None:
                    self.transport.pause_reading()
                break
        if self._queue and self._runner is None and not self._closing:
            self._runner = self.server.loop.create_task(self._run_queue())

    def _enqueue_close(self) -> None:
        """The client closed its side: answer what it queued, then close."""
        if self._runner is None and not self._queue:
            self.close()
            return
        if self._queue is None:
            self._queue = collections.deque()
        self._queue.append(LineReceived(text="QUIT"))

    async def _run_queue(self) -> None:
        try:
            while self._queue and not self._closing:
                event = self._queue.popleft()
                await self._throttle()
                await self._handle(event)
                if self._paused and len(self._queue) < MAX_QUEUED // 2:
                    self._paused = False
                    if self.transport is not None:
                        self.transport.resume_reading()
                    self._drain_reader_later()
        finally:
            self._runner = None
        if self._queue and not self._closing:
            self._runner = self.server.loop.create_task(self._run_queue())

    async def _throttle(self) -> None:
        """Token bucket: at most ``max_commands_per_second``, one second of burst.

        A flood of pipelined commands is slowed down, not refused, so a
        legitimate client that pipelines never sees an error.
        """
        rate = self.server.config.limits.max_commands_per_second
        now = time.monotonic()
        self._tokens = min(rate, self._tokens + (now - self._token_time) * rate)
        self._token_time = now
        if self._tokens < 1.0:
            await asyncio.sleep((1.0 - self._tokens) / rate)
            self._tokens = 1.0
            self._token_time = time.monotonic()
        self._tokens -= 1.0

    def _drain_reader_later(self) -> None:
        self.server.loop.call_soon(self._drain_reader)

    def _handle_urgent(self, event: Event) -> bool:
        """ABOR, STAT and QUIT during a transfer; True when handled here."""
        if not isinstance(event, LineReceived):
            return False
        command = parse_command(event.text)
        if command is None or command.verb not in URGENT:
            return False
        log.debug("%s <- %s (during transfer)", self.peer, command.verb)
        if command.verb == "ABOR":
            self.abort_requested = True
            assert self.transfer_task is not None
            self.transfer_task.cancel()
        elif command.verb == "STAT" and not command.arg.strip():
            progress = self.progress
            assert progress is not None
            self.reply(
                ReplyCode.SYSTEM_STATUS,
                "Transfer in progress:",
                f"{progress.direction} {progress.path} via {progress.mode}",
                f"{progress.bytes} bytes in {progress.seconds:.1f}s",
                "End of status",
            )
        elif command.verb == "STAT":
            return False
        else:
            assert self.transfer_task is not None
            self.transfer_task.cancel()
            self.reply(ReplyCode.CLOSING, "Goodbye; transfer aborted.")
            self.close()
        return True

    async def _handle(self, event: Event) -> None:
        if isinstance(event, LineTooLong):
            self.reply(
                ReplyCode.SYNTAX_ERROR, f"Command line too long (limit is {MAX_LINE} bytes)."
            )
            return
        command = parse_command(event.text)
        if command is None:
            if event.text.strip():
                self.reply(ReplyCode.SYNTAX_ERROR, "Syntax error, command unrecognized.")
            else:
                self.reply(ReplyCode.SYNTAX_ERROR, "Empty command line.")
            return
        verb, arg = command.verb, command.arg
        if log.isEnabledFor(logging.DEBUG):
            shown = "****" if verb == "PASS" else arg
            log.debug("%s <- %s %s", self.peer, verb, shown)
        spec = COMMANDS.get(verb)
        if spec is None:
            if verb in NOT_IMPLEMENTED:
                self.reply(ReplyCode.NOT_IMPLEMENTED, f"{verb} is not implemented.")
            else:
                self.reply(ReplyCode.SYNTAX_ERROR, f"Unknown command {verb}.")
            return
        rename_from, self.rename_from = self.rename_from, None
        if spec.needs_login and self.account is None:
            self.reply(ReplyCode.NOT_LOGGED_IN, "Please log in with USER and PASS first.")
            return
        if spec.arg is Arg.REQUIRED and not arg.strip():
            self.reply(ReplyCode.SYNTAX_ERROR_ARGS, f"Syntax: {spec.syntax}")
            return
        if spec.writes and self.account is not None and self.account.read_only:
            self.reply(ReplyCode.FILE_UNAVAILABLE, "Permission denied: this account is read-only.")
            return
        if verb == "RNTO":
            self.rename_from = rename_from
        handler = HANDLERS[spec.alias_of or verb]
        try:
            await handler(self, arg)
        except StorageError as exc:
            self.reply(exc.reply_code, exc.message)
        except PathError as exc:
            self.reply(ReplyCode.SYNTAX_ERROR_ARGS, f"Invalid path: {exc}.")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("internal error in %s from %s", verb, self.peer)
            self.reply(ReplyCode.LOCAL_ERROR, "Internal error; the session continues.")

    # -- helpers for handlers ----------------------------------------------------------

    def reply(self, code: int, *lines: str) -> None:
        """Send one reply (several lines make a multi-line reply)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        reply = Reply.of(code, *lines)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s -> %d %s", self.peer, reply.code, " | ".join(reply.lines))
        transport.write(reply.to_bytes())

    def resolve(self, argument: str) -> str:
        """A client path argument as a normalized virtual path inside the root."""
        return resolve(self.cwd, argument)

    def require_storage(self) -> Storage:
        """The logged-in user's storage (handlers run only after login)."""
        assert self.storage is not None
        return self.storage

    @property
    def data_protection_required(self) -> bool:
        """True when policy demands PROT P (server-wide or for this user)."""
        account = self.account
        return self.server.config.tls.require_data or (account is not None and account.tls_required)

    @property
    def writable(self) -> bool:
        """True when the logged-in account may write."""
        return self.account is not None and not self.account.read_only

    async def stat(self, path: str) -> FileStat:
        """Stat a virtual path in the user's storage."""
        return await self.require_storage().stat(path)

    def close_data_channel(self) -> None:
        """Drop a pending passive listener or PORT target, and a data
        connection kept open by block mode."""
        if self.passive is not None:
            self.passive.close()
            self.passive = None
        self.active = None
        if self.kept_data is not None:
            self.kept_data[0].close()
            self.kept_data = None

    def close(self) -> None:
        """Close the control connection after the replies already written."""
        self._closing = True
        if self.transport is not None:
            self.transport.close()

    def reset_login(self) -> None:
        """Forget the user and every per-login setting (REIN, a new USER)."""
        self.account = None
        self.storage = None
        self.pending_user = None
        self.cwd = "/"
        self.ascii_mode = False
        self.block_mode = False
        self.rest_offset = 0
        self.rename_from = None
        self.epsv_all = False
        self.mlst_facts = None
        self.close_data_channel()

    # -- time-outs ---------------------------------------------------------------------

    def _schedule_timer(self, delay: float) -> None:
        self._timer = self.server.loop.call_later(delay, self._check_timeouts)

    def _check_timeouts(self) -> None:
        """One timer per session, re-armed only when it fires: no churn per command."""
        self._timer = None
        if self._closing:
            return
        limits = self.server.config.limits
        now = time.monotonic()
        if self.account is None:
            deadline = self.connected_at + limits.login_timeout
            if now >= deadline:
                self.reply(ReplyCode.SERVICE_NOT_AVAILABLE, "Login timeout; closing connection.")
                log.info("login timeout for %s", self.peer)
                self.close()
                return
            deadline = min(deadline, self.last_activity + limits.idle_timeout)
        else:
            deadline = self.last_activity + limits.idle_timeout
        if now >= deadline and self.transfer_task is None and self._runner is None:
            self.reply(ReplyCode.SERVICE_NOT_AVAILABLE, "Idle timeout; closing connection.")
            log.info("idle timeout for %s", self.peer)
            self.close()
            return
        self._schedule_timer(max(deadline - now, 1.0))
