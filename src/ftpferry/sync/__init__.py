"""Mirroring directory trees between the local disk and an FTP server.

The work is split by job:

* :mod:`.tree` reduces a local directory or a remote one to a :class:`Tree`
  (paths, sizes, modification times, symbolic links, what was skipped);
  :mod:`.listings` tells it which remote names are links, and
  :mod:`.exclude` which names ``--exclude`` leaves out;
* :mod:`.plan` compares two trees and returns a :class:`MirrorPlan`: what
  to create, transfer (new, changed, or resumed from a partial copy) and,
  with ``delete``, remove; pure, no I/O;
* :mod:`.execute` carries a plan out over ``parallel`` connections that
  share one queue, retrying a file once after a lost connection;
* :mod:`.pool` opens those connections on demand and re-uses the ones
  that scanned the tree;
* :mod:`.links` makes a download's symbolic links, last, and never
  through another link;
* :mod:`.run` ties them together (:func:`mirror`), and :mod:`.report`
  holds what a run reports, and the observer interface for progress;
* :mod:`.remote` has the tree operations FTP lacks (``mkdir -p``, ``rm -r``).

Example (``block_mode=True``: one data connection per control connection
for all the files, where the server offers MODE B; see
:class:`ftpferry.client.ClientConfig`)::

    async def connect() -> AsyncFTPClient:
        client = AsyncFTPClient.from_url(url, block_mode=True)
        await client.connect()
        return client

    report = await mirror(
        MirrorJob(direction="download", remote_root="site", local_root=Path("site"),
                  parallel=4),
        connect,
    )
    print(report.transferred_bytes, report.errors)

The names are loaded from their modules on first use (see
:mod:`ftpferry.lazy`): ``ftpferry put`` needs only the plan and report
types, not the executor and the tree scanners.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ftpferry.lazy import lazy_exports

if TYPE_CHECKING:
    from .exclude import Exclusions
    from .execute import ExecutionResult, MirrorTarget, execute_plan, local_path
    from .links import LinkResult, make_links
    from .listings import DirectoryEntries, directory_entries
    from .plan import Conflict, Link, MirrorPlan, Removal, Transfer, leaves_root, plan_mirror
    from .pool import ClientPool, ConnectFactory
    from .remote import is_remote_dir, make_dirs, remove_tree
    from .report import (
        Direction,
        MirrorError,
        MirrorObserver,
        MirrorReport,
        NullObserver,
        TransferOutcome,
    )
    from .run import MirrorJob, mirror
    from .tree import FileState, LinkState, Skipped, Tree, remote_path, scan_local, scan_remote

_HOMES: Final = {
    "Exclusions": "exclude",
    "ExecutionResult": "execute",
    "MirrorTarget": "execute",
    "execute_plan": "execute",
    "local_path": "execute",
    "LinkResult": "links",
    "make_links": "links",
    "DirectoryEntries": "listings",
    "directory_entries": "listings",
    "Conflict": "plan",
    "Link": "plan",
    "MirrorPlan": "plan",
    "Removal": "plan",
    "Transfer": "plan",
    "leaves_root": "plan",
    "plan_mirror": "plan",
    "ClientPool": "pool",
    "ConnectFactory": "pool",
    "is_remote_dir": "remote",
    "make_dirs": "remote",
    "remove_tree": "remote",
    "Direction": "report",
    "MirrorError": "report",
    "MirrorObserver": "report",
    "MirrorReport": "report",
    "NullObserver": "report",
    "TransferOutcome": "report",
    "MirrorJob": "run",
    "mirror": "run",
    "FileState": "tree",
    "LinkState": "tree",
    "Skipped": "tree",
    "Tree": "tree",
    "remote_path": "tree",
    "scan_local": "tree",
    "scan_remote": "tree",
}

__all__ = [
    "ClientPool",
    "Conflict",
    "ConnectFactory",
    "Direction",
    "DirectoryEntries",
    "Exclusions",
    "ExecutionResult",
    "FileState",
    "Link",
    "LinkResult",
    "LinkState",
    "MirrorError",
    "MirrorJob",
    "MirrorObserver",
    "MirrorPlan",
    "MirrorReport",
    "MirrorTarget",
    "NullObserver",
    "Removal",
    "Skipped",
    "Transfer",
    "TransferOutcome",
    "Tree",
    "directory_entries",
    "execute_plan",
    "is_remote_dir",
    "leaves_root",
    "local_path",
    "make_dirs",
    "make_links",
    "mirror",
    "plan_mirror",
    "remote_path",
    "remove_tree",
    "scan_local",
    "scan_remote",
]

__getattr__ = lazy_exports(__name__, _HOMES)
