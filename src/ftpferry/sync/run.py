"""One mirror run from start to end: connect, scan both sides, plan, execute.

Kept apart from the executor so the steps a caller may want to see (the
plan before anything happens, for a progress bar's total) have a hook,
and so the executor can be driven with a hand-made plan in tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .exclude import Exclusions
from .execute import MirrorTarget, execute_plan
from .links import make_links
from .plan import MirrorPlan, plan_mirror
from .pool import ClientPool, ConnectFactory
from .report import Direction, MirrorError, MirrorObserver, MirrorReport, NullObserver
from .tree import scan_local, scan_remote

__all__ = ["MirrorJob", "mirror"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MirrorJob:
    """What to mirror.

    Attributes:
        direction: ``download`` (remote tree into a local directory) or
            ``upload`` (``mirror --reverse``).
        remote_root: the remote directory, relative to the login directory.
        local_root: the local directory.
        delete: remove target entries the source does not have.
        parallel: connections sharing the transfers.
        symlinks: downloads make the remote symbolic links as local ones
            (and list each directory with LIST as well as MLSD to find
            them, see :mod:`.listings`); False skips remote links.
        exclude: glob patterns of entries to leave out on both sides
            (see :mod:`.exclude`); a bad pattern is a ``ValueError``.
        dry_run: scan and plan, change nothing: the report's plan says
            what a real run would do.
    """

    direction: Direction
    remote_root: str
    local_root: Path
    delete: bool = False
    parallel: int = 1
    symlinks: bool = True
    exclude: tuple[str, ...] = ()
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.parallel < 1:
            raise ValueError("parallel must be at least 1")
        Exclusions(self.exclude)  # refuse a bad pattern before connecting


async def mirror(
    job: MirrorJob,
    connect: ConnectFactory,
    *,
    observer: MirrorObserver | None = None,
    on_plan: Callable[[MirrorPlan], object] | None = None,
) -> MirrorReport:
    """Mirror one tree; connection and listing failures of the root are raised.

    ``connect`` opens a logged-in client; it is called when the scan or
    the transfers have work for one more connection, up to ``parallel``
    (see :mod:`.pool`).  ``on_plan`` sees the plan before anything is changed.
    """
    started = time.monotonic()
    exclude = Exclusions(job.exclude)
    pool = ClientPool(connect, job.parallel)
    try:
        # The first connection before anything else: a refused login or an
        # unreachable server is then the error, not a side effect of the scan.
        await pool.release(await pool.acquire())
        pool.prewarm()
        download = job.direction == "download"
        # A download's target is scanned without following links: they are
        # replaced, never written through.  Its source's links are recreated.
        remote_tree, local_tree = await asyncio.gather(
            scan_remote(pool, job.remote_root, links=download and job.symlinks, exclude=exclude),
            asyncio.to_thread(scan_local, job.local_root, links=download, exclude=exclude),
        )
        if download:
            if not remote_tree.exists:
                raise FileNotFoundError(f"no remote directory {job.remote_root or '/'!r}")
            source, target_tree = remote_tree, local_tree
            exact_times = True
        else:
            if not local_tree.exists:
                raise FileNotFoundError(f"no local directory {str(job.local_root)!r}")
            source, target_tree = local_tree, remote_tree
            some_client = pool.features_client
            exact_times = some_client is not None and "MFMT" in some_client.features
        plan = plan_mirror(source, target_tree, delete=job.delete, exact_times=exact_times)
        if on_plan is not None:
            on_plan(plan)
        if job.dry_run:
            return MirrorReport(
                direction=job.direction,
                plan=plan,
                errors=_conflict_errors(plan),
                seconds=time.monotonic() - started,
                connections=0,
                dry_run=True,
            )
        target = MirrorTarget(
            direction=job.direction,
            remote_root=job.remote_root,
            local_root=job.local_root,
            parallel=job.parallel,
            exact_times=exact_times,
        )
        done = await execute_plan(target, plan, pool, observer or NullObserver())
    finally:
        await pool.close()
    # Last, once every byte is written: no link made here can be in a write's way.
    linked = await make_links(job.local_root, plan.links)
    errors = (*_conflict_errors(plan), *done.errors, *linked.errors)
    return MirrorReport(
        direction=job.direction,
        plan=plan,
        transfers=done.transfers,
        created=done.created,
        removed=done.removed,
        links=linked.made,
        errors=errors,
        seconds=time.monotonic() - started,
        connections=done.connections,
    )


def _conflict_errors(plan: MirrorPlan) -> tuple[MirrorError, ...]:
    """The paths the plan leaves alone because only ``delete`` may clear them."""
    return tuple(
        MirrorError(path=conflict.path, stage="conflict", message=conflict.reason)
        for conflict in plan.conflicts
    )
