"""Carrying out a mirror plan over N control connections sharing one queue.

Theory of operation
-------------------
The phases of a :class:`~.plan.MirrorPlan` run in order.  Everything but
the transfers is cheap and order-sensitive (a directory before its files,
files before their directory's removal), so it runs on one connection.
The transfers go into one queue, largest first, served by up to
``parallel`` workers, each with its own control connection: FTP allows one
transfer per connection at a time, so parallelism means connections.
Worker 0 uses the connection that scanned the tree; the others connect as
they start, and a worker that cannot connect just leaves the queue to the
rest.

A file that fails with a permanent reply (550) or a local error is
recorded and the queue goes on.  A file that fails because the connection
was lost, timed out, or the data connection failed or was refused for now
(4xx) is tried once more, on a fresh connection when the old one is gone,
and resumes from what the first attempt left behind (REST for downloads,
SIZE + APPE for uploads), so nothing arrives twice.

A downloaded file gets the source's modification time with ``os.utime``;
an uploaded one with MFMT when the server offers it.  A copy gets its
time only once complete, which is what lets the planner tell an
interrupted copy (newer than its source) from an outdated one (older).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from ftpferry.client import (
    AsyncFTPClient,
    ConnectionLost,
    DataConnectionError,
    FTPError,
    FTPTimeout,
    ReplyError,
    TemporaryError,
    TransferResult,
    UnsupportedCommand,
)

from .plan import MirrorPlan, Removal, Transfer
from .remote import make_dirs
from .report import Direction, MirrorError, MirrorObserver, TransferOutcome
from .tree import remote_path

__all__ = ["ConnectFactory", "MirrorTarget", "execute_plan", "local_path"]

log = logging.getLogger("ftpferry.sync")

ConnectFactory = Callable[[], Awaitable[AsyncFTPClient]]
"""Opens one more logged-in client (called from the worker that will use it)."""

RETRYABLE: tuple[type[Exception], ...] = (
    ConnectionLost,
    FTPTimeout,
    DataConnectionError,
    TemporaryError,
)
"""Failures worth a second attempt: the file itself is fine, the path to it was not."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MirrorTarget:
    """The two roots of a mirror run and which way the files go.

    Attributes:
        direction: ``download`` copies remote to local, ``upload`` the reverse.
        remote_root: path relative to the login directory ("" for it).
        local_root: the local directory.
        parallel: connections for the transfers (at least 1).
        exact_times: the target keeps modification times (for uploads:
            the server offers MFMT).
    """

    direction: Direction
    remote_root: str
    local_root: Path
    parallel: int = 1
    exact_times: bool = True

    def __post_init__(self) -> None:
        if self.parallel < 1:
            raise ValueError("parallel must be at least 1")


def local_path(root: Path, relative: str) -> Path:
    """A tree path under a local root."""
    return root.joinpath(*relative.split("/")) if relative else root


