"""What each client command does, as async functions over a connected client.

No click and no printing here: each function takes a logged-in
:class:`~ftpferry.client.AsyncFTPClient` and returns a result value, which
:mod:`.render` turns into text or JSON.  Remote paths are relative to the
login directory, as URL paths are (RFC 1738).
"""

from __future__ import annotations

import collections
import fnmatch
import logging
import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ftpferry.client import (
    AsyncFTPClient,
    Entry,
    Listing,
    PermanentError,
    ReplyError,
    TransferResult,
    UnsupportedCommand,
    parse_url,
)
from ftpferry.client.entries import is_safe_name
from ftpferry.sync.plan import Removal, Transfer
from ftpferry.sync.remote import is_remote_dir, make_dirs, remove_tree
from ftpferry.sync.report import Direction, TransferOutcome

from .connection import Connector
from .failures import CommandError, ExitCode
from .progress import ProgressView
from .stdout import STDOUT_DEST, StdoutSink

if TYPE_CHECKING:
    from ftpferry.sync import MirrorPlan, MirrorReport

__all__ = [
    "FileResult",
    "ListResult",
    "MkdirResult",
    "MoveResult",
    "RemoveResult",
    "get_file",
    "get_matching",
    "get_to_stdout",
    "is_name_pattern",
    "list_remote",
    "matching_files",
    "make_directory",
    "mirror_tree",
    "move_remote",
    "put_file",
    "put_files",
    "remove_remote",
]

log = logging.getLogger("ftpferry.cli")


