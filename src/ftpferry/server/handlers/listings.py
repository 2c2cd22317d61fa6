"""What LIST, NLST, MLSD and STAT <path> list, shared by all four.

Clients decorate the argument in ways no RFC describes: ``LIST -la``,
``LIST -a /dir``, ``NLST *.txt``.  Leading ``-`` options are dropped (we
always show everything, as ``ls -la`` would), and a wildcard is allowed in
the last path component only, matched against one directory listing, so a
pattern can never make the server walk a tree.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Final

from ftpferry.storage import NotADirectory

if TYPE_CHECKING:
    from ftpferry.protocol import FileStat

    from ..session import Session

__all__ = ["MAX_LIST_ENTRIES", "list_entries", "list_names", "strip_list_options"]

MAX_LIST_ENTRIES: Final = 100_000
_WILDCARDS: Final = frozenset("*?[")


def strip_list_options(arg: str) -> str:
    """Drop ``-l``/``-a``-style options that clients put before the path."""
    words = arg.split(" ")
    while words and words[0].startswith("-") and len(words[0]) > 1:
        words.pop(0)
    while words and words[0] == "":
        words.pop(0)
    return " ".join(words)


async def list_entries(session: Session, arg: str) -> list[FileStat]:
    """The entries to show for a listing argument (a dir, a file or a pattern)."""
    storage = session.require_storage()
    text = strip_list_options(arg)
    path = session.resolve(text)
    directory, _, last = path.rpartition("/")
    if last and _WILDCARDS & set(last):
        entries = await storage.list_dir(directory or "/")
        return [entry for entry in entries if fnmatch.fnmatchcase(entry.name, last)][
            :MAX_LIST_ENTRIES
        ]
    try:  # a directory, mostly: asking list_dir first resolves the path once, not twice
        return (await storage.list_dir(path))[:MAX_LIST_ENTRIES]
    except NotADirectory:
        return [await storage.stat(path)]


async def list_names(session: Session, arg: str) -> list[str]:
    """NLST: bare names, as pyftpdlib and vsftpd send them."""
    return [entry.name for entry in await list_entries(session, arg)]
