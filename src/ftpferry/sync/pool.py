"""A bounded pool of logged-in clients for one server.

FTP does one thing at a time per control connection, so doing several
things at once (listing directories, transferring files) means several
connections.  :meth:`ClientPool.acquire` opens one when there is work
waiting for it and room in the pool.  The connections that scanned the
tree then carry the transfers, so their logins are paid once.

A mirror with ``parallel`` above one will have work for every connection
as soon as the tree's first level is listed, and a login is a few round
trips plus a password hash on the server; so :meth:`ClientPool.prewarm`
opens the rest in the background while the first connection lists the
root, instead of after.

A connection that breaks is discarded and a fresh one may take its place.
When the server refuses an additional connection (a per-address limit,
say), the pool shrinks to the connections it has instead of failing, as
long as it has at least one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from ftpferry.client import AsyncFTPClient, FTPError

__all__ = ["ClientPool", "ConnectFactory"]

log = logging.getLogger("ftpferry.sync")

ConnectFactory = Callable[[], Awaitable[AsyncFTPClient]]
"""Opens one more logged-in client."""


class ClientPool:
    """Up to ``size`` clients from ``connect`` (see the module docstring)."""

    def __init__(self, connect: ConnectFactory, size: int) -> None:
        if size < 1:
            raise ValueError("a pool needs room for at least one client")
        self._connect = connect
        self._size = size
        self._idle: list[AsyncFTPClient] = []
        self._live: list[AsyncFTPClient] = []
        self._opening = 0
        self._changed = asyncio.Condition()
        self._warming: set[asyncio.Task[None]] = set()
        self.opened = 0

    @property
    def size(self) -> int:
        """How many clients the pool may hold (less after a refused connection)."""
        return self._size

    @property
    def features_client(self) -> AsyncFTPClient | None:
        """Any live client, to read the server's features from."""
        return self._live[0] if self._live else None

    async def acquire(self) -> AsyncFTPClient:
        """An idle client, a newly opened one when there is room, else wait for one."""
        async with self._changed:
            while True:
                while self._idle:
                    client = self._idle.pop()
                    if client.connected:
                        return client
                    self._forget(client)
                if len(self._live) + self._opening < self._size:
                    self._opening += 1
                    break
                await self._changed.wait()
        try:
            client = await self._connect()
        except FTPError:
            async with self._changed:
                self._opening -= 1
                if not self._live and not self._opening:
                    raise
                self._shrink()
            return await self.acquire()
        async with self._changed:
            self._opened(client)
        return client

    def prewarm(self) -> None:
        """Start opening every connection the pool has room for, in the background.

        Each lands in the idle list when logged in; one the server refuses
        shrinks the pool as in :meth:`acquire`.
        """
        for _ in range(self._size - len(self._live) - self._opening):
            self._opening += 1
            task = asyncio.create_task(self._open_idle())
            self._warming.add(task)
            task.add_done_callback(self._warming.discard)

    async def _open_idle(self) -> None:
        try:
            client = await self._connect()
        except FTPError as exc:
            log.info("connection refused: %s", exc)
            async with self._changed:
                self._opening -= 1
                self._shrink()
            return
        async with self._changed:
            self._opened(client)
            self._idle.append(client)
            self._changed.notify()

    def _opened(self, client: AsyncFTPClient) -> None:
        """Count in a client that logged in (the lock is held)."""
        self._opening -= 1
        self._live.append(client)
        self.opened += 1

    def _shrink(self) -> None:
        """The server refused one more connection: make do with those there are
        (the lock is held)."""
        self._size = max(len(self._live) + self._opening, 1)
        log.warning("no more connections: going on with %d", self._size)
        self._changed.notify_all()

    async def release(self, client: AsyncFTPClient) -> None:
        """Give a client back (a broken one is dropped)."""
        async with self._changed:
            if client.connected:
                self._idle.append(client)
            else:
                self._forget(client)
            self._changed.notify()

    async def discard(self, client: AsyncFTPClient) -> None:
        """Drop a client whose connection broke, making room for a new one."""
        async with self._changed:
            self._forget(client)
            self._changed.notify()
        with contextlib.suppress(FTPError, OSError):
            await client.close()

    def _forget(self, client: AsyncFTPClient) -> None:
        if client in self._live:
            self._live.remove(client)

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[AsyncFTPClient]:
        """``async with pool.client() as client:`` acquire, then release."""
        client = await self.acquire()
        try:
            yield client
        finally:
            await self.release(client)

    async def close(self) -> None:
        """QUIT and close every client (after the logins still under way)."""
        if self._warming:
            await asyncio.gather(*self._warming, return_exceptions=True)
        clients, self._live, self._idle = self._live, [], []
        for client in clients:
            with contextlib.suppress(FTPError, OSError):
                await client.close()
