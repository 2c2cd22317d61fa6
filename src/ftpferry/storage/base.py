"""The storage interface the server talks to, and its errors.

Paths given to a :class:`Storage` are virtual (``/`` is the user's root) and
already normalized by :func:`ftpferry.protocol.resolve`; a backend's only
remaining job for safety is to refuse what the file system itself could use
to escape (symlinks).  Every method is async so that a remote backend can
await the network; the local backend answers at once for cheap calls.
"""

from __future__ import annotations

from typing import BinaryIO, Protocol

from ftpferry.protocol import FileStat, ReplyCode

__all__ = [
    "AlreadyExists",
    "NotADirectory",
    "NotFound",
    "PermissionDenied",
    "Storage",
    "StorageError",
]


class StorageError(Exception):
    """A storage operation failed; ``reply_code`` is what the client is told."""

    reply_code: int = ReplyCode.FILE_UNAVAILABLE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(StorageError):
    """No such file or directory."""


class NotADirectory(StorageError):
    """A directory was expected."""


class AlreadyExists(StorageError):
    """The target name is taken."""


class PermissionDenied(StorageError):
    """The file system or the root boundary refuses the operation."""


class Storage(Protocol):
    """What a session needs from a file store."""

    async def stat(self, path: str) -> FileStat:
        """Stat a path (following symlinks that stay inside the root)."""

    async def list_dir(self, path: str) -> list[FileStat]:
        """The entries of a directory, symlinks reported as links.

        Raises :class:`NotADirectory` for a file, which LIST then shows alone.
        """

    async def open_read(self, path: str) -> BinaryIO:
        """Open a regular file for reading."""

    async def open_write(self, path: str, *, offset: int = 0, append: bool = False) -> BinaryIO:
        """Open a file for writing: truncate, or write from ``offset``, or append."""

    async def create_unique(self, directory: str, prefix: str) -> tuple[str, BinaryIO]:
        """Create a new file with a name nobody has; return its virtual path."""

    async def mkdir(self, path: str) -> None:
        """Create a directory."""

    async def rmdir(self, path: str) -> None:
        """Remove an empty directory."""

    async def remove(self, path: str) -> None:
        """Delete a file."""

    async def rename(self, source: str, target: str) -> None:
        """Rename a file or directory."""

    async def set_mtime(self, path: str, mtime: float) -> None:
        """Set the modification time."""

    async def chmod(self, path: str, mode: int) -> None:
        """Change permission bits."""
