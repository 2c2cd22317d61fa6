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

Symbolic links
--------------
A local tree that is a mirror's *source* (``mirror --reverse``) follows
links to regular files (a link to a file is uploaded as that file's
contents) but never into directories, so a loop of links cannot make a
scan endless.  A local tree that is a mirror's *target* (``links=True``)
follows nothing: its links are recorded as links, so the mirror can
replace or remove them and never writes through one.

A remote tree scanned with ``links=True`` records the remote links with
their targets (see :mod:`.listings` for how LIST supplies what MLSD
leaves out); a link whose target no listing gives is in
:attr:`Tree.skipped`, with the reason.  Without ``links`` remote links
are skipped (and reported).  Directories are not entered over and over
along one path: a directory that repeats one of its ancestors (a link
such as ``loop -> .`` that the server presents as a directory) is skipped
as a loop instead of listed until paths overflow, found by its MLSD
``unique`` fact or, on servers without one, by its listing (see
:mod:`ftpferry.client.loops`).
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

from ftpferry.client import (
    ConnectionLost,
    EntryKind,
    FTPError,
    FTPTimeout,
    Listing,
    PermanentError,
    ReplyError,
    UnsupportedCommand,
)
from ftpferry.client.loops import LoopGuard

from .exclude import Exclusions
from .listings import directory_entries
from .pool import ClientPool
from .remote import is_remote_dir

__all__ = [
    "FileState",
    "LinkState",
    "Skipped",
    "Tree",
    "remote_path",
    "scan_local",
    "scan_remote",
]

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
class LinkState:
    """One symbolic link of a tree.

    Attributes:
        path: relative to the tree's root, ``/``-separated.
        target: the link's text, as ``readlink`` gives it (relative or
            absolute; never resolved).
    """

    path: str
    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    """An entry a scan found but the mirror leaves alone.

    Attributes:
        path: relative to the tree's root.
        kind: ``link``, ``dir``, ``other`` (devices, pipes...) or ``name``
            (listed twice, or not a name a file system can hold).
        reason: why, for the user.
    """

    path: str
    kind: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Tree:
    """The files, directories and links under one root.

    Attributes:
        files: by relative path.
        dirs: relative paths of every directory below the root (not the root).
        links: symbolic links by relative path (only scans with ``links=True``).
        skipped: entries found and left alone, with the reason.
        excluded: paths ``--exclude`` left out (an excluded directory's
            contents were not looked at); see :mod:`.exclude`.
        exists: False when the root itself does not exist yet.
        time_precision: seconds; two times closer than this are the same.
    """

    files: Mapping[str, FileState] = field(default_factory=lambda: MappingProxyType({}))
    dirs: frozenset[str] = frozenset()
    links: Mapping[str, LinkState] = field(default_factory=lambda: MappingProxyType({}))
    skipped: tuple[Skipped, ...] = ()
    excluded: frozenset[str] = frozenset()
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


def scan_local(root: Path, *, links: bool = False, exclude: Exclusions | None = None) -> Tree:
    """Walk a local directory; a missing root is an empty tree that does not exist.

    ``links=True`` records symbolic links as links and follows none (a
    mirror's target); otherwise links to files count as those files.
    Entries ``exclude`` names are left out, and excluded directories not walked.
    """
    if not root.exists():
        return Tree(exists=False)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory")
    files: dict[str, FileState] = {}
    dirs: set[str] = set()
    found_links: dict[str, LinkState] = {}
    excluded: set[str] = set()
    pending = [""]
    while pending:
        relative = pending.pop()
        with os.scandir(root / relative if relative else root) as entries:
            for entry in entries:
                path = f"{relative}/{entry.name}" if relative else entry.name
                try:
                    if exclude and exclude.excludes(
                        path, is_dir=entry.is_dir(follow_symlinks=False)
                    ):
                        excluded.add(path)
                        continue
                    if links and entry.is_symlink():
                        found_links[path] = LinkState(path=path, target=os.readlink(entry.path))
                    elif entry.is_dir(follow_symlinks=False):
                        dirs.add(path)
                        pending.append(path)
                    elif entry.is_file(follow_symlinks=not links):
                        info = entry.stat(follow_symlinks=not links)
                        files[path] = FileState(path=path, size=info.st_size, mtime=info.st_mtime)
                except OSError as exc:  # a dangling link, a file removed meanwhile
                    log.warning("skipping %s: %s", Path(entry.path), exc.strerror or exc)
    return Tree(
        files=MappingProxyType(files),
        dirs=frozenset(dirs),
        links=MappingProxyType(found_links),
        excluded=frozenset(excluded),
    )


