"""LIST lines (``ls -l``), MLSx facts (RFC 3659) and the MDTM time format."""

from __future__ import annotations

import calendar
import datetime
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftpferry.client import parse_list_line
from ftpferry.protocol import FileStat, format_list_line, format_mdtm, format_mlsx_facts, parse_mdtm
from ftpferry.protocol.listing import SIX_MONTHS


def utc(*fields: int) -> int:
    """Epoch seconds of a UTC date and time."""
    year, month, day, hour, minute, second = (*fields, 0, 0, 0, 0, 0)[:6]
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


NOW = utc(2024, 6, 15, 12, 0, 0)
RECENT = utc(2024, 6, 1, 8, 5, 0)
OLD = utc(2023, 11, 20, 23, 59, 0)

FILE = FileStat(
    name="notes.txt", mode=stat.S_IFREG | 0o644, size=1234, mtime=RECENT, dev=0x803, ino=456
)
DIRECTORY = FileStat(
    name="photos", mode=stat.S_IFDIR | 0o755, size=4096, mtime=OLD, nlink=3, dev=0x803, ino=0xABC
)
LINK = FileStat(name="a", mode=stat.S_IFLNK | 0o777, size=1, mtime=RECENT, link_target="b")


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def with_mtime(entry: FileStat, mtime: float) -> FileStat:
    return FileStat(name=entry.name, mode=entry.mode, size=entry.size, mtime=mtime)


# -- LIST ----------------------------------------------------------------------------


def test_recent_file_shows_time_of_day() -> None:
    assert format_list_line(FILE, now=NOW) == (
        "-rw-r--r--   1 ftp      ftp              1234 Jun  1 08:05 notes.txt"
    )


def test_old_directory_shows_year() -> None:
    assert format_list_line(DIRECTORY, now=NOW) == (
        "drwxr-xr-x   3 ftp      ftp              4096 Nov 20  2023 photos"
    )


def test_symlink_shows_target() -> None:
    assert format_list_line(LINK, now=NOW) == (
        "lrwxrwxrwx   1 ftp      ftp                 1 Jun  1 08:05 a -> b"
    )


def test_future_date_shows_year() -> None:
    future = with_mtime(FILE, utc(2024, 6, 15, 14, 30))
    assert format_list_line(future, now=NOW) == (
        "-rw-r--r--   1 ftp      ftp              1234 Jun 15  2024 notes.txt"
    )
    next_year = with_mtime(FILE, utc(2025, 2, 3, 4, 5))
    assert format_list_line(next_year, now=NOW) == (
        "-rw-r--r--   1 ftp      ftp              1234 Feb  3  2025 notes.txt"
    )


def test_up_to_an_hour_ahead_counts_as_recent() -> None:
    ahead = with_mtime(FILE, NOW + 3600)
    assert format_list_line(ahead, now=NOW).endswith(" Jun 15 13:00 notes.txt")
    too_far = with_mtime(FILE, NOW + 3601)
    assert format_list_line(too_far, now=NOW).endswith(" Jun 15  2024 notes.txt")


def test_six_month_boundary() -> None:
    boundary = NOW - SIX_MONTHS  # 2023-12-18 12:00
    assert format_list_line(with_mtime(FILE, boundary), now=NOW).endswith(" Dec 18  2023 notes.txt")
    assert format_list_line(with_mtime(FILE, boundary + 1), now=NOW).endswith(
        " Dec 18 12:00 notes.txt"
    )
    assert format_list_line(with_mtime(FILE, NOW), now=NOW).endswith(" Jun 15 12:00 notes.txt")


def test_every_month_name() -> None:
    months = [
        format_list_line(with_mtime(FILE, utc(2020, month, 9)), now=NOW).split()[5]
        for month in range(1, 13)
    ]
    assert months == MONTHS


def test_owner_group_and_wide_values() -> None:
    entry = FileStat(
        name="big.iso",
        mode=stat.S_IFREG | 0o600,
        size=12_345_678_901_234,
        mtime=RECENT,
        nlink=1234,
    )
    assert format_list_line(entry, now=NOW, owner="alice", group="staff") == (
        "-rw------- 1234 alice    staff    12345678901234 Jun  1 08:05 big.iso"
    )