class _NoConnection(Exception):
    """A worker could not (re)connect: it stops and leaves its file to the others."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, FTPError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return str(exc)


class _Run:
    """The state of one execution: clients per slot, queue, results."""

    def __init__(
        self,
        target: MirrorTarget,
        plan: MirrorPlan,
        first: AsyncFTPClient,
        connect: ConnectFactory,
        observer: MirrorObserver,
    ) -> None:
        self.target = target
        self.plan = plan
        self.connect = connect
        self.observer = observer
        self.clients: list[AsyncFTPClient | None] = [first]
        self.owned: list[AsyncFTPClient] = []
        self.queue = collections.deque(plan.transfers)
        self.outcomes: list[TransferOutcome] = []
        self.created: list[str] = []
        self.removed: list[Removal] = []
        self.errors: list[MirrorError] = []
        self.connections = 1

    # -- connections ----------------------------------------------------------------------

    async def client_for(self, slot: int) -> AsyncFTPClient:
        """The slot's client, (re)connected when it is missing or broken."""
        while len(self.clients) <= slot:
            self.clients.append(None)
        client = self.clients[slot]
        if client is not None and client.connected:
            return client
        if client is not None:
            with contextlib.suppress(FTPError, OSError):
                await client.close()
        fresh = await self.connect()
        self.owned.append(fresh)
        self.clients[slot] = fresh
        if slot > 0 and client is None:
            self.connections += 1
        return fresh

    async def any_client(self) -> AsyncFTPClient:
        """A usable client for the sequential phases."""
        for client in self.clients:
            if client is not None and client.connected:
                return client
        return await self.client_for(0)

    async def close_owned(self) -> None:
        """Close the clients this run opened (not the caller's first one)."""
        for client in self.owned:
            with contextlib.suppress(FTPError, OSError):
                await client.close()

    # -- the sequential phases ----------------------------------------------------------------

    async def remove(self, removal: Removal) -> None:
        """Remove one target file or (empty) directory; failures are recorded."""
        error: str | None = None
        try:
            if self.target.direction == "download":
                path = local_path(self.target.local_root, removal.path)
                await asyncio.to_thread(os.rmdir if removal.is_dir else os.unlink, path)
            else:
                client = await self.any_client()
                remote = remote_path(self.target.remote_root, removal.path)
                await (client.rmdir(remote) if removal.is_dir else client.remove(remote))
        except (FTPError, OSError) as exc:
            error = _describe(exc)
            self.errors.append(MirrorError(path=removal.path, stage="remove", message=error))
        else:
            self.removed.append(removal)
        self.observer.removed(removal, error)

    async def make_dir(self, relative: str) -> bool:
        """Create one target directory (the root and its parents when ``relative`` is "")."""
        try:
            if self.target.direction == "download":
                path = local_path(self.target.local_root, relative)
                await asyncio.to_thread(path.mkdir, parents=not relative, exist_ok=not relative)
            else:
                client = await self.any_client()
                remote = remote_path(self.target.remote_root, relative)
                if relative:
                    await client.mkdir(remote)
                else:
                    await make_dirs(client, remote)
        except (FTPError, OSError) as exc:
            message = f"cannot create the directory: {_describe(exc)}"
            self.errors.append(MirrorError(path=relative, stage="mkdir", message=message))
            return False
        self.created.append(relative)
        return True

    # -- the transfers --------------------------------------------------------------------

    async def worker(self, slot: int) -> None:
        """Take files off the queue until it is empty."""
        if slot > 0 and self.queue:
            try:
                await self.client_for(slot)
            except FTPError as exc:
                log.warning("connection %d: %s; the others go on", slot + 1, exc)
                return
        while self.queue:
            item = self.queue.popleft()
            self.observer.item_started(slot, item)
            try:
                outcome = await self.transfer(slot, item)
            except _NoConnection as exc:
                self.queue.appendleft(item)
                log.warning("connection %d: %s; the others go on", slot + 1, exc)
                return
            self.outcomes.append(outcome)
            if outcome.error is not None:
                self.errors.append(
                    MirrorError(path=item.path, stage="transfer", message=outcome.error)
                )
            self.observer.item_finished(slot, outcome)

    async def transfer(self, slot: int, item: Transfer) -> TransferOutcome:
        """One file, with one more attempt after a connection-level failure."""
        direction = self.target.direction
        for attempt in (1, 2):
            try:
                client = await self.client_for(slot)
            except FTPError as exc:
                raise _NoConnection(_describe(exc)) from exc
            try:
                return await self._move(client, slot, item, attempt)
            except RETRYABLE as exc:
                if attempt == 2:
                    return TransferOutcome(
                        item=item, direction=direction, error=_describe(exc), attempts=attempt
                    )
                log.warning("%s: %s; trying again", item.path, exc)
            except (FTPError, OSError) as exc:
                return TransferOutcome(
                    item=item, direction=direction, error=_describe(exc), attempts=attempt
                )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _move(
        self, client: AsyncFTPClient, slot: int, item: Transfer, attempt: int
    ) -> TransferOutcome:
        local = local_path(self.target.local_root, item.path)
        remote = remote_path(self.target.remote_root, item.path)
        observer = self.observer

        def progress(done: int, total: int | None) -> None:
            observer.item_progress(slot, item, done, total)

        result: TransferResult
        mtime_set = False
        if self.target.direction == "download":
            if attempt == 1:
                result = await client.download(
                    remote, local, offset=item.offset or None, progress=progress
                )
            else:
                result = await client.download(remote, local, resume=True, progress=progress)
            if item.mtime is not None:
                os.utime(local, (item.mtime, item.mtime))
                mtime_set = True
        else:
            resume = attempt > 1 or item.offset > 0
            result = await client.upload(local, remote, resume=resume, progress=progress)
            if self.target.exact_times and item.mtime is not None:
                try:
                    await client.set_mtime(remote, item.mtime)
                    mtime_set = True
                except (UnsupportedCommand, ReplyError) as exc:
                    log.info("%s: modification time not set: %s", remote, exc)
        route = result.route
        return TransferOutcome(
            item=item,
            direction=self.target.direction,
            transferred=result.transferred,
            offset=result.offset,
            seconds=result.seconds,
            mode=route.mode if route is not None else None,
            data_command=route.command if route is not None else None,
            mtime_set=mtime_set,
            attempts=attempt,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionResult:
    """What :func:`execute_plan` did (the parts of a report it knows)."""

    transfers: tuple[TransferOutcome, ...]
    created: tuple[str, ...]
    removed: tuple[Removal, ...]
    errors: tuple[MirrorError, ...]
    connections: int


async def execute_plan(
    target: MirrorTarget,
    plan: MirrorPlan,
    first: AsyncFTPClient,
    connect: ConnectFactory,
    observer: MirrorObserver,
) -> ExecutionResult:
    """Run ``plan`` (see the module docstring); ``first`` stays open for the caller."""
    run = _Run(target, plan, first, connect, observer)
    try:
        for removal in plan.clear:
            await run.remove(removal)
        if plan.create_root and not await run.make_dir(""):
            run.queue.clear()
            return _result(run)
        failed_dirs: list[str] = []
        for relative in plan.mkdirs:
            if any(relative.startswith(bad + "/") for bad in failed_dirs):
                continue
            if not await run.make_dir(relative):
                failed_dirs.append(relative)
        if failed_dirs:
            run.queue = collections.deque(
                item
                for item in run.queue
                if not any(item.path.startswith(bad + "/") for bad in failed_dirs)
            )
        workers = min(target.parallel, len(run.queue))
        async with asyncio.TaskGroup() as group:
            for slot in range(workers):
                group.create_task(run.worker(slot))
        for item in run.queue:  # left over when every connection was lost
            message = "not transferred: no usable connection"
            run.errors.append(MirrorError(path=item.path, stage="connection", message=message))
        for path in plan.delete_files:
            await run.remove(Removal(path=path, is_dir=False))
        for path in plan.delete_dirs:
            await run.remove(Removal(path=path, is_dir=True))
    finally:
        await run.close_owned()
    return _result(run)


def _result(run: _Run) -> ExecutionResult:
    return ExecutionResult(
        transfers=tuple(run.outcomes),
        created=tuple(run.created),
        removed=tuple(run.removed),
        errors=tuple(run.errors),
        connections=run.connections,
    )