async def _list_one(pool: ClientPool, path: str, *, links: bool) -> tuple[Listing, Listing | None]:
    """List one directory on a pooled client; once more on a fresh one if it broke.

    With ``links``, an MLSD listing comes with the directory's LIST too
    (None when the server refuses it), which says which names are links.
    """
    for attempt in (1, 2):
        client = await pool.acquire()
        try:
            listing = await client.listdir(path)
            long_listing: Listing | None = None
            if links and listing.source != "LIST":
                try:
                    long_listing = await client.listdir(path, source="LIST")
                except (ReplyError, UnsupportedCommand) as exc:
                    log.warning("LIST %s failed (%s): links there are not recognised", path, exc)
        except (ConnectionLost, FTPTimeout):
            await pool.discard(client)
            if attempt == 2:
                raise
            continue
        except BaseException:
            await pool.release(client)
            raise
        await pool.release(client)
        return listing, long_listing
    raise AssertionError("unreachable")  # pragma: no cover


async def _root_is_dir(pool: ClientPool, root: str) -> bool:
    """Whether a root that LIST answered for is a directory that exists.

    vsftpd, like other servers that list with ``ls`` and its globbing,
    answers LIST of a missing path with an empty listing and 226, not 550,
    so the listing alone would have ``mirror --reverse`` skip creating the
    root and then fail on every MKD below it.  LIST of a file lists that
    file.  MLSD has neither problem (RFC 3659 answers both with 501/550).
    """
    if root in {"", ".", "/"}:
        return True  # the login directory, or the root of the server
    async with pool.client() as client:
        return await is_remote_dir(client, root)


async def _unique_of(pool: ClientPool, path: str) -> str | None:
    """The MLST ``unique`` fact of a remote directory, when the server gives one."""
    async with pool.client() as client:
        if "MLST" not in client.features:
            return None
        try:
            entry = await client.stat(path or ".")
        except (FTPError, ValueError) as exc:
            log.info("MLST %s: %s; directory loops are found one level later", path or ".", exc)
            return None
    return entry.facts.get("unique") or None


