"""Local file-system storage rooted at a directory.

The virtual path is already normalized, so ``root / path`` cannot climb out
with ``..``; what can still escape is a symlink inside the root that points
outside it.  Every operation therefore resolves the real path (or, for a
name about to be created, its parent's real path) and refuses it with
``550`` unless it lies inside the root's real path.  A symlink that stays
inside the root works as users expect.

Metadata calls on a local disk take microseconds, so they run inline;
directory listings, which can be large, run in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat as stat_module
from pathlib import Path
from typing import BinaryIO, Final

from ftpferry.protocol import FileStat, ReplyCode

from .base import AlreadyExists, NotADirectory, NotFound, PermissionDenied, StorageError

__all__ = ["LocalStorage"]

_UNIQUE_ATTEMPTS = 100
INLINE_LISTING_BYTES = 32 * 1024
"""Directories whose own size is at most this (a few hundred entries) list inline."""


def _translate(exc: OSError, path: str) -> StorageError:
    """Map an OSError to a StorageError with a message that names the virtual path."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOENT:
        return NotFound(f"{path}: no such file or directory")
    if exc.errno == errno.ENOTDIR:
        return NotADirectory(f"{path}: not a directory")
    if exc.errno == errno.EEXIST:
        return AlreadyExists(f"{path}: already exists")
    if exc.errno == errno.ENOTEMPTY:
        return StorageError(f"{path}: directory not empty")
    if exc.errno in {errno.EACCES, errno.EPERM, errno.EROFS}:
        return PermissionDenied(f"{path}: permission denied")
    if exc.errno in {errno.ENOSPC, errno.EDQUOT}:
        error = StorageError(f"{path}: no space left")
        error.reply_code = ReplyCode.INSUFFICIENT_STORAGE
        return error
    if exc.errno == errno.ENAMETOOLONG:
        error = StorageError(f"{path}: file name too long")
        error.reply_code = ReplyCode.BAD_FILE_NAME
        return error
    return StorageError(f"{path}: {reason}")


def _to_stat(name: str, st: os.stat_result, link_target: str | None = None) -> FileStat:
    return FileStat(
        name=name,
        mode=st.st_mode,
        size=st.st_size,
        mtime=st.st_mtime,
        nlink=st.st_nlink,
        uid=st.st_uid,
        gid=st.st_gid,
        dev=st.st_dev,
        ino=st.st_ino,
        link_target=link_target,
    )


def _require_regular(fd: int, path: str) -> None:
    """Close ``fd`` and refuse unless it is a regular file; then make it blocking.

    Files are opened with ``O_NONBLOCK`` because opening a FIFO (or a device)
    would otherwise wait for the other end, freezing the whole event loop
    since these calls run inline.  For a regular file the flag has no effect,
    but it is cleared anyway so that the handle behaves like any other.
    """
    mode = os.fstat(fd).st_mode
    if not stat_module.S_ISREG(mode):
        os.close(fd)
        kind = "is a directory" if stat_module.S_ISDIR(mode) else "not a regular file"
        raise StorageError(f"{path}: {kind}")
    os.set_blocking(fd, True)


_PROC_FD: Final = os.path.isdir("/proc/self/fd")
"""Linux with /proc mounted: a descriptor's path can be read back."""


def _real_path(raw: str) -> str:
    """Where ``raw`` really leads, symlinks resolved, for the containment check.

    ``os.path.realpath`` walks the path in Python with one ``lstat`` per
    component, the root's own included: it was a seventh of the server's
    time when a client fetched many small files.  Opening the name with
    ``O_PATH`` (no access check on the file itself, no side effects on
    devices) and reading the kernel's own answer from ``/proc/self/fd``
    costs three system calls whatever the depth.
    """
    if _PROC_FD:
        with contextlib.suppress(OSError):
            fd = os.open(raw, os.O_PATH | os.O_CLOEXEC)
            try:
                return os.readlink(f"/proc/self/fd/{fd}")
            finally:
                os.close(fd)
    # Not there, or a dangling link: realpath still says where the name
    # points, so a link leaving the root is refused as such and never
    # reveals whether its target exists.
    return os.path.realpath(raw)


