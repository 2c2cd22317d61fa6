"""Mirror planning: compare a source tree with a target tree, decide what to do.

Pure: no sockets, no files, so every rule below is a unit test away.

What counts as changed
----------------------
A source file is sent when the target has no file of that path, when the
sizes differ, or when the modification times differ by at least the
coarser of the two trees' time precisions.  After each transfer the
executor gives the copy the source's time (``os.utime`` locally, ``MFMT``
remotely), so a second run finds equal times and sends nothing.  When the
target cannot take a time (``exact_times=False``: a server without MFMT)
its copies carry the time of the upload, later than the source's, so
only a source *newer* than its copy counts as changed.

Resuming
--------
A target file shorter than its source and not older than it (a copy is
given the source's time only once complete, so a partial copy carries
the time of the interrupted transfer) is taken for an interrupted
transfer of the current source and continued from its end (REST or
APPE).  A shorter file that is *older* than the source is an earlier
version of a file that has since changed, and is sent again in full.

Order
-----
The executor runs the phases in this order: ``clear`` (what stands in the
way of a file or directory of the source: only with ``delete``), ``mkdirs``
(parents first), ``transfers`` (largest first, so parallel workers finish
together), ``delete_files``, then ``delete_dirs`` (deepest first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .tree import FileState, Tree

__all__ = ["Conflict", "MirrorPlan", "Removal", "Transfer", "plan_mirror"]

Reason = Literal["new", "changed", "resume"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    """One file to copy from source to target.

    Attributes:
        path: relative to both roots.
        size: the source file's size, when known.
        mtime: the source file's modification time, to give the copy.
        offset: bytes of a partial copy to keep; the transfer continues there.
        reason: ``new``, ``changed`` or ``resume``.
    """

    path: str
    size: int | None
    mtime: float | None
    offset: int = 0
    reason: Reason = "new"

    @property
    def remaining(self) -> int:
        """Bytes still to move (0 when the size is not known)."""
        return max((self.size or 0) - self.offset, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Removal:
    """One target file or directory to remove."""

    path: str
    is_dir: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Conflict:
    """A path left alone: a file where the source has a directory or the
    reverse, and ``delete`` was not given to clear it."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MirrorPlan:
    """Everything a mirror run will do, phase by phase (see the module docstring)."""

    clear: tuple[Removal, ...] = ()
    mkdirs: tuple[str, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    delete_files: tuple[str, ...] = ()
    delete_dirs: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    create_root: bool = False

    @property
    def transfer_bytes(self) -> int:
        """Bytes the transfers will move (known sizes only)."""
        return sum(item.remaining for item in self.transfers)

    @property
    def empty(self) -> bool:
        """True when the run has nothing to do."""
        return not (
            self.clear
            or self.mkdirs
            or self.transfers
            or self.delete_files
            or self.delete_dirs
            or self.create_root
        )


def _ancestors(path: str) -> list[str]:
    """``a/b/c`` -> ``["a", "a/b"]``."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: index + 1]) for index in range(len(parts))]


def _depth(path: str) -> int:
    return path.count("/")


def _same_time(a: float | None, b: float | None, precision: float) -> bool:
    if a is None or b is None:
        return True  # nothing to compare: let the size decide
    return abs(a - b) < precision


def _compare(
    source: FileState, target: FileState, precision: float, exact_times: bool
) -> Transfer | None:
    """The transfer needed to bring ``target`` up to ``source``, if any."""
    if source.size is not None and target.size is not None and target.size < source.size:
        newer_or_same = (
            source.mtime is not None
            and target.mtime is not None
            and target.mtime > source.mtime - precision
        )
        if newer_or_same and target.size > 0:
            return Transfer(
                path=source.path,
                size=source.size,
                mtime=source.mtime,
                offset=target.size,
                reason="resume",
            )
        return Transfer(path=source.path, size=source.size, mtime=source.mtime, reason="changed")
    changed = source.size != target.size
    if not changed and source.mtime is not None and target.mtime is not None:
        if exact_times:
            changed = not _same_time(source.mtime, target.mtime, precision)
        else:
            changed = source.mtime - target.mtime >= precision
    if not changed:
        return None
    return Transfer(path=source.path, size=source.size, mtime=source.mtime, reason="changed")


def plan_mirror(
    source: Tree, target: Tree, *, delete: bool = False, exact_times: bool = True
) -> MirrorPlan:
    """What makes ``target`` a copy of ``source`` (see the module docstring).

    Args:
        source: the tree to copy.
        target: the tree as it is now (``exists=False`` when its root is missing).
        delete: also remove what the source does not have, and clear files
            or directories that stand where the source has the other kind.
        exact_times: the target keeps the modification times it is given.
    """
    precision = max(source.time_precision, target.time_precision)
    clear: list[Removal] = []
    conflicts: list[Conflict] = []
    blocked: set[str] = set()  # source paths that cannot be created (no delete)
    cleared_dirs: set[str] = set()  # target directories removed to make room

    def target_subtree(top: str) -> tuple[list[str], list[str]]:
        prefix = top + "/"
        files = [p for p in target.files if p.startswith(prefix)]
        dirs = [d for d in target.dirs if d == top or d.startswith(prefix)]
        return files, dirs

    # Directories of the source where the target has a file.
    for path in sorted(source.dirs):
        if path in target.files:
            if delete:
                clear.append(Removal(path=path, is_dir=False))
            else:
                conflicts.append(Conflict(path=path, reason="a file is where a directory belongs"))
                blocked.add(path)
    # Files of the source where the target has a directory.
    for path in sorted(source.files):
        if path in target.dirs:
            if delete:
                files, dirs = target_subtree(path)
                clear += [Removal(path=p, is_dir=False) for p in sorted(files)]
                clear += [
                    Removal(path=d, is_dir=True) for d in sorted(dirs, key=_depth, reverse=True)
                ]
                cleared_dirs.update(dirs)
            else:
                conflicts.append(Conflict(path=path, reason="a directory is where a file belongs"))
                blocked.add(path)

    def is_blocked(path: str) -> bool:
        return path in blocked or any(parent in blocked for parent in _ancestors(path))

    cleared_files = {item.path for item in clear if not item.is_dir}
    cleared_files.update(
        p for p in target.files if any(p.startswith(d + "/") for d in cleared_dirs)
    )
    mkdirs = sorted(
        (
            path
            for path in source.dirs
            if not is_blocked(path)
            and (path not in target.dirs or path in cleared_dirs or path in cleared_files)
        ),
        key=lambda p: (_depth(p), p),
    )
    transfers: list[Transfer] = []
    unchanged: list[str] = []
    for path, state in source.files.items():
        if is_blocked(path):
            continue
        existing = target.files.get(path)
        if existing is None or path in cleared_files:
            transfers.append(Transfer(path=path, size=state.size, mtime=state.mtime))
            continue
        needed = _compare(state, existing, precision, exact_times)
        if needed is None:
            unchanged.append(path)
        else:
            transfers.append(needed)
    transfers.sort(key=lambda item: (-item.remaining, item.path))

    delete_files: list[str] = []
    delete_dirs: list[str] = []
    if delete:
        gone_dirs = {d for d in target.dirs if d not in source.dirs and d not in cleared_dirs}
        delete_files = sorted(
            p
            for p in target.files
            if p not in source.files and p not in source.dirs and p not in cleared_files
        )
        delete_dirs = sorted(gone_dirs - set(source.files), key=lambda d: (-_depth(d), d))
    return MirrorPlan(
        clear=tuple(clear),
        mkdirs=tuple(mkdirs),
        transfers=tuple(transfers),
        delete_files=tuple(delete_files),
        delete_dirs=tuple(delete_dirs),
        unchanged=tuple(sorted(unchanged)),
        conflicts=tuple(conflicts),
        create_root=not target.exists,
    )
