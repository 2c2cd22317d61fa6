"""``get`` of a pattern and ``put`` of several files, against real servers.

``get 'URL/dir/*.gz' DEST`` downloads the matching files of one directory
into DEST (as wget and lftp's mget do); ``put a b c URL/dir/`` uploads
each into the directory.  Bad input is refused before anything moves.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.client.conftest import Remote, start_hostile_pyftpdlib

from .conftest import Cli

pytestmark = pytest.mark.integration

LOGS = {
    "logs/day-1.gz": b"one\n",
    "logs/day-2.gz": b"two\n" * 1000,
    "logs/day-10.gz": b"ten\n",
    "logs/week-1.gz": b"week\n",
    "logs/notes.txt": b"not a log\n",
}


def make_logs(remote: Remote) -> None:
    for relative, data in LOGS.items():
        remote.put(relative, data)
    remote.mkdir("logs/day-3.gz")  # a directory matching the pattern is not a file to get
    old = 1_600_000_000
    os.utime(remote.root / "logs/day-1.gz", (old, old))


def test_get_pattern_downloads_the_matching_files(
    cli: Cli, remote: Remote, mode: str, tmp_path: Path
) -> None:
    make_logs(remote)
    dest = tmp_path / "got"
    dest.mkdir()
    # "?" is a pattern's, not a URL query's: FTP URLs have none.
    document = cli.ok(
        "get", "--json", "--mode", mode, remote.url(path="logs/day-?.gz"), dest
    ).json()
    assert document["ok"] is True and document["count"] == 2
    assert [item["remote"] for item in document["files"]] == ["logs/day-1.gz", "logs/day-2.gz"]
    assert document["bytes"] == len(LOGS["logs/day-1.gz"]) + len(LOGS["logs/day-2.gz"])
    assert sorted(p.name for p in dest.iterdir()) == ["day-1.gz", "day-2.gz"]
    assert (dest / "day-2.gz").read_bytes() == LOGS["logs/day-2.gz"]
    assert int((dest / "day-1.gz").stat().st_mtime) == 1_600_000_000  # MDTM, as for one file

    # Into the current directory by default; every file of the pattern, and only files.
    work = tmp_path / "cwd"
    work.mkdir()
    text = cli.ok("get", "--mode", mode, remote.url(path="logs/*.gz"), cwd=work)
    assert sorted(p.name for p in work.iterdir()) == [
        "day-1.gz",
        "day-10.gz",
        "day-2.gz",
        "week-1.gz",
    ]
    assert "get: downloaded 4 files" in text.stderr


def test_a_name_that_looks_like_a_pattern_is_got_as_itself(
    cli: Cli, remote: Remote, tmp_path: Path
) -> None:
    """``report[1].pdf`` exists: it is that file, not a pattern for report1.pdf."""
    remote.put("docs/report[1].pdf", b"the one with brackets")
    remote.put("docs/report1.pdf", b"the one without")
    cli.ok("get", "-q", remote.url(path="docs/report[1].pdf"), tmp_path / "got.pdf")
    assert (tmp_path / "got.pdf").read_bytes() == b"the one with brackets"
    to_stdout = cli.ok("get", "-q", remote.url(path="docs/report[1].pdf"), "-")
    assert to_stdout.stdout == "the one with brackets"
    into = tmp_path / "into"
    into.mkdir()
    cli.ok("get", "-q", remote.url(path="docs/report[0-9].pdf"), into)
    assert [p.name for p in into.iterdir()] == ["report1.pdf"]


def test_get_pattern_refuses_bad_input(cli: Cli, ftpferry: Remote, tmp_path: Path) -> None:
    make_logs(ftpferry)
    dest = tmp_path / "dest"
    dest.mkdir()
    nothing = cli("get", ftpferry.url(path="logs/*.zip"), dest)
    assert nothing.returncode == 1
    assert "no files match logs/*.zip" in nothing.stderr

    a_file = dest / "file"
    a_file.write_text("mine")
    into_file = cli("get", ftpferry.url(path="logs/*.gz"), a_file)
    assert into_file.returncode == 5
    assert "is not a directory" in into_file.stderr
    assert a_file.read_text() == "mine"

    to_stdout = cli("get", ftpferry.url(path="logs/*.gz"), "-")
    assert to_stdout.returncode == 2 and to_stdout.stdout == ""

    deep = cli("get", ftpferry.url(path="*/day-1.gz"), dest)
    assert deep.returncode != 0
    assert list(dest.iterdir()) == [a_file]


def test_put_several_files_into_a_directory(
    cli: Cli, remote: Remote, mode: str, tmp_path: Path
) -> None:
    sources = []
    for name, data in (("a.txt", b"alpha\n"), ("b.bin", os.urandom(70_000))):
        path = tmp_path / name
        path.write_bytes(data)
        sources.append(path)
    remote.mkdir("incoming")
    document = cli.ok("put", "--json", "--mode", mode, *sources, remote.url(path="incoming")).json()
    assert document["ok"] is True and document["count"] == 2
    assert [item["remote"] for item in document["files"]] == ["incoming/a.txt", "incoming/b.bin"]
    for source in sources:
        assert (remote.root / "incoming" / source.name).read_bytes() == source.read_bytes()

    # A URL ending in / is a directory too (the root here).
    cli.ok("put", "-q", "--mode", mode, *sources, remote.url(path=""))
    assert (remote.root / "b.bin").read_bytes() == sources[1].read_bytes()


def test_put_several_files_refuses_bad_input(cli: Cli, ftpferry: Remote, tmp_path: Path) -> None:
    one, other = tmp_path / "one", tmp_path / "sub" / "one"
    other.parent.mkdir()
    one.write_text("1")
    other.write_text("2")
    ftpferry.put("plain.txt", b"keep")

    same_name = cli("put", one, other, ftpferry.url(path="dir/"))
    assert same_name.returncode == 5
    assert "both be uploaded as one" in same_name.stderr

    missing = cli("put", one, tmp_path / "missing", ftpferry.url(path=""))
    assert missing.returncode == 5

    two = tmp_path / "two"
    two.write_text("2")
    not_a_dir = cli("put", one, two, ftpferry.url(path="plain.txt"))
    assert not_a_dir.returncode == 1
    assert "plain.txt is not a directory" in not_a_dir.stderr
    assert (ftpferry.root / "plain.txt").read_bytes() == b"keep"
    assert not (ftpferry.root / "one").exists()


def test_put_parents_creates_the_remote_directories(
    cli: Cli, remote: Remote, mode: str, tmp_path: Path
) -> None:
    source = tmp_path / "site.tar"
    source.write_bytes(os.urandom(5000))
    other = tmp_path / "notes.txt"
    other.write_text("notes\n")

    without = cli("put", "--mode", mode, source, remote.url(path="deploy/2026/"))
    assert without.returncode == 1
    assert not (remote.root / "deploy").exists()

    cli.ok("put", "-q", "-p", "--mode", mode, source, remote.url(path="deploy/2026/"))
    assert (remote.root / "deploy/2026/site.tar").read_bytes() == source.read_bytes()
    # The directories of a named file; existing ones are fine.
    cli.ok("put", "-q", "--parents", "--mode", mode, other, remote.url(path="deploy/docs/n.txt"))
    assert (remote.root / "deploy/docs/n.txt").read_text() == "notes\n"
    cli.ok("put", "-q", "-p", "--mode", mode, source, other, remote.url(path="deploy/x/y"))
    assert sorted(p.name for p in (remote.root / "deploy/x/y").iterdir()) == [
        "notes.txt",
        "site.tar",
    ]

    remote.put("blocker", b"a file where a directory would go")
    blocked = cli("put", "-p", "--mode", mode, other, remote.url(path="blocker/n.txt"))
    assert blocked.returncode == 1
    assert "blocker" in blocked.stderr and "Traceback" not in blocked.stderr
    assert (remote.root / "blocker").read_bytes() == b"a file where a directory would go"


@pytest.mark.parametrize("listing", ["MLSD", "LIST"])
def test_get_pattern_never_writes_outside_dest(
    cli: Cli, tmp_path: Path, listing: str, mode: str
) -> None:
    """A hostile server lists names with a ``/`` or ``..`` among the matches:
    they are left out, and nothing lands outside DEST."""
    hostile = {
        "logs": {
            "MLSD": [
                "type=file;size=5;modify=20240101000000; ../escape.gz",
                "type=file;size=5;modify=20240101000000; ../../escape.gz",
                "type=file;size=5;modify=20240101000000; sub/inner.gz",
                "type=file;size=5;modify=20240101000000; ..",
            ],
            "LIST": [
                "-rw-r--r--   1 owner    group           5 Jan 01  2024 ../escape.gz",
                "-rw-r--r--   1 owner    group           5 Jan 01  2024 ../../escape.gz",
                "-rw-r--r--   1 owner    group           5 Jan 01  2024 sub/inner.gz",
            ],
        }
    }
    extra = ("--no-mlst",) if listing == "LIST" else ()
    remote = start_hostile_pyftpdlib(tmp_path, hostile, *extra)
    try:
        remote.put("logs/real.gz", b"real\n")
        (remote.root / "escape.gz").write_bytes(b"escape")  # so that RETR ../escape.gz works
        dest = tmp_path / "area" / "dest"
        dest.mkdir(parents=True)
        result = cli("get", "--json", "--mode", mode, remote.url(path="logs/*.gz"), dest)
    finally:
        remote.stop()
    assert sorted(p.name for p in (tmp_path / "area").iterdir()) == ["dest"]
    assert not (tmp_path / "escape.gz").exists()
    assert [p.relative_to(dest).as_posix() for p in dest.rglob("*")] == ["real.gz"]
    assert result.returncode == 0, result.stderr
    assert [item["remote"] for item in result.json()["files"]] == ["logs/real.gz"]