class LocalStorage:
    """A :class:`~ftpferry.storage.Storage` over a directory of this machine."""

    __slots__ = ("_file_mode", "_root", "_root_prefix")

    def __init__(self, root: Path, *, umask: int = 0o022) -> None:
        self._root = os.path.realpath(root)
        self._root_prefix = self._root.rstrip("/") + "/"
        self._file_mode = 0o666 & ~umask

    @property
    def root(self) -> str:
        """The real path of the root directory."""
        return self._root

    # -- mapping and containment ------------------------------------------------

    def _inside(self, real: str) -> bool:
        return real == self._root or real.startswith(self._root_prefix)

    def _raw(self, path: str) -> str:
        return self._root + path if path != "/" else self._root

    def _existing(self, path: str) -> str:
        """Real path of an existing name, refusing symlinks that leave the root."""
        real = _real_path(self._raw(path))
        if not self._inside(real):
            raise PermissionDenied(f"{path}: points outside your root")
        return real

    def _new(self, path: str) -> str:
        """Real path for a name to create: its parent must resolve inside the root."""
        if path == "/":
            raise PermissionDenied("/: is the root directory")
        parent, _, name = self._raw(path).rpartition("/")
        real_parent = _real_path(parent)
        if not self._inside(real_parent):
            raise PermissionDenied(f"{path}: points outside your root")
        candidate = real_parent + "/" + name
        if os.path.islink(candidate) and not self._inside(os.path.realpath(candidate)):
            raise PermissionDenied(f"{path}: points outside your root")
        return candidate

    # -- metadata ----------------------------------------------------------------

    async def stat(self, path: str) -> FileStat:
        """Stat a path, following symlinks that stay inside the root."""
        try:
            real = self._existing(path)
            return _to_stat(path.rpartition("/")[2] or "/", os.stat(real))
        except OSError as exc:
            raise _translate(exc, path) from exc

    async def list_dir(self, path: str) -> list[FileStat]:
        """List a directory: small ones inline, large ones in a worker thread.

        A worker thread costs more than listing a typical directory, and
        worse, while it holds the GIL the event loop waits for it after every
        system call (the convoy effect), which slowed 200 concurrent clients
        by a third.  A directory's own size grows with its entry count on
        ext4, xfs, btrfs and tmpfs, so it tells cheaply which listings are
        big enough to be worth a thread.
        """
        try:
            real = self._existing(path)
            st = os.stat(real)
            if not stat_module.S_ISDIR(st.st_mode):
                raise NotADirectory(f"{path}: not a directory")
            if st.st_size <= INLINE_LISTING_BYTES:
                return self._list_dir_sync(real)
            return await asyncio.to_thread(self._list_dir_sync, real)
        except OSError as exc:
            raise _translate(exc, path) from exc

    def _list_dir_sync(self, real: str) -> list[FileStat]:
        entries: list[FileStat] = []
        with os.scandir(real) as iterator:
            for entry in iterator:
                try:
                    st = entry.stat(follow_symlinks=False)
                    target = None
                    if stat_module.S_ISLNK(st.st_mode):
                        st, target = self._describe_link(entry.path, st)
                except OSError:
                    continue  # vanished while listing
                entries.append(_to_stat(entry.name, st, target))
        entries.sort(key=lambda item: item.name)
        return entries

    def _describe_link(self, link: str, st: os.stat_result) -> tuple[os.stat_result, str | None]:
        """The stat and the ``->`` target to list for a symlink.

        A link that stays inside the root shows its target as written (an
        absolute one as a virtual path, so the root's real location is not
        revealed).  A link to a file is listed as that file, which clients
        can then download.  A link to a directory is listed as the link
        (``l...`` in LIST, ``type=OS.unix=slink:target`` in MLSD), as vsftpd
        and ProFTPD list it: shown as a directory, it made every recursive
        delete (``lftp rm -r``, FileZilla) empty the directory it leads to.
        CWD still enters it.  A link leaving the root is listed as the link
        itself with no target: even the name of what lies outside must not
        reach the client.
        """
        inner = os.path.realpath(link)
        if not self._inside(inner):
            return st, None
        target = os.readlink(link)
        if target.startswith("/"):
            target = inner[len(self._root.rstrip("/")) :] or "/"
        if os.path.exists(inner):
            followed = os.stat(inner)
            if not stat_module.S_ISDIR(followed.st_mode):
                return followed, target
        return st, target

    # -- file contents -------------------------------------------------------------

    async def open_read(self, path: str) -> BinaryIO:
        """Open a regular file for reading."""
        try:
            real = self._existing(path)
            fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise _translate(exc, path) from exc
        _require_regular(fd, path)
        return os.fdopen(fd, "rb", buffering=0)

    async def open_write(self, path: str, *, offset: int = 0, append: bool = False) -> BinaryIO:
        """Open for writing: truncate, write from ``offset`` (REST), or append (APPE)."""
        try:
            real = self._new(path)
            # No O_APPEND even for APPE: Linux refuses splice() into an
            # O_APPEND file, and splice is how uploads avoid copying.
            flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC
            if offset == 0 and not append:
                flags |= os.O_TRUNC
            fd = os.open(real, flags, self._file_mode)
        except IsADirectoryError as exc:
            raise StorageError(f"{path}: is a directory") from exc
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # a FIFO nobody reads (O_NONBLOCK)
                raise StorageError(f"{path}: not a regular file") from exc
            raise _translate(exc, path) from exc
        _require_regular(fd, path)
        handle = os.fdopen(fd, "wb", buffering=0)
        if append:
            handle.seek(0, os.SEEK_END)
        elif offset:
            handle.seek(offset)
        return handle

    async def create_unique(self, directory: str, prefix: str) -> tuple[str, BinaryIO]:
        """Create ``prefix.N`` exclusively, for STOU."""
        base = directory.rstrip("/")
        for attempt in range(_UNIQUE_ATTEMPTS):
            virtual = f"{base}/{prefix}" if attempt == 0 else f"{base}/{prefix}.{attempt}"
            try:
                real = self._new(virtual)
                fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_EXCL, self._file_mode)
            except FileExistsError:
                continue
            except OSError as exc:
                raise _translate(exc, virtual) from exc
            return virtual, os.fdopen(fd, "wb", buffering=0)
        raise StorageError(f"{directory}: could not find a unique name")

    # -- namespace changes ---------------------------------------------------------

    async def mkdir(self, path: str) -> None:
        """Create a directory."""
        try:
            os.mkdir(self._new(path))
        except OSError as exc:
            raise _translate(exc, path) from exc

    async def rmdir(self, path: str) -> None:
        """Remove an empty directory (never the root)."""
        if path == "/":
            raise PermissionDenied("/: cannot remove the root directory")
        try:
            os.rmdir(self._new(path))
        except OSError as exc:
            raise _translate(exc, path) from exc

    async def remove(self, path: str) -> None:
        """Delete a file (a symlink itself, not its target)."""
        try:
            real = self._new(path)
            if os.path.isdir(real) and not os.path.islink(real):
                raise StorageError(f"{path}: is a directory (use RMD)")
            os.unlink(real)
        except OSError as exc:
            raise _translate(exc, path) from exc

    async def rename(self, source: str, target: str) -> None:
        """Rename within the root."""
        try:
            os.rename(self._new(source), self._new(target))
        except OSError as exc:
            raise _translate(exc, target) from exc

    async def set_mtime(self, path: str, mtime: float) -> None:
        """Set the modification time (MFMT)."""
        try:
            os.utime(self._existing(path), (mtime, mtime))
        except OSError as exc:
            raise _translate(exc, path) from exc

    async def chmod(self, path: str, mode: int) -> None:
        """Change permission bits (SITE CHMOD): rwx bits only, never the root.

        setuid/setgid/sticky bits on uploaded files would let a client plant
        privileged programs, and a chmod of the root could lock every user
        of it out, so both are refused.
        """
        if mode & ~0o777:
            raise PermissionDenied(f"{path}: only permission bits 0-777 may be set")
        if path == "/":
            raise PermissionDenied("/: cannot change the root directory's mode")
        try:
            os.chmod(self._existing(path), mode)
        except OSError as exc:
            raise _translate(exc, path) from exc