def test_special_modes() -> None:
    entry = FileStat(name="tool", mode=stat.S_IFREG | 0o4755, size=0, mtime=RECENT)
    assert format_list_line(entry, now=NOW).startswith("-rwsr-xr-x   1 ")
    sticky = FileStat(name="tmp", mode=stat.S_IFDIR | 0o1777, size=0, mtime=RECENT)
    assert format_list_line(sticky, now=NOW).startswith("drwxrwxrwt   1 ")


def test_names_cannot_split_the_listing() -> None:
    entry = FileStat(
        name="evil\r\n-rw-r--r-- fake",
        mode=stat.S_IFLNK | 0o777,
        size=0,
        mtime=RECENT,
        link_target="x\ny",
    )
    line = format_list_line(entry, now=NOW)
    assert line.endswith(" Jun  1 08:05 evil  -rw-r--r-- fake -> x y")
    assert "\r" not in line
    assert "\n" not in line


def test_name_with_spaces_and_utf8() -> None:
    entry = with_mtime(FileStat(name=" Größe  x ", mode=0o100644, size=5, mtime=0), RECENT)
    assert format_list_line(entry, now=NOW).endswith(" 08:05  Größe  x ")


# -- MLSx facts ----------------------------------------------------------------------


def test_mlsx_file_facts() -> None:
    assert format_mlsx_facts(FILE) == (
        "type=file;size=1234;modify=20240601080500;perm=radwf;unique=803U1c8;unix.mode=0644;"
        " notes.txt"
    )


def test_mlsx_directory_facts() -> None:
    assert format_mlsx_facts(DIRECTORY) == (
        "type=dir;modify=20231120235900;perm=elcmdfp;unique=803Uabc;unix.mode=0755; photos"
    )


def test_mlsx_read_only() -> None:
    assert format_mlsx_facts(FILE, facts=("type", "perm"), writable=False) == (
        "type=file;perm=r; notes.txt"
    )
    assert format_mlsx_facts(DIRECTORY, facts=("type", "perm"), writable=False) == (
        "type=dir;perm=el; photos"
    )


@pytest.mark.parametrize("kind", ["cdir", "pdir"])
def test_mlsx_entry_type_override(kind: str) -> None:
    entry = FileStat(name=".", mode=stat.S_IFDIR | 0o700, size=4096, mtime=RECENT)
    assert format_mlsx_facts(entry, facts=("type", "size", "unix.mode"), entry_type=kind) == (
        f"type={kind};unix.mode=0700; ."
    )


def test_mlsx_selected_facts_keep_the_requested_order() -> None:
    assert format_mlsx_facts(FILE, facts=("size", "type")) == "size=1234;type=file; notes.txt"
    assert format_mlsx_facts(FILE, facts=("modify",)) == "modify=20240601080500; notes.txt"


def test_mlsx_no_facts() -> None:
    # RFC 3659 7.2: with no facts the entry is a single space and the name.
    assert format_mlsx_facts(FILE, facts=()) == " notes.txt"


def test_mlsx_unknown_facts_are_skipped() -> None:
    assert format_mlsx_facts(FILE, facts=("type", "charset", "media-type")) == (
        "type=file; notes.txt"
    )


def test_mlsx_special_mode_bits() -> None:
    entry = FileStat(name="tool", mode=stat.S_IFREG | 0o4750, size=7, mtime=RECENT)
    assert format_mlsx_facts(entry, facts=("unix.mode",)) == "unix.mode=04750; tool"


def test_mlsx_name_is_kept_verbatim_but_safe() -> None:
    entry = FileStat(name="a; type=dir; b", mode=stat.S_IFREG | 0o644, size=1, mtime=RECENT)
    assert format_mlsx_facts(entry, facts=("type",)) == "type=file; a; type=dir; b"
    evil = FileStat(name="x\r\ntype=dir; y", mode=stat.S_IFREG, size=1, mtime=RECENT)
    assert format_mlsx_facts(evil, facts=("type",)) == "type=file; x  type=dir; y"


