"""Carrying out a mirror plan over N control connections sharing one queue.

Theory of operation
-------------------
The phases of a :class:`~.plan.MirrorPlan` run in order.  Everything but
the transfers is cheap and order-sensitive (a directory before its files,
files before their directory's removal), so it runs on one connection.
The transfers go into one queue, largest first, served by up to
``parallel`` workers, each holding one client of a :class:`~.pool.ClientPool`
for its life: FTP allows one transfer per connection at a time, so
parallelism means connections.  The connections that scanned the tree are
re-used; a worker that cannot get one leaves the queue to the others.

A file that fails with a permanent reply (550) or a local error is
recorded and the queue goes on.  A file that fails because the connection
was lost, timed out, or the data connection failed or was refused for now
(4xx) is tried once more, on a fresh connection when the old one is gone,
and resumes from what the first attempt left behind (REST for downloads,
SIZE + APPE for uploads), so nothing arrives twice.  A server that refuses
to continue a partial copy (ProFTPD answers APPE and REST before STOR with
``451 Append/Restart not permitted`` unless ``AllowStoreRestart`` is on)
gets the whole file instead: without that, the copy could never be
completed, by this run or any later one.

A downloaded file gets the source's modification time with ``os.utime``;
an uploaded one with MFMT when the server offers it.  A copy gets its
time only once complete, which is what lets the planner tell an
interrupted copy (newer than its source) from an outdated one (older).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
from collections.abc import Sequence
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
from .pool import ClientPool
from .remote import make_dirs, unlink_if_link
from .report import Direction, MirrorError, MirrorObserver, TransferOutcome
from .tree import remote_path

__all__ = ["ExecutionResult", "MirrorTarget", "execute_plan", "local_path"]

log = logging.getLogger("ftpferry.sync")

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


def _refused(exc: BaseException) -> bool:
    """A refusal by the server (4xx/5xx, or a command it lacks), as against a lost
    connection: what ProFTPD answers APPE and REST with by default (``451
    Append/Restart not permitted``), and a retry of the same would get again."""
    refusal = isinstance(exc, ReplyError | UnsupportedCommand)
    return refusal and not isinstance(exc, ConnectionLost)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, FTPError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return str(exc)


class _Run:
    """The state of one execution: the pool, the queue, the results."""

    def __init__(
        self,
        target: MirrorTarget,
        plan: MirrorPlan,
        pool: ClientPool,
        observer: MirrorObserver,
    ) -> None:
        self.target = target
        self.plan = plan
        self.pool = pool
        self.observer = observer
        self.queue = collections.deque(plan.transfers)
        self.local_root = os.fspath(target.local_root)
        self.outcomes: list[TransferOutcome] = []
        self.created: list[str] = []
        self.removed: list[Removal] = []
        self.errors: list[MirrorError] = []

    # -- the sequential phases ----------------------------------------------------------------

    async def remove_all(self, removals: Sequence[Removal]) -> None:
        """Carry out ``removals`` in order (files before their directories).

        On the server, each directory to remove with its contents is first
        tried as a symbolic link (:func:`.remote.unlink_if_link`): a server
        that lists a link to a directory as the directory would otherwise
        have its contents, the files of the directory it leads to, deleted.
        """
        links: list[str] = []
        if self.target.direction == "upload":
            for top in _top_dirs(removals):
                remote = remote_path(self.target.remote_root, top)
                try:
                    async with self.pool.client() as client:
                        unlinked = await unlink_if_link(client, remote)
                except FTPError:  # no connection: the removals below say so, one by one
                    unlinked = False
                if unlinked:
                    links.append(top)
                    removal = Removal(path=top, is_dir=False, is_link=True)
                    self.removed.append(removal)
                    self.observer.removed(removal, None)
        for removal in removals:
            if not any(removal.path == top or removal.path.startswith(top + "/") for top in links):
                await self.remove(removal)

    async def remove(self, removal: Removal) -> None:
        """Remove one target file or (empty) directory; failures are recorded."""
        error: str | None = None
        try:
            if self.target.direction == "download":
                path = local_path(self.target.local_root, removal.path)
                await asyncio.to_thread(os.rmdir if removal.is_dir else os.unlink, path)
            else:
                remote = remote_path(self.target.remote_root, removal.path)
                async with self.pool.client() as client:
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
                remote = remote_path(self.target.remote_root, relative)
                async with self.pool.client() as client:
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
        """Take files off the queue until it is empty, on one client of the pool."""
        client: AsyncFTPClient | None = None
        try:
            while self.queue:
                if client is None:
                    try:
                        client = await self.pool.acquire()
                    except FTPError as exc:
                        log.warning("connection %d: %s; the others go on", slot + 1, exc)
                        return
                    if not self.queue:
                        break
                item = self.queue.popleft()
                self.observer.item_started(slot, item)
                outcome, client = await self.transfer(slot, item, client)
                if outcome is None:  # no connection any more: leave the file to the others
                    self.queue.appendleft(item)
                    return
                self.outcomes.append(outcome)
                if outcome.error is not None:
                    self.errors.append(
                        MirrorError(path=item.path, stage="transfer", message=outcome.error)
                    )
                self.observer.item_finished(slot, outcome)
        finally:
            if client is not None:
                await self.pool.release(client)

    async def transfer(
        self, slot: int, item: Transfer, client: AsyncFTPClient
    ) -> tuple[TransferOutcome | None, AsyncFTPClient | None]:
        """One file, with one more attempt after a connection-level failure.

        Returns the outcome and the client to go on with; (None, None) when
        the connection broke and no new one could be had.
        """
        direction = self.target.direction
        retried = whole = False
        for attempt in (1, 2, 3):
            if not client.connected:
                await self.pool.discard(client)
                try:
                    client = await self.pool.acquire()
                except FTPError as exc:
                    log.warning("connection %d: %s; the others go on", slot + 1, exc)
                    return None, None
            continues = not whole and (item.offset > 0 or attempt > 1)
            try:
                return await self._move(client, slot, item, attempt, whole=whole), client
            except (FTPError, OSError) as exc:
                if continues and _refused(exc):
                    log.warning(
                        "%s: continuing the partial copy was refused (%s); sending all of it",
                        item.path,
                        exc,
                    )
                    whole = True
                elif isinstance(exc, RETRYABLE) and not retried:
                    log.warning("%s: %s; trying again", item.path, exc)
                    retried = True
                else:
                    error = TransferOutcome(
                        item=item, direction=direction, error=_describe(exc), attempts=attempt
                    )
                    return error, client
        # Each way to go on (the whole file after a refused resume, one retry
        # after a lost connection) is taken once: the third attempt returns.
        raise AssertionError("unreachable")  # pragma: no cover

    async def _move(
        self, client: AsyncFTPClient, slot: int, item: Transfer, attempt: int, *, whole: bool
    ) -> TransferOutcome:
        """Copy one file: from where a partial copy ends on a resume or a second
        attempt, from its start on the first attempt of a new file or ``whole``."""
        # A string, not a Path: a mirror of many small files feels every object per file.
        local = os.path.join(self.local_root, *item.path.split("/"))
        remote = remote_path(self.target.remote_root, item.path)
        observer = self.observer

        def progress(done: int, total: int | None) -> None:
            observer.item_progress(slot, item, done, total)

        result: TransferResult
        mtime_set = False
        if self.target.direction == "download":
            # follow_symlinks=False: never write through a link (see .links).
            if attempt == 1 or whole:
                result = await client.download(
                    remote,
                    local,
                    offset=None if whole else item.offset or None,
                    progress=progress,
                    size=item.size,
                    follow_symlinks=False,
                )
            else:
                result = await client.download(
                    remote,
                    local,
                    resume=True,
                    progress=progress,
                    size=item.size,
                    follow_symlinks=False,
                )
            if item.mtime is not None:
                os.utime(local, (item.mtime, item.mtime))
                mtime_set = True
        else:
            resume = not whole and (attempt > 1 or item.offset > 0)
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
    target: MirrorTarget, plan: MirrorPlan, pool: ClientPool, observer: MirrorObserver
) -> ExecutionResult:
    """Run ``plan`` (see the module docstring); the pool stays open for the caller."""
    run = _Run(target, plan, pool, observer)
    await run.remove_all(plan.clear)
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
    await run.remove_all(
        [
            *(Removal(path=path, is_dir=False) for path in plan.delete_files),
            *(Removal(path=path, is_dir=True) for path in plan.delete_dirs),
        ]
    )
    return _result(run)


def _top_dirs(removals: Sequence[Removal]) -> list[str]:
    """The directories of ``removals`` not inside another one of them."""
    dirs = sorted(removal.path for removal in removals if removal.is_dir)
    tops: list[str] = []
    for path in dirs:  # sorted: a directory comes before what is inside it
        if not any(path.startswith(top + "/") for top in tops):
            tops.append(path)
    return tops


def _result(run: _Run) -> ExecutionResult:
    return ExecutionResult(
        transfers=tuple(run.outcomes),
        created=tuple(run.created),
        removed=tuple(run.removed),
        errors=tuple(run.errors),
        connections=run.pool.opened,
    )
