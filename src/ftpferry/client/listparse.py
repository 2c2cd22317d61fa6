"""A pragmatic parser for LIST output, for servers that do not offer MLSD.

LIST has no standard format (RFC 959 says it is "for humans"), so this
parser recognises the three shapes that cover nearly every server in use:

* **Unix ``ls -l``** (vsftpd, proftpd, pure-ftpd, busybox, pyftpdlib,
  ftpferry): permissions, optional link count, owner and group (either may
  be missing or numeric), size (``major, minor`` for device files), a date
  as ``Mon dd hh:mm`` (this year), ``Mon dd yyyy`` or ``yyyy-mm-dd hh:mm``,
  and the name, ``name -> target`` for symbolic links.  Month names it does
  not know (a localised server) leave ``modify`` None but keep the entry.
* **DOS / IIS**: ``01-02-24  10:15AM  <DIR>  name`` or a size instead of
  ``<DIR>``; 12- or 24-hour times, 2- or 4-digit years.
* **EPLF** (D. J. Bernstein's Easily Parsed LIST Format):
  ``+i8388621.48594,m825718503,r,s280,<TAB>name``.

A line that fits none of these is returned in :attr:`Listing.unparsed`;
parsing never raises.  ``total N`` header lines and the ``.`` and ``..``
entries are dropped silently.

``ls`` prints a time instead of a year for dates within the last six
months, so the year of such a date is inferred: the current year, unless
that puts the date more than a day in the future, then the year before.
The reference time is a parameter so tests are deterministic.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Iterable
from types import MappingProxyType
from typing import Final

from .entries import Entry, EntryKind, Listing

__all__ = ["parse_list", "parse_list_line"]

_UTC: Final = datetime.UTC
_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}

_UNIX_HEAD: Final = re.compile(
    r"(?P<mode>[-bcdlpsDnwL?][-rwxsStTlL?]{9})[.+@]?\s+(?:(?P<nlink>\d+)\s+)?(?P<rest>.*)",
    re.ASCII | re.DOTALL,
)
_UNIX_TAIL: Final = re.compile(
    r"(?:^|\s)(?P<size>\d+|\d+,\s*\d+)\s+"
    r"(?:(?P<month>[^\W\d_]{3,5}\.?)\s+(?P<day>\d{1,2})\s+"
    r"(?P<when>\d{1,2}:\d{2}(?::\d{2})?|\d{4})"
    r"|(?P<iso>\d{4}-\d{2}-\d{2})\s+(?P<isotime>\d{1,2}:\d{2}(?::\d{2})?))"
    r" (?P<name>.*)",
    re.DOTALL,
)
_DOS: Final = re.compile(
    r"(?P<month>\d{2})-(?P<day>\d{2})-(?P<year>\d{4}|\d{2})\s+"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})\s*(?P<ampm>[AaPp][Mm])?\s+"
    r"(?:<(?P<tag>[A-Za-z]+)>|(?P<size>\d[\d,]*))\s+(?P<name>.+)",
    re.ASCII | re.DOTALL,
)
_TOTAL: Final = re.compile(r"total\s+\d+", re.ASCII | re.IGNORECASE)


def parse_list(lines: Iterable[str], *, now: datetime.datetime | None = None) -> Listing:
    """Parse LIST output lines (line ends already removed) into a :class:`Listing`."""
    reference = _Now(now or datetime.datetime.now(_UTC))
    entries: list[Entry] = []
    unparsed: list[str] = []
    for line in lines:
        if not line.strip() or _TOTAL.fullmatch(line.strip()):
            continue
        entry = _parse_line(line, reference)
        if entry is None:
            unparsed.append(line)
        elif entry.name not in {".", ".."}:
            entries.append(entry)
    return Listing(tuple(entries), tuple(unparsed), source="LIST")


class _Now:
    """The reference time of a listing, with what every time-of-day line needs
    worked out once per listing instead of once per line."""

    __slots__ = ("latest", "years")

    def __init__(self, now: datetime.datetime) -> None:
        self.latest = now + datetime.timedelta(days=1)
        self.years = (now.year, now.year - 1)


def parse_list_line(line: str, *, now: datetime.datetime) -> Entry | None:
    """Parse one LIST line; None when no known format fits."""
    return _parse_line(line, _Now(now))


def _parse_line(line: str, now: _Now) -> Entry | None:
    if line.startswith("+"):
        return _parse_eplf(line)
    head = _UNIX_HEAD.fullmatch(line)
    if head is not None:
        entry = _parse_unix(line, head, now)
        if entry is not None:
            return entry
    dos = _DOS.fullmatch(line)
    if dos is not None:
        return _parse_dos(line, dos)
    return None


# -- Unix ls -l ---------------------------------------------------------------------------


def _parse_unix(line: str, head: re.Match[str], now: _Now) -> Entry | None:
    rest = head.group("rest")
    tail = _UNIX_TAIL.search(rest)
    if tail is None:
        return None
    mode = head.group("mode")
    kind = {"d": EntryKind.DIR, "-": EntryKind.FILE, "l": EntryKind.LINK}.get(
        mode[0], EntryKind.OTHER
    )
    facts: dict[str, str] = {"unix.mode": _octal_mode(mode)}
    if head.group("nlink"):
        facts["unix.nlink"] = head.group("nlink")
    owners = rest[: tail.start()].split()
    if owners:
        facts["unix.owner"] = owners[0]
    if len(owners) > 1:
        facts["unix.group"] = " ".join(owners[1:])
    size_text = tail.group("size")
    size: int | None = None
    if "," in size_text:
        facts["unix.device"] = ",".join(part.strip() for part in size_text.split(","))
    else:
        size = int(size_text)
    if tail.group("iso"):
        modify = _iso_time(tail.group("iso"), tail.group("isotime"))
    else:
        modify = _ls_time(tail.group("month"), tail.group("day"), tail.group("when"), now)
    name = tail.group("name")
    target: str | None = None
    if kind is EntryKind.LINK and " -> " in name:
        name, _, target = name.partition(" -> ")
    if not name:
        return None
    return Entry(
        name=name,
        kind=kind,
        size=size,
        modify=modify,
        facts=MappingProxyType(facts),
        raw=line,
        target=target,
    )


@functools.lru_cache(maxsize=256)
def _octal_mode(mode: str) -> str:
    """``rwxr-sr-t`` and friends as an octal string like MLSD's ``unix.mode``.

    Cached: a listing holds a handful of distinct modes, repeated per line.
    """
    bits = 0
    perms = mode[1:10]
    for index, char in enumerate(perms):
        if char in "rwxst":
            bits |= 1 << (8 - index)
    special = 0
    if perms[2] in "sS":
        special |= 4
    if perms[5] in "sSlL":
        special |= 2
    if perms[8] in "tT":
        special |= 1
    return f"0{special * 512 + bits:o}" if special else f"0{bits:o}"


def _ls_time(month_text: str, day_text: str, when: str, now: _Now) -> datetime.datetime | None:
    month = _MONTHS.get(month_text.lower().rstrip(".")[:3])
    if month is None:
        return None
    day = int(day_text)
    if ":" not in when:
        try:
            return datetime.datetime(int(when), month, day, tzinfo=_UTC)
        except ValueError:  # 30 Feb
            return None
    hour, minute, *seconds = (int(part) for part in when.split(":"))
    for year in now.years:  # this year or last; 29 Feb may exist in only one of them
        try:
            stamp = datetime.datetime(
                year, month, day, hour, minute, seconds[0] if seconds else 0, tzinfo=_UTC
            )
        except ValueError:  # 30 Feb, 25:00, or 29 Feb in a common year
            continue
        if stamp <= now.latest:
            return stamp
    return None


def _iso_time(date_text: str, time_text: str) -> datetime.datetime | None:
    try:
        year, month, day = (int(part) for part in date_text.split("-"))
        hour, minute, *seconds = (int(part) for part in time_text.split(":"))
        second = seconds[0] if seconds else 0
        return datetime.datetime(year, month, day, hour, minute, second, tzinfo=_UTC)
    except ValueError:
        return None


# -- DOS / IIS ----------------------------------------------------------------------------


def _parse_dos(line: str, match: re.Match[str]) -> Entry | None:
    tag = (match.group("tag") or "").upper()
    if tag == "DIR":
        kind = EntryKind.DIR
    elif tag in {"JUNCTION", "SYMLINK", "SYMLINKD"}:
        kind = EntryKind.LINK
    elif tag:
        kind = EntryKind.OTHER
    else:
        kind = EntryKind.FILE
    size_text = match.group("size")
    size = int(size_text.replace(",", "")) if size_text else None
    year = int(match.group("year"))
    if year < 100:
        year += 2000 if year < 70 else 1900
    hour = int(match.group("hour"))
    ampm = (match.group("ampm") or "").upper()
    if ampm == "PM" and hour < 12:
        hour += 12
    elif ampm == "AM" and hour == 12:
        hour = 0
    try:
        modify: datetime.datetime | None = datetime.datetime(
            year,
            int(match.group("month")),
            int(match.group("day")),
            hour,
            int(match.group("minute")),
            tzinfo=_UTC,
        )
    except ValueError:
        modify = None
    name = match.group("name")
    facts = {"type": kind.value}
    return Entry(
        name=name, kind=kind, size=size, modify=modify, facts=MappingProxyType(facts), raw=line
    )


# -- EPLF ---------------------------------------------------------------------------------


def _parse_eplf(line: str) -> Entry | None:
    facts_text, tab, name = line[1:].partition("\t")
    if not tab or not name:
        return None
    kind = EntryKind.OTHER
    size: int | None = None
    modify: datetime.datetime | None = None
    facts: dict[str, str] = {}
    for fact in facts_text.split(","):
        if not fact:
            continue
        key, value = fact[0], fact[1:]
        if key == "/":
            kind = EntryKind.DIR
        elif key == "r":
            if kind is EntryKind.OTHER:
                kind = EntryKind.FILE
        elif key == "s" and value.isascii() and value.isdigit():
            size = int(value)
        elif key == "m" and value.isascii() and value.isdigit():
            modify = datetime.datetime.fromtimestamp(int(value), _UTC)
        elif key == "i":
            facts["unique"] = value
        elif key == "u" and value.startswith("p"):
            facts["unix.mode"] = "0" + value[1:]
    return Entry(
        name=name, kind=kind, size=size, modify=modify, facts=MappingProxyType(facts), raw=line
    )