@dataclass(slots=True)
class _RemoteScan:
    """What :func:`scan_remote` has found so far.

    A directory that repeats an ancestor (a link the server lists as a
    directory, leading back up the tree) is found by :class:`LoopGuard`,
    from the ``unique`` facts when the server gives them and from the
    listings otherwise; it is skipped, with what it holds.
    """

    links: bool
    exclude: Exclusions | None = None
    files: dict[str, FileState] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    found_links: dict[str, LinkState] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    excluded: set[str] = field(default_factory=set)
    uniques: dict[str, str] = field(default_factory=dict)
    guard: LoopGuard = field(default_factory=LoopGuard)

    def skip(self, path: str, kind: str, reason: str) -> None:
        self.skipped.append(Skipped(path=path, kind=kind, reason=reason))

    def take(self, relative: str, listing: Listing, long_listing: Listing | None) -> list[str]:
        """Record one listed directory; returns its subdirectories to list next."""
        ancestor = self.guard.loop_of(relative, listing, self.uniques.get(relative))
        if ancestor is not None:
            reason = f"a directory loop: the same directory as {ancestor or '.'!r}"
            self.skip(relative, "dir", reason)
            return []
        if relative:
            self.dirs.add(relative)
        merged = directory_entries(listing, long_listing)
        prefix = f"{relative}/" if relative else ""
        for name in merged.duplicates:
            self.skip(prefix + name, "name", "listed more than once")
        for name in merged.unsafe:
            self.skip(prefix + name, "name", "not a name a local directory can hold")
        below: list[str] = []
        for entry in merged.entries.values():
            path = prefix + entry.name
            if self.exclude and self.exclude.excludes(path, is_dir=entry.kind is EntryKind.DIR):
                self.excluded.add(path)
                continue
            if entry.kind is EntryKind.DIR:
                unique = entry.facts.get("unique")
                if unique:
                    self.uniques[path] = unique
                below.append(path)
            elif entry.kind is EntryKind.FILE:
                mtime = entry.modify.timestamp() if entry.modify is not None else None
                self.files[path] = FileState(path=path, size=entry.size, mtime=mtime)
            elif entry.kind is EntryKind.LINK:
                if not self.links:
                    self.skip(path, "link", "a symbolic link (links are not mirrored)")
                elif entry.target is None:
                    self.skip(path, "link", "a symbolic link whose target the server does not say")
                else:
                    self.found_links[path] = LinkState(path=path, target=entry.target)
            else:
                kind = entry.facts.get("type") or entry.raw[:1] or "?"
                self.skip(path, "other", f"not a file, directory or link (type {kind})")
        return below

    def unlistable(self, path: str, error: PermanentError) -> None:
        """A subdirectory answered its listing with 5xx: skipped, kept in the target."""
        self.dirs.add(path)
        self.skip(path, "dir", f"cannot be listed: {error.code} {' '.join(error.text.split())}")


async def scan_remote(
    pool: ClientPool, root: str, *, links: bool = False, exclude: Exclusions | None = None
) -> Tree:
    """List a remote directory tree, one level at a time, a level's directories at once.

    The directories of one level are listed concurrently over the pool's
    connections (opened as the levels widen).  A root that cannot be
    listed with a 5xx reply is taken for one that does not exist yet (an
    upload creates it); directories below it that cannot be listed are
    skipped (reported in :attr:`Tree.skipped`), as :meth:`AsyncFTPClient.walk` does.
    ``links=True`` records remote symbolic links (see the module docstring).
    Entries ``exclude`` names are left out, and excluded directories not listed.
    """
    try:
        first = await _list_one(pool, remote_path(root, ""), links=links)
    except PermanentError:
        return Tree(exists=False)
    if first[0].source == "LIST" and not await _root_is_dir(pool, root):
        return Tree(exists=False)
    scan = _RemoteScan(links=links, exclude=exclude)
    root_unique = await _unique_of(pool, root)
    if root_unique:
        scan.uniques[""] = root_unique
    precision = MLSD_PRECISION
    level = [("", first)]
    while level:
        below: list[str] = []
        for relative, (listing, long_listing) in level:
            if listing.source != "MLSD":
                precision = LIST_PRECISION
            below += scan.take(relative, listing, long_listing)
        results = await asyncio.gather(
            *(_list_one(pool, remote_path(root, path), links=links) for path in below),
            return_exceptions=True,
        )
        level = []
        for path, result in zip(below, results, strict=True):
            if isinstance(result, PermanentError):
                log.warning("cannot list %s; skipped", remote_path(root, path))
                scan.unlistable(path, result)
            elif isinstance(result, BaseException):
                raise result
            else:
                level.append((path, result))
    for item in scan.skipped:
        log.info("skipping %s: %s", remote_path(root, item.path), item.reason)
    return Tree(
        files=MappingProxyType(scan.files),
        dirs=frozenset(scan.dirs),
        links=MappingProxyType(scan.found_links),
        skipped=tuple(sorted(scan.skipped, key=lambda item: item.path)),
        excluded=frozenset(scan.excluded),
        time_precision=precision,
    )
