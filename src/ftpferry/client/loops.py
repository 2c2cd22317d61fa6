"""Walking a remote tree, and its directory loops on servers that hide links.

Many servers list a symbolic link to a directory as the directory itself
(pyftpdlib in MLSD, ProFTPD with ``ShowSymlinks off``), so a walk that
enters every directory enters ``loop -> .`` again and again.
:class:`LoopGuard` remembers each listed directory and tells when one is
an ancestor over again:

* with MLSD's ``unique`` fact: the same ``unique`` as an ancestor *and*
  the same names (two proofs, as a server whose ``unique`` is not unique,
  a constant say, would otherwise lose every subdirectory);
* without it: the same entries (names, kinds, sizes, times) as *two* of
  its ancestors.  One repetition is not enough: ``x/x`` holding only
  ``x`` is a real tree; a listing met a third time along one path is a
  loop's signature, however many links lead round it (with three links
  in one directory, a walk that waits for one step to repeat twice in a
  row never ends).  A real tree of three identical levels (``mkdir -p
  a/a/a/a``, listed to the minute by LIST) is taken for a loop too, and
  reported as one: the price of ending on servers that say nothing.

A loop is thus found once the walk has gone round it one time (two
without ``unique``): what it listed on the way is a copy of what a link
shows, as following the link once would give.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass, field

from .entries import Listing, is_safe_name

__all__ = ["LoopGuard", "TreeWalk", "WalkStep"]

log = logging.getLogger("ftpferry.client")


def _names(listing: Listing) -> frozenset[str]:
    return frozenset(entry.name for entry in listing)


def _contents(listing: Listing) -> int:
    return hash(
        frozenset(
            (entry.name, entry.kind, entry.size, entry.modify, entry.target) for entry in listing
        )
    )


def _ancestors(path: str) -> list[str]:
    """Nearest first, the walk's top ("") last."""
    found: list[str] = []
    while path:
        path = path.rpartition("/")[0]
        found.append(path)
    return found


@dataclass(slots=True)
class LoopGuard:
    """What a walk has listed, by path relative to its top ("" for the top)."""

    _uniques: dict[str, str] = field(default_factory=dict)
    _names: dict[str, frozenset[str]] = field(default_factory=dict)
    _contents: dict[str, int] = field(default_factory=dict)

    def loop_of(self, path: str, listing: Listing, unique: str | None = None) -> str | None:
        """The ancestor ``path`` repeats, or None (then ``path`` is remembered).

        ``unique`` is the directory's ``unique`` fact, from its parent's
        listing (None when the server gives none).  Ancestors must have
        been given first, as any top-down walk does.
        """
        names = _names(listing)
        contents = _contents(listing)
        ancestors = _ancestors(path)
        if unique is not None:
            for ancestor in ancestors:
                if self._uniques.get(ancestor) == unique and self._names.get(ancestor) == names:
                    return ancestor
        else:
            same = [ancestor for ancestor in ancestors if self._contents.get(ancestor) == contents]
            if len(same) >= 2:
                return same[0]
        if unique is not None:
            self._uniques[path] = unique
        self._names[path] = names
        self._contents[path] = contents
        return None


WalkStep = tuple[str, list[str], list[str]]
"""``(dirpath, dirnames, filenames)``, as :func:`os.walk` yields them."""


class TreeWalk:
    """The bookkeeping of a top-down walk, shared by the asyncio and the
    blocking client (one awaits its listings, the other does not).

    Use: ``while (path := walk.next_path()) is not None``, list ``path``,
    ``step = walk.visit(listing)``; None is a loop (skip it), else yield
    ``step`` and then ``walk.descend(step)``, which queues the directories
    the caller left in ``step[1]`` (removing names prunes them, as with
    :func:`os.walk`).
    """

    __slots__ = ("_current", "_guard", "_pending", "_top", "_uniques")

    def __init__(self, top: str) -> None:
        self._top = top or "."
        # (path to list, path relative to the top, its unique fact)
        self._pending: list[tuple[str, str, str | None]] = [(self._top, "", None)]
        self._current = self._pending[0]
        self._guard = LoopGuard()
        self._uniques: dict[str, str | None] = {}

    def next_path(self) -> str | None:
        """The next directory to list, or None when the walk is over."""
        if not self._pending:
            return None
        self._current = self._pending.pop()
        return self._current[0]

    def visit(self, listing: Listing) -> WalkStep | None:
        """The step for the directory just listed; None when it repeats an ancestor."""
        current, relative, unique = self._current
        again = self._guard.loop_of(relative, listing, unique)
        if again is not None:
            log.warning(
                "walk: %s is %s again (a directory loop: a link the server lists as a "
                "directory); not entered",
                current,
                posixpath.join(self._top, again) if again else self._top,
            )
            return None
        unsafe = sorted(entry.name for entry in listing if not is_safe_name(entry.name))
        if unsafe:
            log.warning("walk: %s lists names no directory can hold: %s", current, unsafe)
        entries = [entry for entry in listing if is_safe_name(entry.name)]
        self._uniques = {entry.name: entry.facts.get("unique") for entry in entries if entry.is_dir}
        dirs = [entry.name for entry in entries if entry.is_dir]
        files = [entry.name for entry in entries if not entry.is_dir]
        return current, dirs, files

    def descend(self, step: WalkStep) -> None:
        """Queue the subdirectories left in ``step``'s dirnames, first name first."""
        current, dirs, _ = step
        relative = self._current[1]
        self._pending.extend(
            (
                posixpath.join(current, name),
                f"{relative}/{name}" if relative else name,
                self._uniques.get(name),
            )
            for name in reversed(dirs)
        )
