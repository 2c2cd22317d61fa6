"""The blocking client: :class:`AsyncFTPClient` driven from a private thread.

Each :class:`FTPClient` owns one event loop running in a daemon thread;
every method submits the matching coroutine to it and waits for the
result.  That keeps one implementation of the protocol (the async one),
lets a blocking client live inside a program that already runs an event
loop of its own (``asyncio.run`` per call would fail there, and would also
lose the connection between calls), and means Ctrl+C in the calling thread
cancels the running operation cleanly.

Progress callbacks run in the client's thread, not the caller's.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import threading
from collections.abc import Coroutine, Iterator
from types import TracebackType
from typing import Any, Self, TypeVar, Unpack

from .asyncclient import AsyncFTPClient, ListingSource, LocalFile, WalkStep
from .config import ClientConfig, ClientOptions
from .datachannel import DataRoute
from .entries import Entry, Listing
from .errors import ReplyError
from .login import Session
from .loops import TreeWalk
from .replies import Features, Reply
from .transfer import ProgressCallback, TransferResult
from .urls import FTPTarget

__all__ = ["FTPClient"]

T = TypeVar("T")


class FTPClient:
    """A blocking FTP/FTPS client with the same methods as :class:`AsyncFTPClient`.

    Use it as a context manager (``with FTPClient.from_url(url) as ftp:``),
    or call :meth:`close` when done: that also stops its thread.
    """

    def __init__(
        self, config: ClientConfig | None = None, **options: Unpack[ClientOptions]
    ) -> None:
        self._client = AsyncFTPClient(config, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="ftpferry-client", daemon=True
        )
        self._thread.start()

    @classmethod
    def from_url(
        cls, url: str, config: ClientConfig | None = None, **options: Unpack[ClientOptions]
    ) -> Self:
        """A client for ``ftp://user:pass@host:port/path``; connects on ``with``."""
        client = cls(config, **options)
        client._client = AsyncFTPClient.from_url(url, client._client.config)
        return client

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop.is_closed():
            coroutine.close()
            raise RuntimeError("this FTPClient is closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result()
        except BaseException:
            # KeyboardInterrupt and friends in the calling thread: cancel the
            # operation in the loop thread and wait for it to clean up.
            if not future.done():
                future.cancel()
                with contextlib.suppress(BaseException):
                    future.result(timeout=15)
            raise

    # -- attributes --------------------------------------------------------------------

    @property
    def config(self) -> ClientConfig:
        """The client's settings."""
        return self._client.config

    @property
    def target(self) -> FTPTarget | None:
        """Where the client connects (or connected) to."""
        return self._client.target

    @property
    def connected(self) -> bool:
        """True while logged in over a usable control connection."""
        return self._client.connected

    @property
    def session(self) -> Session:
        """The logged-in session: greeting, user, password source, TLS state."""
        return self._client.session

    @property
    def features(self) -> Features:
        """The server's FEAT reply, parsed."""
        return self._client.features

    @property
    def last_route(self) -> DataRoute | None:
        """How the last data connection was made."""
        return self._client.last_route

    @property
    def last_data_command(self) -> str | None:
        """``EPSV``, ``PASV``, ``EPRT`` or ``PORT``: what carried the last transfer."""
        return self._client.last_data_command

    @property
    def last_transfer(self) -> TransferResult | None:
        """The result of the last download, upload or listing."""
        return self._client.last_transfer

    # -- connection ----------------------------------------------------------------------

    def connect(
        self,
        url_or_host: str | None = None,
        *,
        port: int | None = None,
        user: str | None = None,
        password: str | None = None,
        tls: bool | None = None,
        implicit_tls: bool | None = None,
    ) -> Reply:
        """Connect and log in (see :meth:`AsyncFTPClient.connect`)."""
        return self._run(
            self._client.connect(
                url_or_host,
                port=port,
                user=user,
                password=password,
                tls=tls,
                implicit_tls=implicit_tls,
            )
        )

    def close(self) -> None:
        """QUIT, close the connection and stop the client's thread."""
        if self._loop.is_closed():
            return
        try:
            self._run(self._client.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()

    def __enter__(self) -> Self:
        if not self._client.connected and self._client.target is not None:
            try:
                self.connect()
            except BaseException:
                self.close()
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- operations ----------------------------------------------------------------------

    def quote(self, line: str) -> Reply:
        """Send a raw command line; returns the final reply, whatever its code."""
        return self._run(self._client.quote(line))

    def site(self, command: str) -> Reply:
        """Send ``SITE command``; returns the reply (see :meth:`AsyncFTPClient.site`)."""
        return self._run(self._client.site(command))

    def pwd(self) -> str:
        """The current remote directory."""
        return self._run(self._client.pwd())

    def cwd(self, path: str) -> None:
        """Change the remote directory."""
        self._run(self._client.cwd(path))

    def mkdir(self, path: str) -> str:
        """Create a directory; returns its path as the server reports it."""
        return self._run(self._client.mkdir(path))

    def rmdir(self, path: str) -> None:
        """Remove an empty directory."""
        self._run(self._client.rmdir(path))

    def remove(self, path: str) -> None:
        """Delete a file."""
        self._run(self._client.remove(path))

    def rename(self, source: str, target: str) -> None:
        """Rename or move ``source`` to ``target``."""
        self._run(self._client.rename(source, target))

    def size(self, path: str) -> int:
        """Size in bytes of a remote file."""
        return self._run(self._client.size(path))

    def mtime(self, path: str) -> datetime.datetime:
        """Modification time of a remote file, UTC."""
        return self._run(self._client.mtime(path))

    def set_mtime(self, path: str, when: datetime.datetime | float) -> None:
        """Set a remote file's modification time (MFMT)."""
        self._run(self._client.set_mtime(path, when))

    def checksum(self, path: str, algorithm: str = "sha256") -> str:
        """A remote file's digest as lower-case hex, computed by the server."""
        return self._run(self._client.checksum(path, algorithm))

    def listdir(self, path: str = "", *, source: ListingSource = "auto") -> Listing:
        """The entries of a remote directory (``source="LIST"``: LIST even with MLSD)."""
        return self._run(self._client.listdir(path, source=source))

    def nlst(self, path: str = "") -> list[str]:
        """Bare names in a remote directory (NLST; see :meth:`AsyncFTPClient.nlst`)."""
        return self._run(self._client.nlst(path))

    def stat(self, path: str) -> Entry:
        """Facts about one remote path."""
        return self._run(self._client.stat(path))

    def walk(self, path: str = "") -> Iterator[WalkStep]:
        """Walk a remote tree top-down, like :func:`os.walk` (see the async version)."""
        walk = TreeWalk(path)
        first = True
        while (current := walk.next_path()) is not None:
            try:
                listing = self.listdir(current)
            except ReplyError:
                if first:
                    raise
                continue
            first = False
            step = walk.visit(listing)
            if step is not None:
                yield step
                walk.descend(step)

    def download(
        self,
        remote: str,
        local: LocalFile,
        *,
        resume: bool = False,
        offset: int | None = None,
        ascii_mode: bool = False,
        progress: ProgressCallback | None = None,
        size: int | None = None,
        follow_symlinks: bool = True,
    ) -> TransferResult:
        """Download ``remote`` into a local path or binary stream."""
        return self._run(
            self._client.download(
                remote,
                local,
                resume=resume,
                offset=offset,
                ascii_mode=ascii_mode,
                progress=progress,
                size=size,
                follow_symlinks=follow_symlinks,
            )
        )

    def upload(
        self,
        local: LocalFile,
        remote: str,
        *,
        resume: bool = False,
        ascii_mode: bool = False,
        progress: ProgressCallback | None = None,
    ) -> TransferResult:
        """Upload a local path or binary stream to ``remote``."""
        return self._run(
            self._client.upload(
                local, remote, resume=resume, ascii_mode=ascii_mode, progress=progress
            )
        )