def test_file_stat_kind() -> None:
    assert FILE.is_file
    assert not FILE.is_dir
    assert DIRECTORY.is_dir
    assert not DIRECTORY.is_file
    assert not LINK.is_file
    assert not LINK.is_dir


# -- MDTM ----------------------------------------------------------------------------


def test_format_mdtm() -> None:
    assert format_mdtm(RECENT) == "20240601080500"
    assert format_mdtm(RECENT + 0.999) == "20240601080500"
    assert format_mdtm(0) == "19700101000000"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20240601080500", float(RECENT)),
        ("20240601080500.5", RECENT + 0.5),
        ("20240601080500.125", RECENT + 0.125),
        ("19700101000000", 0.0),
        ("20240229235959", float(utc(2024, 2, 29, 23, 59, 59))),
    ],
)
def test_parse_mdtm(text: str, expected: float) -> None:
    assert parse_mdtm(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2024060108050",
        "202406010805000",
        "2024060108050a",
        "20241301000000",  # month 13
        "20230229000000",  # not a leap year
        "20240601250000",  # hour 25
        "20240601080500.",  # a dot needs digits after it
        "20240601080500.x",
        "20240601080500.5.5",
        " 20240601080500",
        "+2024060108050",
        "2024-06-01 08:05",
        "".join(chr(0xFF10 + int(digit)) for digit in "20240601080500"),  # FULLWIDTH
        "20240601080500.\u00b2",  # SUPERSCRIPT TWO
    ],
)
def test_parse_mdtm_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_mdtm(text)


@settings(max_examples=200)
@given(seconds=st.integers(0, utc(9999, 12, 31, 23, 59, 59)))
def test_mdtm_round_trip(seconds: int) -> None:
    text = format_mdtm(seconds)
    assert len(text) == 14
    assert text.isdigit()
    assert parse_mdtm(text) == seconds


@settings(max_examples=200)
@given(
    name=st.text(min_size=1, max_size=20),
    target=st.none() | st.text(max_size=20),
    mtime=st.integers(0, utc(2100, 1, 1)),
    kind=st.sampled_from([stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK]),
)
def test_listing_lines_are_single_lines(
    name: str, target: str | None, mtime: int, kind: int
) -> None:
    entry = FileStat(name=name, mode=kind | 0o644, size=1, mtime=mtime, link_target=target)
    for line in (format_list_line(entry, now=NOW), format_mlsx_facts(entry)):
        assert "\r" not in line
        assert "\n" not in line
        line.encode("utf-8")
    fields = format_list_line(entry, now=NOW).split(maxsplit=8)
    assert len(fields) >= 8
    assert fields[5] in MONTHS
    assert fields[7].isdigit() or fields[7][2] == ":"


def test_a_link_described_by_its_target_is_still_listed_as_a_link() -> None:
    # Local storage describes a file link inside the root by the file it leads
    # to (mode, size, time) plus the link text; LIST must still say "l", or
    # clients take "alias -> data.txt" for the name of a regular file.
    entry = FileStat(
        name="alias",
        mode=stat.S_IFREG | 0o644,
        size=10,
        mtime=utc(2026, 6, 1, 8, 5),
        link_target="data.txt",
    )
    line = format_list_line(entry, now=utc(2026, 6, 2, 0, 0))
    assert line.startswith("lrwxrwxrwx ")
    assert line.endswith(" alias -> data.txt")
    parsed = parse_list_line(line, now=datetime.datetime(2026, 6, 2, tzinfo=datetime.UTC))
    assert parsed is not None and parsed.name == "alias" and parsed.target == "data.txt"


def test_mlsx_types_a_link_that_is_not_followed_as_a_link() -> None:
    leaving = FileStat(name="out", mode=stat.S_IFLNK | 0o777, size=9, mtime=RECENT)
    assert format_mlsx_facts(leaving, facts=("type",)) == "type=OS.unix=slink; out"
    dangling = FileStat(
        name="soon", mode=stat.S_IFLNK | 0o777, size=8, mtime=RECENT, link_target="later;x"
    )
    assert format_mlsx_facts(dangling, facts=("type",)) == "type=OS.unix=slink:later%3Bx; soon"
