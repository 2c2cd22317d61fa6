"""The LIST parser against real-looking outputs of common servers, and MLSx lines."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftpferry.client import EntryKind, parse_list, parse_list_line, parse_mlsx_line
from ftpferry.protocol import FileStat, format_list_line

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOW = datetime.datetime(2024, 7, 1, 12, 0, tzinfo=datetime.UTC)
"""Every fixture is parsed as if read at this moment (years of recent dates)."""


def _lines(path: Path) -> list[str]:
    text = path.read_bytes().decode("utf-8")
    return [line.removesuffix("\r") for line in text.split("\n")][:-1]


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.txt")))
def test_fixture(name: str) -> None:
    expected = json.loads((FIXTURES / f"{name}.json").read_text())
    listing = parse_list(_lines(FIXTURES / f"{name}.txt"), now=NOW)
    got = [
        {
            "name": entry.name,
            "kind": entry.kind.value,
            "size": entry.size,
            "modify": entry.modify.isoformat() if entry.modify else None,
            "target": entry.target,
            "facts": dict(entry.facts),
        }
        for entry in listing
    ]
    assert got == expected["entries"]
    assert list(listing.unparsed) == expected["unparsed"]
    assert listing.source == "LIST"
    assert all(entry.raw for entry in listing)


def test_fixtures_cover_every_format() -> None:
    names = {path.stem for path in FIXTURES.glob("*.txt")}
    assert {"vsftpd", "proftpd", "pure-ftpd", "iis", "eplf", "busybox"} <= names


def test_year_inference() -> None:
    def year(date: str) -> int | None:
        entry = parse_list_line(f"-rw-r--r-- 1 u g 1 {date} f", now=NOW)
        assert entry is not None
        return entry.modify.year if entry.modify is not None else None

    assert year("Jul  2 10:00") == 2024  # within a day of now
    assert year("Jul  3 10:00") == 2023  # later than that: last year
    assert year("Jan  1 00:00") == 2024
    assert year("Feb 29 10:00") == 2024  # a leap year
    leap_next = datetime.datetime(2025, 1, 10, tzinfo=datetime.UTC)
    entry = parse_list_line("-rw-r--r-- 1 u g 1 Feb 29 10:00 f", now=leap_next)
    assert entry is not None and entry.modify is not None
    assert entry.modify.year == 2024  # 2025-02-29 does not exist
    bad = parse_list_line("-rw-r--r-- 1 u g 1 Jun 10 25:00 f", now=NOW)
    assert bad is not None and bad.modify is None


def test_round_trip_with_ftpferrys_own_format() -> None:
    now = 1_700_000_000.0
    stats = [
        FileStat(name="plain.txt", mode=0o100644, size=1234, mtime=now - 60),
        FileStat(name="old dir", mode=0o040755, size=4096, mtime=now - 400 * 86400),
        FileStat(name="link", mode=0o120777, size=4, mtime=now, link_target="plain.txt"),
        FileStat(name="ünïcødé", mode=0o100600, size=0, mtime=now - 3600),
    ]
    lines = [format_list_line(stat, now=now) for stat in stats]
    reference = datetime.datetime.fromtimestamp(now, datetime.UTC)
    listing = parse_list(lines, now=reference)
    assert listing.unparsed == ()
    assert listing.names() == ["plain.txt", "old dir", "link", "ünïcødé"]
    kinds = [entry.kind for entry in listing]
    assert kinds == [EntryKind.FILE, EntryKind.DIR, EntryKind.LINK, EntryKind.FILE]
    link = listing.get("link")
    assert link is not None and link.target == "plain.txt"
    plain = listing.get("plain.txt")
    assert plain is not None and plain.size == 1234
    assert plain.modify == datetime.datetime.fromtimestamp(now - 60, datetime.UTC).replace(second=0)


@given(st.lists(st.text(max_size=120), max_size=20))
def test_never_raises(lines: list[str]) -> None:
    listing = parse_list(lines, now=NOW)
    assert len(listing.entries) + len(listing.unparsed) <= len(lines)


def test_mlsx_lines() -> None:
    entry = parse_mlsx_line("type=file;size=42;modify=20240102030405.123;perm=r; a b.txt")
    assert entry is not None
    assert (entry.name, entry.kind, entry.size) == ("a b.txt", EntryKind.FILE, 42)
    assert entry.modify == datetime.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=datetime.UTC)
    assert entry.facts["perm"] == "r"

    link = parse_mlsx_line("Type=OS.unix=slink:/etc/target;Modify=20240101000000; l")
    assert link is not None and link.is_link and link.target == "/etc/target"
    assert parse_mlsx_line("type=cdir;sizd=4096; .") is not None
    assert parse_mlsx_line(" no-facts-at-all") is not None
    assert parse_mlsx_line("garbage without separator") is None
    assert parse_mlsx_line("broken fact; name") is None
    unknown = parse_mlsx_line("type=OS.unix=chr-3/1; null")
    assert unknown is not None and unknown.kind is EntryKind.OTHER
