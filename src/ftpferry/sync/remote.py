"""Whole-tree operations on the server that FTP lacks: ``mkdir -p`` and ``rm -r``.

FTP creates and removes one directory at a time (MKD, RMD), and RMD only
removes an empty one, so both are built here from single commands.  Both
take paths relative to the login directory, as URLs give them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from ftpferry.client import AsyncFTPClient, PermanentError, ReplyError

__all__ = ["is_remote_dir", "make_dirs", "remove_tree", "unlink_if_link"]


async def is_remote_dir(client: AsyncFTPClient, path: str) -> bool:
    """True when ``path`` exists on the server and is a directory."""
    try:
        entry = await client.stat(path)
    except ReplyError:
        return False
    return entry.is_dir


async def make_dirs(client: AsyncFTPClient, path: str) -> list[str]:
    """Create ``path`` and any missing parents; returns the ones created.

    An existing directory is not an error (as ``mkdir -p``); an existing
    file in the way is: its MKD refusal is raised.
    """
    created: list[str] = []
    parts = [part for part in path.strip("/").split("/") if part]
    prefix = "/" if path.startswith("/") else ""
    for index in range(len(parts)):
        current = prefix + "/".join(parts[: index + 1])
        try:
            await client.mkdir(current)
        except PermanentError:
            if not await is_remote_dir(client, current):
                raise
        else:
            created.append(current)
    return created


async def unlink_if_link(client: AsyncFTPClient, path: str) -> bool:
    """Remove ``path`` if it is a symbolic link the server lists as a directory.

    Some servers (pyftpdlib in MLSD, ProFTPD with ``ShowSymlinks off``) show
    a link to a directory as the directory itself, and no listing tells
    them apart.  Emptying such a "directory" would delete the files of the
    directory it leads to, which ``rm -r`` must never do.  DELE removes a
    link and nothing else, and every server refuses it for a real
    directory: True when it removed one, False for a directory to empty.
    """
    try:
        await client.remove(path)
    except ReplyError:
        return False
    return True


async def remove_tree(
    client: AsyncFTPClient,
    path: str,
    *,
    removed: Callable[[str, bool], object] | None = None,
) -> int:
    """Remove a remote directory and everything in it; returns the entries removed.

    Depth first: each directory's files are deleted, then its
    subdirectories emptied and removed, then the directory itself.  A
    subdirectory that is really a symbolic link is removed as the link
    (:func:`unlink_if_link`), what it leads to left alone, as ``rm -r`` does.
    ``removed(path, is_dir)`` is called after each removal (a link: False).
    """
    count = 0
    listing = await client.listdir(path)
    for entry in listing:
        if "/" in entry.name or entry.name in {"", ".", ".."}:
            continue
        child = posixpath.join(path, entry.name)
        if entry.is_dir and not await unlink_if_link(client, child):
            count += await remove_tree(client, child, removed=removed)
            continue
        if not entry.is_dir:
            await client.remove(child)
        count += 1
        if removed is not None:
            removed(child, False)
    await client.rmdir(path)
    if removed is not None:
        removed(path, True)
    return count + 1