@dataclass(frozen=True, slots=True, kw_only=True)
class ListResult:
    """``ls``: the path listed and what the server said."""

    path: str
    listing: Listing


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    """``get``/``put``: one file's transfer."""

    remote: str
    local: Path
    size: int
    outcome: TransferOutcome


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveResult:
    """``rm``: what was removed, in order."""

    removed: tuple[Removal, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MkdirResult:
    """``mkdir``: the directories created (none when ``-p`` found them all)."""

    path: str
    created: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveResult:
    """``mv``: the old and the new path."""

    source: str
    target: str


# -- ls -----------------------------------------------------------------------------------


async def list_remote(client: AsyncFTPClient, path: str) -> ListResult:
    """List a directory; a path naming a file lists that file alone."""
    try:
        listing = await client.listdir(path)
    except PermanentError as exc:
        if not path:
            raise
        try:
            entry = await client.stat(path)
        except (ReplyError, UnsupportedCommand):
            raise exc from None
        if entry.is_dir:
            raise
        listing = Listing((entry,), source="MLST" if "MLST" in client.features else "SIZE")
    if _looks_missing(listing, path) and not await is_remote_dir(client, path):
        raise CommandError(f"{path}: no such file or directory (the server listed it as empty)")
    return ListResult(path=path, listing=listing)


def _looks_missing(listing: Listing, path: str) -> bool:
    """An empty LIST of a named path: vsftpd (and servers that list through
    ``ls`` globbing) answer a missing path so, with 226 where MLSD gives 550."""
    return bool(path) and listing.source == "LIST" and not listing.entries and not listing.unparsed


# -- get and put -----------------------------------------------------------------------------


def _outcome(
    item: Transfer, direction: Direction, result: TransferResult, mtime_set: bool
) -> TransferOutcome:
    route = result.route
    return TransferOutcome(
        item=item,
        direction=direction,
        transferred=result.transferred,
        offset=result.offset,
        seconds=result.seconds,
        mode=route.mode if route is not None else None,
        data_command=route.command if route is not None else None,
        mtime_set=mtime_set,
    )


def download_destination(remote: str, dest: Path | None) -> Path:
    """Where ``get`` writes: DEST, DEST/NAME for a directory, else ./NAME."""
    name = posixpath.basename(remote.rstrip("/"))
    if not name or remote.endswith("/"):
        raise CommandError(f"{remote or '/'} names a directory: use `ftpferry mirror`")
    if dest is None:
        return Path(name)
    return dest / name if dest.is_dir() else dest


async def get_file(
    client: AsyncFTPClient,
    remote: str,
    dest: Path | None,
    *,
    resume: bool,
    view: ProgressView,
) -> FileResult:
    """Download one file; the copy gets the server's modification time (MDTM)."""
    local = download_destination(remote, dest)
    view.begin(files=1, total_bytes=0)
    return await _download(client, remote, local, None, resume=resume, view=view)


NAME_PATTERN_CHARACTERS: Final = frozenset("*?[")


def is_name_pattern(remote: str) -> bool:
    """True when the last part of ``remote`` is a pattern (``logs/*.gz``), which
    ``get`` matches against the directory's listing, as wget and lftp's mget do.

    Only the last part may be one (one listing, never a walk): with ``*``,
    ``?`` or ``[`` in a directory's part too, the whole path is a name.
    """
    directory, name = posixpath.split(remote)
    return not NAME_PATTERN_CHARACTERS.isdisjoint(name) and NAME_PATTERN_CHARACTERS.isdisjoint(
        directory
    )


async def matching_files(client: AsyncFTPClient, pattern: str) -> list[Entry] | None:
    """The files of the pattern's directory whose names match it, by name;
    None when a file there has the pattern's very name (``report[1].pdf``),
    which is then a name to get as it is, not a pattern.

    Only what the listing calls a file matches: a directory would need
    ``mirror``, and a link listed as one could lead anywhere.  A name no
    directory can hold (``..``, ``a/b``: a hostile server's way out of
    DEST) never matches.
    """
    directory, name_pattern = posixpath.split(pattern)
    listing = await client.listdir(directory)
    if any(entry.is_file and entry.name == name_pattern for entry in listing):
        return None
    found = [e for e in listing if e.is_file and fnmatch.fnmatchcase(e.name, name_pattern)]
    unsafe = sorted(entry.name for entry in found if not is_safe_name(entry.name))
    if unsafe:
        log.warning("left out names no local directory can hold: %s", ", ".join(unsafe))
    matches = sorted(
        (entry for entry in found if is_safe_name(entry.name)), key=lambda entry: entry.name
    )
    if not matches:
        raise CommandError(f"no files match {pattern}")
    return matches


async def get_matching(
    client: AsyncFTPClient,
    pattern: str,
    matches: Sequence[Entry],
    dest: Path | None,
    *,
    resume: bool,
    view: ProgressView,
) -> tuple[FileResult, ...]:
    """Download ``matches`` (see :func:`matching_files`) into the directory
    ``dest`` (default: the current one), in order; the first failure stops it."""
    directory = dest if dest is not None else Path()
    if not directory.is_dir():
        raise CommandError(
            f"{directory} is not a directory: the files of a pattern go into one", ExitCode.LOCAL
        )
    view.begin(files=len(matches), total_bytes=sum(entry.size or 0 for entry in matches))
    parent = posixpath.dirname(pattern)
    results = []
    for entry in matches:
        remote = posixpath.join(parent, entry.name)
        results.append(
            await _download(
                client, remote, directory / entry.name, entry.size, resume=resume, view=view
            )
        )
    return tuple(results)


async def _download(
    client: AsyncFTPClient,
    remote: str,
    local: Path,
    size: int | None,
    *,
    resume: bool,
    view: ProgressView,
) -> FileResult:
    """One file of a ``get``, reported to ``view``; the copy gets the server's time."""
    offset = local.stat().st_size if resume and local.is_file() else 0
    item = Transfer(path=remote, size=size, mtime=None, offset=offset)
    view.item_started(0, item)

    def progress(done: int, total: int | None) -> None:
        view.item_progress(0, item, done, total)

    result = await client.download(remote, local, resume=resume, progress=progress)
    mtime_set = False
    try:
        when = await client.mtime(remote)
    except (ReplyError, UnsupportedCommand):
        pass  # no MDTM: the copy keeps the time it was written
    else:
        stamp = when.timestamp()
        os.utime(local, (stamp, stamp))
        mtime_set = True
    outcome = _outcome(item, "download", result, mtime_set)
    view.item_finished(0, outcome)
    return FileResult(remote=remote, local=local, size=local.stat().st_size, outcome=outcome)


async def get_to_stdout(client: AsyncFTPClient, remote: str, *, view: ProgressView) -> FileResult:
    """``get URL -``: the file's bytes to standard output, nothing else there.

    The progress view (stderr) reports it like any download.  A reader
    that goes away early (``| head``) ends the download with a one-line
    error instead of a traceback.
    """
    if not posixpath.basename(remote.rstrip("/")) or remote.endswith("/"):
        raise CommandError(f"{remote or '/'} names a directory: use `ftpferry mirror`")
    item = Transfer(path=remote, size=None, mtime=None)
    view.begin(files=1, total_bytes=0)
    view.item_started(0, item)

    def progress(done: int, total: int | None) -> None:
        view.item_progress(0, item, done, total)

    try:
        with StdoutSink() as sink:
            result = await client.download(remote, sink, progress=progress)
    except BrokenPipeError:
        raise CommandError(
            "standard output was closed before the download finished (broken pipe)",
            ExitCode.LOCAL,
        ) from None
    outcome = _outcome(item, "download", result, mtime_set=False)
    view.item_finished(0, outcome)
    return FileResult(
        remote=remote, local=Path(STDOUT_DEST), size=result.transferred, outcome=outcome
    )


async def upload_destination(client: AsyncFTPClient, source: Path, remote: str) -> str:
    """Where ``put`` writes: the URL path, or NAME inside it when it is a directory."""
    if not remote or remote.endswith("/") or await is_remote_dir(client, remote):
        return _inside(remote, source.name)
    return remote


def _inside(directory: str, name: str) -> str:
    """``name`` in a remote directory ("" for the login directory)."""
    return posixpath.join(directory, name) if directory else name


async def put_file(
    client: AsyncFTPClient,
    source: Path,
    remote: str,
    *,
    resume: bool,
    view: ProgressView,
    parents: bool = False,
) -> FileResult:
    """Upload one file; the copy gets the local modification time when MFMT is offered.

    ``parents`` creates the remote directories it goes into first (curl's
    ``--ftp-create-dirs``): the URL's directory when it ends with ``/``,
    else the one holding the named file.
    """
    info = _upload_source(source)
    if parents:
        await _make_parents(client, remote if remote.endswith("/") else posixpath.dirname(remote))
    target = await upload_destination(client, source, remote)
    view.begin(files=1, total_bytes=info.st_size)
    return await _upload(client, source, info, target, resume=resume, view=view)


async def put_files(
    client: AsyncFTPClient,
    sources: Sequence[Path],
    remote: str,
    *,
    resume: bool,
    view: ProgressView,
    parents: bool = False,
) -> tuple[FileResult, ...]:
    """Upload several files into the remote directory ``remote``, in the order
    given; the first failure stops it.  Every source is checked first;
    ``parents`` creates the directory (and its parents) before that."""
    infos = [_upload_source(source) for source in sources]
    counts = collections.Counter(source.name for source in sources)
    twice = sorted(name for name, count in counts.items() if count > 1)
    if twice:
        raise CommandError(f"two sources would both be uploaded as {twice[0]}", ExitCode.LOCAL)
    if parents:
        await _make_parents(client, remote)
    if remote and not remote.endswith("/") and not await is_remote_dir(client, remote):
        raise CommandError(f"{remote} is not a directory: several files go into one")
    view.begin(files=len(sources), total_bytes=sum(info.st_size for info in infos))
    results = []
    for source, info in zip(sources, infos, strict=True):
        target = _inside(remote, source.name)
        results.append(await _upload(client, source, info, target, resume=resume, view=view))
    return tuple(results)


async def _make_parents(client: AsyncFTPClient, directory: str) -> None:
    """``mkdir -p`` of where an upload goes (nothing for the login directory)."""
    if directory.strip("/"):
        await make_dirs(client, directory)


def _upload_source(source: Path) -> os.stat_result:
    """A file ``put`` can send; FileNotFoundError before anything is sent."""
    if source.is_dir():
        raise CommandError(f"{source} is a directory: use `ftpferry mirror --reverse`")
    return source.stat()


async def _upload(
    client: AsyncFTPClient,
    source: Path,
    info: os.stat_result,
    target: str,
    *,
    resume: bool,
    view: ProgressView,
) -> FileResult:
    """One file of a ``put``, reported to ``view``; the copy gets the local time (MFMT)."""
    item = Transfer(path=target, size=info.st_size, mtime=info.st_mtime)
    view.item_started(0, item)

    def progress(done: int, total: int | None) -> None:
        view.item_progress(0, item, done, total)

    result = await client.upload(source, target, resume=resume, progress=progress)
    mtime_set = False
    if "MFMT" in client.features:
        try:
            await client.set_mtime(target, info.st_mtime)
            mtime_set = True
        except (ReplyError, UnsupportedCommand):
            pass  # the server keeps the upload's time
    outcome = _outcome(item, "upload", result, mtime_set)
    view.item_finished(0, outcome)
    return FileResult(remote=target, local=source, size=info.st_size, outcome=outcome)


# -- rm, mkdir, mv --------------------------------------------------------------------------


async def remove_remote(
    client: AsyncFTPClient, path: str, *, recursive: bool, view: ProgressView
) -> RemoveResult:
    """Delete a file; with ``recursive``, a directory and everything in it."""
    if not path.strip("/"):
        raise CommandError("refusing to remove the login directory itself")
    try:
        await client.remove(path)
    except PermanentError:
        if not await is_remote_dir(client, path):
            raise
    else:
        return RemoveResult(removed=(Removal(path=path, is_dir=False),))
    if not recursive:
        raise CommandError(f"{path} is a directory (use -r to remove it and its contents)")
    removed: list[Removal] = []

    def note(done: str, is_dir: bool) -> None:
        removal = Removal(path=done, is_dir=is_dir)
        removed.append(removal)
        view.removed(removal, None)

    await remove_tree(client, path.rstrip("/"), removed=note)
    return RemoveResult(removed=tuple(removed))


async def make_directory(client: AsyncFTPClient, path: str, *, parents: bool) -> MkdirResult:
    """MKD; with ``parents``, the missing parents too and no error if it exists."""
    if not path.strip("/"):
        raise CommandError("no directory named in the URL")
    if parents:
        return MkdirResult(path=path, created=tuple(await make_dirs(client, path)))
    await client.mkdir(path)
    return MkdirResult(path=path, created=(path,))


def rename_target(connector: Connector, new_path: str) -> str:
    """``mv``'s NEWPATH: a path on the same server, or a URL of that server."""
    if "://" not in new_path:
        return new_path
    here = connector.target
    target = parse_url(new_path, implicit_tls=here.implicit_tls or None)
    if (target.host, target.port) != (here.host, here.port):
        raise CommandError("mv cannot move between servers", ExitCode.USAGE)
    return target.path


async def move_remote(client: AsyncFTPClient, source: str, target: str) -> MoveResult:
    """RNFR/RNTO; a target ending in ``/`` keeps the name in that directory."""
    if not source.strip("/"):
        raise CommandError("no file or directory named in the URL")
    if target.endswith("/"):
        target = target + posixpath.basename(source.rstrip("/"))
    await client.rename(source, target)
    return MoveResult(source=source, target=target)


# -- mirror ---------------------------------------------------------------------------------


async def mirror_tree(
    connector: Connector,
    local: Path,
    *,
    direction: Direction,
    delete: bool,
    parallel: int,
    view: ProgressView,
    symlinks: bool = True,
    exclude: tuple[str, ...] = (),
    dry_run: bool = False,
) -> MirrorReport:
    """``mirror``: the remote tree into ``local`` (download), or the reverse."""
    # Only mirror needs the executor, the pool and the tree scanners.
    from ftpferry.sync.run import MirrorJob, mirror  # noqa: PLC0415

    job = MirrorJob(
        direction=direction,
        remote_root=connector.path.rstrip("/"),
        local_root=local,
        delete=delete,
        parallel=parallel,
        symlinks=symlinks,
        exclude=exclude,
        dry_run=dry_run,
    )

    def planned(plan: MirrorPlan) -> None:
        view.begin(files=len(plan.transfers), total_bytes=plan.transfer_bytes)

    # A dry run moves nothing: no bars to set up.
    return await mirror(job, connector, observer=view, on_plan=None if dry_run else planned)
