"""From command-line options to logged-in clients.

:class:`ClientSettings` is what the common options of every client command
say; :meth:`ClientSettings.client_config` turns it into the library's
:class:`~ftpferry.client.ClientConfig`.  A :class:`Connector` opens as many
logged-in clients for one URL as a command needs (``mirror --parallel 4``
needs four), asking for a password at most once: the first connection's
prompt is remembered and handed to the others, which would otherwise
each prompt again.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from dataclasses import dataclass

from ftpferry.client import AsyncFTPClient, ClientConfig, FTPTarget, Mode, parse_url

from .dialogue import set_connection_tag

__all__ = ["ClientSettings", "Connector"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSettings:
    """The options every client command shares.

    Attributes:
        mode: ``auto``, ``passive`` or ``active``.
        active_address: the address to advertise in active mode.
        active_ports: the ports to listen on in active mode.
        insecure: do not verify the server's certificate (FTPS).
        cafile: extra CA certificates (FTPS).
        implicit_tls: implicit FTPS, TLS from the first byte, whatever the
            URL's port (``ftps://`` alone means explicit FTPS except on 990).
        timeout: seconds for connecting, each reply and data stalls (None:
            the library's defaults).
        sync_mode: one command at a time, never EPSV sent ahead with the
            transfer command (lftp's ``ftp:sync-mode``), for servers and
            firewalls that drop commands sent ahead.
        block_mode: ask for MODE B and keep one data connection per
            control connection (``mirror`` sets it; see
            :attr:`ftpferry.client.ClientConfig.block_mode`).
        verbose: show the FTP dialogue.
        json: print one JSON document on stdout.
        quiet: no progress.
    """

    mode: Mode = "auto"
    active_address: str | None = None
    active_ports: tuple[int, int] | None = None
    insecure: bool = False
    cafile: str | None = None
    implicit_tls: bool = False
    timeout: float | None = None
    sync_mode: bool = False
    block_mode: bool = False
    verbose: bool = False
    json: bool = False
    quiet: bool = False

    def client_config(self, *, ask_password: bool) -> ClientConfig:
        """The library configuration; ValueError names a bad setting."""
        config = ClientConfig(
            mode=self.mode,
            active_address=self.active_address,
            active_ports=self.active_ports,
            verify=not self.insecure,
            cafile=self.cafile,
            implicit_tls=self.implicit_tls,
            pipeline=not self.sync_mode,
            block_mode=self.block_mode,
            ask_password=ask_password,
        )
        if self.timeout is None:
            return config
        return dataclasses.replace(
            config,
            connect_timeout=self.timeout,
            timeout=self.timeout,
            data_timeout=self.timeout,
        )


class Connector:
    """Opens logged-in clients for one URL (see the module docstring).

    Calling it (``await connector()``) returns a new connected client; it
    is the connect factory :func:`ftpferry.sync.mirror` expects.
    """

    def __init__(self, url: str, settings: ClientSettings, *, tag_connections: bool) -> None:
        self.url = url
        # The same reading of the URL the client makes when it connects
        # (port 990 by default with --implicit-tls), so that messages, JSON
        # and mv's same-server check name the server actually used.
        self.target: FTPTarget = parse_url(url, implicit_tls=settings.implicit_tls or None)
        self._password: str | None = None
        self._numbers = itertools.count(1)
        self._tag = tag_connections
        self.config = settings.client_config(ask_password=sys.stdin.isatty())
        if self.config.ask_password:
            self.config = dataclasses.replace(self.config, password_prompt=self._prompt)

    @property
    def path(self) -> str:
        """The URL's path, relative to the login directory ("" for it)."""
        return self.target.path

    def display_url(self, path: str | None = None) -> str:
        """The URL without its password (for messages and JSON)."""
        base = self.target.url()
        if path is None:
            return base
        head = base[: len(base) - len(self.target.path)]
        return head + path.lstrip("/")

    def _prompt(self, message: str) -> str:
        import getpass  # noqa: PLC0415 - start-up time: prompting is rare

        self._password = getpass.getpass(message)
        return self._password

    async def __call__(self) -> AsyncFTPClient:
        number = next(self._numbers)
        set_connection_tag(number if self._tag else None)
        client = AsyncFTPClient(self.config)
        await client.connect(self.url, password=self._password)
        return client
