"""Directory entries: what ``listdir`` and ``stat`` return, and the MLSx parser.

One :class:`Entry` type serves both listing formats, so callers never care
whether the server spoke MLSD (RFC 3659 machine-readable facts) or LIST
(free-form ``ls -l`` text parsed by :mod:`.listparse`).  What a format does
not tell is None; everything it did tell is kept in ``facts`` and the
original line in ``raw``, so a caller can always look closer.

Times are timezone-aware UTC datetimes.  MLSx times are UTC by definition;
LIST times carry no zone, and are taken as UTC because that is what
ftpferry, vsftpd (by default) and pyftpdlib print.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from ftpferry.protocol.listing import parse_mdtm

__all__ = [
    "Entry",
    "EntryKind",
    "Listing",
    "is_safe_name",
    "mdtm_to_datetime",
    "parse_mlsd",
    "parse_mlsx_line",
]

_EMPTY: Final[Mapping[str, str]] = MappingProxyType({})


class EntryKind(enum.StrEnum):
    """What a directory entry is."""

    FILE = "file"
    DIR = "dir"
    LINK = "link"
    OTHER = "other"  # devices, sockets, pipes, and types a server invents


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One directory entry.

    Attributes:
        name: the entry's name (for ``stat``: the last component of the path).
        kind: file, dir, link or other.
        size: bytes, when the listing says.
        modify: last modification, UTC, when the listing says.
        facts: MLSx facts with lower-case names (``type``, ``perm``,
            ``unix.mode`` ...); for LIST lines the parser's findings under
            the same names where they exist (``unix.mode``, ``unix.owner``,
            ``unix.group``, ``unix.nlink``).
        raw: the line as the server sent it.
        target: where a symbolic link points, when the listing says.
    """

    name: str
    kind: EntryKind
    size: int | None = None
    modify: datetime.datetime | None = None
    facts: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    raw: str = ""
    target: str | None = None

    @property
    def is_dir(self) -> bool:
        """True for a directory."""
        return self.kind is EntryKind.DIR

    @property
    def is_file(self) -> bool:
        """True for a regular file."""
        return self.kind is EntryKind.FILE

    @property
    def is_link(self) -> bool:
        """True for a symbolic link."""
        return self.kind is EntryKind.LINK


@dataclass(frozen=True, slots=True)
class Listing:
    """A directory listing: the entries, and the lines that did not parse.

    Iterating yields the entries.  ``unparsed`` holds lines that looked like
    neither a known LIST format nor MLSx facts: a listing never fails
    because of one odd line (aioftp #156), but the caller can see them.
    ``source`` is the command that produced it: ``MLSD`` or ``LIST``.
    """

    entries: tuple[Entry, ...]
    unparsed: tuple[str, ...] = ()
    source: str = "MLSD"

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        """The entry names in listing order."""
        return [entry.name for entry in self.entries]

    def get(self, name: str) -> Entry | None:
        """The entry called ``name``, or None."""
        for entry in self.entries:
            if entry.name == name:
                return entry
        return None


def is_safe_name(name: str) -> bool:
    """A name a directory can hold: not empty, ``.``, ``..``, nor one with a ``/``
    (or a NUL).  A server may list anything; a client that joins a listed
    name to a local path must not let ``../x`` take it elsewhere."""
    return bool(name) and name not in {".", ".."} and "/" not in name and "\0" not in name


def mdtm_to_datetime(text: str) -> datetime.datetime | None:
    """``YYYYMMDDHHMMSS[.fff]`` as an aware UTC datetime; None when malformed."""
    text = text.strip()
    if len(text) == 14 and text.isascii() and text.isdigit():
        # The common case (every MLSD line of most servers), built directly:
        # a third of the cost of epoch seconds and back.  A leap second (60,
        # 61) is not a datetime and takes the general way below.
        try:
            return datetime.datetime(
                int(text[0:4]),
                int(text[4:6]),
                int(text[6:8]),
                int(text[8:10]),
                int(text[10:12]),
                int(text[12:14]),
                tzinfo=datetime.UTC,
            )
        except ValueError:
            pass
    try:
        seconds = parse_mdtm(text)
    except ValueError:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


def _kind_of(type_fact: str) -> tuple[EntryKind, str | None]:
    value = type_fact.lower()
    if value in {"file"}:
        return EntryKind.FILE, None
    if value in {"dir", "cdir", "pdir"}:
        return EntryKind.DIR, None
    if value.startswith(("os.unix=slink", "os.unix=symlink", "link")):
        _, colon, target = type_fact.partition(":")
        return EntryKind.LINK, target if colon and target else None
    return EntryKind.OTHER, None


def parse_mlsx_line(line: str) -> Entry | None:
    """Parse ``fact=value;fact=value; name`` (an MLSD line or MLST body).

    Returns None when the line has no facts-and-name shape.  Unknown facts
    are kept; a missing ``type`` fact makes the entry a file, as most
    servers that omit it list only files that way.
    """
    if line.startswith(" "):
        facts_text, name = "", line[1:]
    else:
        split = line.find("; ")
        if split < 0:
            return None
        facts_text, name = line[: split + 1], line[split + 2 :]
    if not name:
        return None
    facts: dict[str, str] = {}
    for item in facts_text.split(";"):
        if not item:
            continue
        key, equals, value = item.partition("=")
        if not equals or not key:
            return None
        facts[key.strip().lower()] = value
    kind, target = _kind_of(facts.get("type", "file"))
    size_text = facts.get("size", facts.get("sizd", ""))
    size = int(size_text) if size_text.isascii() and size_text.isdigit() else None
    modify = mdtm_to_datetime(facts["modify"]) if "modify" in facts else None
    return Entry(
        name=name,
        kind=kind,
        size=size,
        modify=modify,
        facts=MappingProxyType(facts),
        raw=line,
        target=target,
    )


def parse_mlsd(lines: list[str]) -> Listing:
    """Parse MLSD output lines; the ``cdir``/``pdir`` entries (``.``, ``..``) are left out."""
    entries: list[Entry] = []
    unparsed: list[str] = []
    for line in lines:
        entry = parse_mlsx_line(line)
        if entry is None:
            unparsed.append(line)
        elif entry.facts.get("type", "").lower() in {"cdir", "pdir"}:
            continue
        elif entry.name not in {".", ".."}:
            entries.append(entry)
    return Listing(tuple(entries), tuple(unparsed), source="MLSD")
