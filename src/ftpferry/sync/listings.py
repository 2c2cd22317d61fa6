"""One directory's entries as a mirror may trust them: links marked, doubles dropped.

Pure: listings in, entries out, so every rule is a unit test away.

Why two listings
----------------
MLSD is the listing a mirror wants (exact sizes, times to the second),
but many servers describe a symbolic link there as whatever it leads to:
ftpferry and pyftpdlib list a link to a file as ``type=file``, and
pyftpdlib a link to a directory as ``type=dir`` (ftpferry types links to
directories, and those it does not follow, as ``OS.unix=slink``).  Only
their LIST output says "this is a link, and here is its target".  So a
mirror that recreates links lists a directory with MLSD *and* LIST and
lets LIST say which names are links:

* a LIST ``l`` line (``name -> target``, or ``name`` alone when the server
  keeps the target to itself) makes ``name`` a link, with the target when
  given.  MLSD's own link types (``OS.unix=slink:target``) count as well;
* some servers (ftpferry before its LIST said ``l`` for such links) print
  a link to a file as the file it leads to, arrow included
  (``-rw-r--r-- ... name -> target``), which a LIST parser cannot tell from
  a file called ``name -> target``.  The MLSD listing can: when it has
  ``name`` and no ``name -> target``, the arrow is a link's;
* a link to a directory that both listings show as a plain directory
  (ProFTPD with ``ShowSymlinks off``; ftpferry did) cannot be told from
  one, and is mirrored as the directory it leads to.

A name listed more than once (by one listing) is dropped altogether: no
honest server does that, and a hostile one could pair ``evil -> /tmp``
with a file or a directory called ``evil`` to have the mirror write
through the link it has just made.
"""

from __future__ import annotations

import collections
import dataclasses
from dataclasses import dataclass

from ftpferry.client import Entry, EntryKind, Listing
from ftpferry.client.entries import is_safe_name

__all__ = ["DirectoryEntries", "directory_entries", "is_safe_name"]

ARROW = " -> "


@dataclass(frozen=True, slots=True)
class DirectoryEntries:
    """What :func:`directory_entries` made of a directory's listings.

    Attributes:
        entries: by name, links with ``kind`` LINK and their ``target``
            (None when no listing said it).
        duplicates: names listed more than once, left out of ``entries``.
        unsafe: names no file system could hold (``..``, ``a/b``), left out.
    """

    entries: dict[str, Entry]
    duplicates: tuple[str, ...] = ()
    unsafe: tuple[str, ...] = ()


def _doubles(listing: Listing | None) -> set[str]:
    if listing is None:
        return set()
    counts = collections.Counter(entry.name for entry in listing)
    return {name for name, count in counts.items() if count > 1}


def directory_entries(listing: Listing, long_listing: Listing | None = None) -> DirectoryEntries:
    """Merge a directory's listing with its LIST output (see the module docstring).

    ``long_listing`` is the LIST of the same directory, or None when there
    is none (or ``listing`` is a LIST already).
    """
    doubles = _doubles(listing) | _doubles(long_listing)
    unsafe = sorted(
        {e.name for e in listing if not is_safe_name(e.name)}
        | {e.name for e in long_listing or () if not is_safe_name(e.name.partition(ARROW)[0])}
    )
    entries = {
        entry.name: entry
        for entry in listing
        if entry.name not in doubles and is_safe_name(entry.name)
    }
    for entry in long_listing or ():
        if entry.name in doubles:
            continue
        if entry.kind is EntryKind.LINK:
            if not is_safe_name(entry.name):
                continue
            known = entries.get(entry.name)
            if known is None:  # pyftpdlib's MLSD leaves out links it cannot follow
                entries[entry.name] = entry
            elif not (known.is_link and known.target is not None and entry.target is None):
                entries[entry.name] = dataclasses.replace(
                    known, kind=EntryKind.LINK, target=entry.target
                )
        elif ARROW in entry.name and entry.name not in entries:
            name, _, target = entry.name.partition(ARROW)
            known = entries.get(name)
            if known is not None and name not in doubles and target:
                entries[name] = dataclasses.replace(known, kind=EntryKind.LINK, target=target)
    return DirectoryEntries(
        entries=entries,
        duplicates=tuple(sorted(doubles)),
        unsafe=tuple(unsafe),
    )
