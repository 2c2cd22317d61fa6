"""Listing formats: LIST in ``ls -l`` style and MLSD/MLST facts (RFC 3659).

Both take :class:`FileStat` values, which storage backends produce, and the
current time, so the output is a pure function of its inputs and can be
tested against fixed expected text.
"""

from __future__ import annotations

import calendar
import stat as stat_module
import time
from dataclasses import dataclass
from typing import Final

from .replies import sanitize

__all__ = [
    "ALL_FACTS",
    "DEFAULT_FACTS",
    "FileStat",
    "format_list_line",
    "format_mlsx_facts",
    "format_mdtm",
    "parse_mdtm",
]

SIX_MONTHS: Final = 180 * 24 * 3600
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
ALL_FACTS: Final = ("type", "size", "modify", "perm", "unique", "unix.mode")
DEFAULT_FACTS: Final = ALL_FACTS


@dataclass(frozen=True, slots=True, kw_only=True)
class FileStat:
    """What a listing needs to know about one directory entry."""

    name: str
    mode: int  # st_mode, including the file type bits
    size: int
    mtime: float  # seconds since the epoch, UTC
    nlink: int = 1
    uid: int = 0
    gid: int = 0
    dev: int = 0
    ino: int = 0
    link_target: str | None = None

    @property
    def is_dir(self) -> bool:
        """True for a directory."""
        return stat_module.S_ISDIR(self.mode)

    @property
    def is_file(self) -> bool:
        """True for a regular file."""
        return stat_module.S_ISREG(self.mode)


def format_list_line(entry: FileStat, *, now: float, owner: str = "ftp", group: str = "ftp") -> str:
    """One line of LIST output in the style of ``ls -l`` (no line end).

    Dates within the last six months show the time of day; older or future
    dates show the year, as ``ls`` does.  Unlike ``ls``, up to an hour in the
    future still counts as recent, so that a file just written on a disk
    whose clock runs slightly ahead does not show up with a year.  Clients
    such as lftp and curl's wildcard matcher parse this format.
    """
    mtime = time.gmtime(entry.mtime)
    month = _MONTHS[mtime.tm_mon - 1]
    if now - SIX_MONTHS < entry.mtime <= now + 3600:
        when = f"{month} {mtime.tm_mday:2d} {mtime.tm_hour:02d}:{mtime.tm_min:02d}"
    else:
        when = f"{month} {mtime.tm_mday:2d}  {mtime.tm_year:4d}"
    name = _clean_name(entry.name)
    permissions = stat_module.filemode(entry.mode)
    if entry.link_target is not None:
        name = f"{name} -> {_clean_name(entry.link_target)}"
        # The storage may describe a link by what it leads to; an arrow after a
        # "-" line would make every LIST parser read "a -> b" as the file's name.
        permissions = "lrwxrwxrwx"
    return f"{permissions} {entry.nlink:3d} {owner:<8} {group:<8} {entry.size:>12d} {when} {name}"


def _clean_name(name: str) -> str:
    """Names go into CRLF-delimited text: a CR or LF would split the entry."""
    return sanitize(name)


def _mlsx_type(entry: FileStat) -> str:
    if entry.is_dir:
        return "dir"
    if stat_module.S_ISLNK(entry.mode):
        if entry.link_target is None:
            return "OS.unix=slink"
        return f"OS.unix=slink:{_clean_name(entry.link_target).replace(';', '%3B')}"
    return "file"


def format_mdtm(mtime: float) -> str:
    """``YYYYMMDDHHMMSS`` in UTC, as MDTM and the ``modify`` fact require."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(mtime))


def parse_mdtm(text: str) -> float:
    """Parse ``YYYYMMDDHHMMSS[.fff]`` (UTC) into epoch seconds; ValueError if bad.

    RFC 3659's time-val is ``14DIGIT [ "." 1*DIGIT ]``: ASCII digits only, and
    a dot must be followed by at least one digit.
    """
    whole, dot, fraction = text.partition(".")
    if (
        len(whole) != 14
        or not (whole.isascii() and whole.isdigit())
        or (dot and not (fraction.isascii() and fraction.isdigit()))
    ):
        raise ValueError(f"time {text[:30]!r} is not YYYYMMDDHHMMSS")
    # By hand rather than strptime, which costs ten times as much: a client
    # parses one of these per entry of every MLSD listing.
    year, month, day = int(whole[0:4]), int(whole[4:6]), int(whole[6:8])
    hour, minute, second = int(whole[8:10]), int(whole[10:12]), int(whole[12:14])
    if not (
        1 <= month <= 12
        and 1 <= day <= calendar.monthrange(year, month)[1]
        and hour <= 23
        and minute <= 59
        and second <= 61  # what strptime's %S allows: leap seconds
    ):
        raise ValueError(f"time {text[:30]!r} is not a valid date and time")
    seconds = float(calendar.timegm((year, month, day, hour, minute, second)))
    if fraction:
        seconds += int(fraction) / 10 ** len(fraction)
    return seconds


def format_mlsx_facts(
    entry: FileStat,
    *,
    facts: tuple[str, ...] = DEFAULT_FACTS,
    writable: bool = True,
    entry_type: str | None = None,
) -> str:
    """``fact=value;...; name`` for MLSD lines and the MLST reply body.

    ``perm`` follows RFC 3659 7.5.5: files get r (retrieve) plus, when the
    user may write, a w d f (append, store, delete, rename); directories get
    e l (enter, list) plus c m d f p (create, mkdir, delete, rename, purge).

    A symbolic link the storage could not describe by what it leads to (it
    leaves the root, or leads nowhere) is ``type=OS.unix=slink`` (RFC 3659
    7.5.1's OS-specific types, as Pure-FTPd writes them), with ``:target``
    when the target may be shown: calling it a file would promise a RETR
    that can only be refused.
    """
    kind = entry_type or _mlsx_type(entry)
    values: list[str] = []
    for fact in facts:
        if fact == "type":
            values.append(f"type={kind}")
        elif fact == "size" and not entry.is_dir:
            values.append(f"size={entry.size}")
        elif fact == "modify":
            values.append(f"modify={format_mdtm(entry.mtime)}")
        elif fact == "perm":
            if entry.is_dir:
                perm = "elcmdfp" if writable else "el"
            else:
                perm = "radwf" if writable else "r"
            values.append(f"perm={perm}")
        elif fact == "unique":
            values.append(f"unique={entry.dev:x}U{entry.ino:x}")
        elif fact == "unix.mode":
            values.append(f"unix.mode=0{stat_module.S_IMODE(entry.mode):o}")
    return "".join(value + ";" for value in values) + " " + _clean_name(entry.name)
