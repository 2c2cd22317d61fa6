"""The listening server: shared state of all sessions, start-up and shutdown.

:class:`FtpServer` owns what sessions share: the validated configuration,
the authenticator, the passive port pool, one storage object per home
directory, and the connection counters that enforce the limits.  Sessions
reach it through ``session.server``; nothing is a global or a class
attribute, so two servers in one process never share state.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging
import os
import resource
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from ftpferry import __version__
from ftpferry.storage import LocalStorage

from .addressing import PassiveAddressPlan
from .auth import Account, Authenticator
from .datachannel import PassivePortPool
from .defender import Defender
from .privileges import drop_privileges
from .tls import build_server_context, write_self_signed

if TYPE_CHECKING:
    from .config import ServerConfig
    from .session import Session

__all__ = ["FtpServer"]

log = logging.getLogger("ftpferry.server")


class FtpServer:
    """One FTP server: call :meth:`start`, then :meth:`close` to stop."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.authenticator = Authenticator(config)
        self.pool = PassivePortPool(config.passive_ports)
        self.defender = Defender(config.defender)
        self.banner = f"ftpferry {__version__} ready."
        self.addresses = PassiveAddressPlan(config.passive_address_map, config.masquerade_address)
        self.active_source_port: int | None = None
        self._refresher: asyncio.Task[None] | None = None
        self.tls_context: ssl.SSLContext | None = None
        self.tls_certificate: Path | None = None
        self._implicit: asyncio.Server | None = None
        self.implicit_port: int | None = None
        self._sessions: set[Session] = set()
        self._per_ip: collections.Counter[str] = collections.Counter()
        self._storages: dict[Path, LocalStorage] = {}
        self._server: asyncio.Server | None = None
        # The event loop serving the sessions, set by start().  Sessions schedule
        # their work on it directly: on Python 3.11 every asyncio.get_running_loop()
        # (asyncio.create_task too) makes a getpid system call, and asking for the
        # loop at each command and transfer made a fifth of the server's calls.
        self.loop: asyncio.AbstractEventLoop

    # -- shared services for sessions ---------------------------------------------------

    def admit(self, session: Session) -> str | None:
        """Count a new connection; the reason to refuse it when over a limit."""
        limits = self.config.limits
        ip = str(session.peer)
        banned = self.defender.ban_remaining(session.peer)
        if banned > 0:
            return f"Too many failed logins from {ip}; try again in {banned:.0f} seconds."
        if len(self._sessions) >= limits.max_connections:
            return "Too many connections; try again later."
        if self._per_ip[ip] >= limits.max_connections_per_ip:
            return f"Too many connections from {ip}; try again later."
        self._sessions.add(session)
        self._per_ip[ip] += 1
        return None

    def release(self, session: Session) -> None:
        """Forget a closed session."""
        self._sessions.discard(session)
        ip = str(session.peer)
        self._per_ip[ip] -= 1
        if self._per_ip[ip] <= 0:
            del self._per_ip[ip]

    @property
    def session_count(self) -> int:
        """Connected sessions right now."""
        return len(self._sessions)

    def storage_for(self, account: Account) -> LocalStorage:
        """One storage object per home directory, shared by its sessions."""
        storage = self._storages.get(account.home)
        if storage is None:
            storage = LocalStorage(account.home, umask=self.config.umask)
            self._storages[account.home] = storage
        return storage

    def passive_address_for(self, session: Session) -> ipaddress.IPv4Address:
        """The IPv4 address a PASV reply advertises to this session's client."""
        local = session.local_ip
        assert isinstance(local, ipaddress.IPv4Address)
        return self.addresses.choose(session.peer, local)[0]

    async def _refresh_addresses(self) -> None:
        """Follow dynamic DNS: re-resolve host names every ``resolve_interval``."""
        while True:
            await asyncio.sleep(self.config.resolve_interval)
            await self.addresses.refresh()

    # -- life cycle -----------------------------------------------------------------------

    @staticmethod
    def _raise_file_limit() -> None:
        """Lift the soft descriptor limit to the hard one: each client needs
        one descriptor for control and one per data connection, and the usual
        soft limit of 1024 would cap us far below ``max_connections``."""
        try:
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
            if soft < wanted:
                resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (OSError, ValueError) as exc:
            log.warning("cannot raise the open-file limit: %s", exc)

    def _prepare_directories(self) -> None:
        root = self.config.root
        root.mkdir(parents=True, exist_ok=True)
        for user in self.config.users:
            self.authenticator.home_of(user).mkdir(parents=True, exist_ok=True)

    def _prepare_tls(self) -> None:
        tls = self.config.tls
        if not tls.enabled:
            return
        if tls.self_signed:
            directory = self.config.root.resolve().parent
            cert, key = write_self_signed(directory, self.config.host)
        else:
            assert tls.cert is not None and tls.key is not None
            cert, key = tls.cert, tls.key
        self.tls_context = build_server_context(cert, key, minimum=tls.min_version)
        self.tls_certificate = cert

    async def start(self) -> None:
        """Create the root and homes, load TLS, then listen."""
        from .session import Session  # noqa: PLC0415 - session imports this module's types

        os.umask(self.config.umask)
        self._prepare_directories()
        self._prepare_tls()
        self._raise_file_limit()
        loop = self.loop = asyncio.get_running_loop()
        if self.config.tls.implicit_port is not None:
            self._implicit = await loop.create_server(
                lambda: Session(self),
                host=self.config.host,
                port=self.config.tls.implicit_port,
                reuse_address=True,
                backlog=1024,
                ssl=self.tls_context,
                ssl_handshake_timeout=self.config.limits.login_timeout,
            )
            self.implicit_port = int(self._implicit.sockets[0].getsockname()[1])
        self._server = await loop.create_server(
            lambda: Session(self),
            host=self.config.host,
            port=self.config.port,
            reuse_address=True,
            backlog=1024,
        )
        if self.config.active_source != "ephemeral" and self.port > 1:
            self.active_source_port = self.port - 1
        if self.config.run_as is not None:
            keeps_low_ports = drop_privileges(self.config.run_as)
            source = self.active_source_port
            if not keeps_low_ports and source is not None and source < 1024:
                self.active_source_port = None
        if self.addresses.has_names:
            self._refresher = loop.create_task(self._refresh_addresses())
        log.info("listening on %s port %d", self.config.host, self.port)

    @property
    def port(self) -> int:
        """The port actually bound (useful when the config asked for port 0)."""
        assert self._server is not None
        sockets = self._server.sockets
        return int(sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and close every session, aborting open transfers."""
        if self._refresher is not None:
            self._refresher.cancel()
        for listener in (self._server, self._implicit):
            if listener is not None:
                listener.close()
        for session in list(self._sessions):
            session.reply(421, "Server shutting down.")
            session.close()
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.sleep(0)
