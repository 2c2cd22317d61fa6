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
A target file shorter than its source and newer than it, by at least the
time precision, is taken for an interrupted transfer of the current
source and continued from its end (REST or APPE): a copy is given the
source's time only once complete, so a partial copy carries the time of
the interrupted transfer.  Any other shorter file is sent again in full:
one that is older than its source, or as old within the precision, is an
earlier version of a file that has since changed (appending to it would
splice two versions together).  Without ``exact_times`` every copy carries
the time of its upload, complete or not, so nothing is resumed: a file
that grew within a minute of its last upload to vsftpd (no MFMT, LIST
times to the minute) was once appended to its old copy.

Symbolic links
--------------
A link of the source is made in the target with the same target text
(``links``), and is unchanged when the target has a link with that text.
A link of the target never holds data, so when it stands where the source
has a file, a directory or another link, it is removed (``clear``) even
without ``delete``, and never written through; with ``delete``, links the
source does not have are removed in ``clear`` too.  A file or directory of
the target where the source has a link is, like the other kind
conflicts, removed only with ``delete``.  Entries the scan skipped (a
link whose target is unknown, a name listed twice...) are reported in
``skipped``, and what the target has at their paths is left alone, even
with ``delete``.

Order
-----
The executor runs the phases in this order: ``clear`` (what stands in the
way of a file, directory or link of the source: links always, the rest
only with ``delete``), ``mkdirs`` (parents first), ``transfers`` (largest
first, so parallel workers finish together), ``delete_files``, then
``delete_dirs`` (deepest first); the ``links`` are made last, after every
byte is written, so that no link a run makes can be in the way of its
own writes.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .tree import FileState, Skipped, Tree

__all__ = ["Conflict", "Link", "MirrorPlan", "Removal", "Transfer", "leaves_root", "plan_mirror"]

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


def leaves_root(path: str, target: str) -> bool:
    """True when a link at ``path`` (relative to a root) points outside that root:
    an absolute target, or one whose ``..`` climb above the root."""
    if target.startswith("/"):
        return True
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return joined == ".." or joined.startswith("../")


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """One symbolic link to make in the target.

    Attributes:
        path: relative to both roots.
        target: the link's text, exactly as the source has it.
        reason: ``new``, or ``changed`` (the target had a different link).
    """

    path: str
    target: str
    reason: Literal["new", "changed"] = "new"

    @property
    def outside(self) -> bool:
        """True when the link points outside the mirror's root (see :func:`leaves_root`)."""
        return leaves_root(self.path, self.target)


@dataclass(frozen=True, slots=True, kw_only=True)
class Removal:
    """One target file, directory or symbolic link to remove (a link is unlinked,
    whatever it points to)."""

    path: str
    is_dir: bool
    is_link: bool = False

    @property
    def kind(self) -> str:
        """``dir``, ``link`` or ``file``."""
        return "dir" if self.is_dir else "link" if self.is_link else "file"


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
    links: tuple[Link, ...] = ()
    unchanged: tuple[str, ...] = ()
    unchanged_links: tuple[str, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    skipped: tuple[Skipped, ...] = ()
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
            or self.links
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
        interrupted = (
            exact_times
            and source.mtime is not None
            and target.mtime is not None
            and target.mtime - source.mtime >= precision
        )
        if interrupted and target.size > 0:
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
    links: list[Link] = []
    unchanged_links: list[str] = []
    kept = {item.path for item in source.skipped}  # target paths to leave alone

    def is_kept(path: str) -> bool:
        return path in kept or any(parent in kept for parent in _ancestors(path))

    # Links of the target: they hold no data, so they make way for anything.
    for path in sorted(target.links):
        if is_kept(path):
            continue
        wanted = source.links.get(path)
        if wanted is not None and wanted.target == target.links[path].target:
            unchanged_links.append(path)
        elif wanted is not None or path in source.files or path in source.dirs:
            clear.append(Removal(path=path, is_dir=False, is_link=True))
            if wanted is not None:
                links.append(Link(path=path, target=wanted.target, reason="changed"))
        elif delete:  # gone from the source; it holds no data, so it may go first
            clear.append(Removal(path=path, is_dir=False, is_link=True))

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

    # Links of the source where the target has no link.
    for path in sorted(source.links):
        if path in target.links or is_blocked(path):
            continue
        link = Link(path=path, target=source.links[path].target)
        if path in target.files:
            if not delete:
                conflicts.append(
                    Conflict(path=path, reason="a file is where a symbolic link belongs")
                )
                continue
            clear.append(Removal(path=path, is_dir=False))
        elif path in target.dirs:
            if not delete:
                conflicts.append(
                    Conflict(path=path, reason="a directory is where a symbolic link belongs")
                )
                continue
            files, dirs = target_subtree(path)
            clear += [Removal(path=p, is_dir=False) for p in sorted(files)]
            clear += [Removal(path=d, is_dir=True) for d in sorted(dirs, key=_depth, reverse=True)]
            cleared_dirs.update(dirs)
        links.append(link)

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
        in_source = source.files.keys() | source.dirs | source.links.keys()
        # A directory that holds what --exclude left out stays, with what it holds.
        holders = {parent for path in target.excluded for parent in _ancestors(path)}
        gone_dirs = {
            d
            for d in target.dirs
            if d not in source.dirs and d not in cleared_dirs and not is_kept(d)
        } - holders
        delete_files = sorted(
            p
            for p in target.files
            if p not in in_source and p not in cleared_files and not is_kept(p)
        )
        delete_dirs = sorted(
            gone_dirs - source.files.keys() - source.links.keys(),
            key=lambda d: (-_depth(d), d),
        )
    return MirrorPlan(
        clear=tuple(clear),
        mkdirs=tuple(mkdirs),
        transfers=tuple(transfers),
        delete_files=tuple(delete_files),
        delete_dirs=tuple(delete_dirs),
        links=tuple(sorted(links, key=lambda link: link.path)),
        unchanged=tuple(sorted(unchanged)),
        unchanged_links=tuple(unchanged_links),
        conflicts=tuple(conflicts),
        skipped=source.skipped,
        create_root=not target.exists,
    )
