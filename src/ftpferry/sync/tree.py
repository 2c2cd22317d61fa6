"""Snapshots of a directory tree, local or remote, in one shape.

A mirror compares two trees, so both sides are reduced to the same value:
a :class:`Tree` maps each file's path (relative to the mirror root, with
``/`` separators whatever the operating system) to its size and
modification time, and lists the directories.  Everything else a listing
says (owners, permissions, links) is left out, because the mirror does
not act on it.

Remote trees come from listings, so their times are only as precise as the
listing: whole seconds with MLSD, minutes (or days, for old files) with
``LIST``.  :attr:`Tree.time_precision` carries that, so the planner does
not see a difference where a listing merely rounded.

Symbolic links are followed to regular files on the local side (a link
to a file is mirrored as that file's contents) but never into directories,
so a loop of links cannot make a scan endless.  Remote links are skipped:
a listing rarely says what they point at.
"""

from __future__ import annotations

import asyncio
import logging
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ftpferry.client import ConnectionLost, EntryKind, FTPTimeout, Listing, PermanentError

from .pool import ClientPool

__all__ = ["FileState", "Tree", "remote_path", "scan_local", "scan_remote"]

log = logging.getLogger("ftpferry.sync")

LIST_PRECISION = 60.0
"""LIST prints minutes at best (``May  1 12:34``)."""
MLSD_PRECISION = 1.0
"""MLSD's ``modify`` fact has whole seconds (fractions are optional and rare)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FileState:
    """One file of a tree.

    Attributes:
        path: relative to the tree's root, ``/``-separated, never empty.
        size: bytes, when known.
        mtime: last modification, seconds since the epoch (UTC), when known.
    """

    path: str
    size: int | None
    mtime: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Tree:
    """The files and directories under one root.

    Attributes:
        files: by relative path.
        dirs: relative paths of every directory below the root (not the root).
        exists: False when the root itself does not exist yet.
        time_precision: seconds; two times closer than this are the same.
    """

    files: Mapping[str, FileState] = field(default_factory=lambda: MappingProxyType({}))
    dirs: frozenset[str] = frozenset()
    exists: bool = True
    time_precision: float = MLSD_PRECISION

    @property
    def total_bytes(self) -> int:
        """The sum of the known file sizes."""
        return sum(state.size or 0 for state in self.files.values())


def remote_path(root: str, relative: str) -> str:
    """Join a remote root (as in the URL, maybe empty) and a tree-relative path."""
    if not root or root == ".":
        return relative
    return posixpath.join(root, relative) if relative else root


def scan_local(root: Path) -> Tree:
    """Walk a local directory; a missing root is an empty tree that does not exist."""
    if not root.exists():
        return Tree(exists=False)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory")
    files: dict[str, FileState] = {}
    dirs: set[str] = set()
    pending = [""]
    while pending:
        relative = pending.pop()
        with os.scandir(root / relative if relative else root) as entries:
            for entry in entries:
                path = f"{relative}/{entry.name}" if relative else entry.name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        dirs.add(path)
                        pending.append(path)
                    elif entry.is_file():
                        info = entry.stat()
                        files[path] = FileState(path=path, size=info.st_size, mtime=info.st_mtime)
                except OSError as exc:  # a dangling link, a file removed meanwhile
                    log.warning("skipping %s: %s", Path(entry.path), exc.strerror or exc)
    return Tree(files=MappingProxyType(files), dirs=frozenset(dirs))


async def _list_one(pool: ClientPool, path: str) -> Listing:
    """List one directory on a pooled client; once more on a fresh one if it broke."""
    for attempt in (1, 2):
        client = await pool.acquire()
        try:
            listing = await client.listdir(path)
        except (ConnectionLost, FTPTimeout):
            await pool.discard(client)
            if attempt == 2:
                raise
            continue
        except BaseException:
            await pool.release(client)
            raise
        await pool.release(client)
        return listing
    raise AssertionError("unreachable")  # pragma: no cover


async def scan_remote(pool: ClientPool, root: str) -> Tree:
    """List a remote directory tree, one level at a time, a level's directories at once.

    The directories of one level are listed concurrently over the pool's
    connections (opened as the levels widen).  A root that cannot be
    listed with a 5xx reply is taken for one that does not exist yet (an
    upload creates it); directories below it that cannot be listed are
    skipped with a warning, as :meth:`AsyncFTPClient.walk` does.
    """
    files: dict[str, FileState] = {}
    dirs: set[str] = set()
    precision = MLSD_PRECISION
    try:
        listing = await _list_one(pool, remote_path(root, ""))
    except PermanentError:
        return Tree(exists=False)
    level = [("", listing)]
    while level:
        below: list[str] = []
        for relative, listing in level:
            if listing.source != "MLSD":
                precision = LIST_PRECISION
            for entry in listing:
                if "/" in entry.name or entry.name in {"", ".", ".."}:
                    continue  # a name no file system could hold; never follow it
                path = f"{relative}/{entry.name}" if relative else entry.name
                if entry.kind is EntryKind.DIR:
                    dirs.add(path)
                    below.append(path)
                elif entry.kind is EntryKind.FILE:
                    mtime = entry.modify.timestamp() if entry.modify is not None else None
                    files[path] = FileState(path=path, size=entry.size, mtime=mtime)
                else:
                    log.info("skipping %s (%s)", remote_path(root, path), entry.kind)
        results = await asyncio.gather(
            *(_list_one(pool, remote_path(root, path)) for path in below),
            return_exceptions=True,
        )
        level = []
        for path, result in zip(below, results, strict=True):
            if isinstance(result, PermanentError):
                log.warning("cannot list %s; skipped", remote_path(root, path))
            elif isinstance(result, BaseException):
                raise result
            else:
                level.append((path, result))
    return Tree(files=MappingProxyType(files), dirs=frozenset(dirs), time_precision=precision)
