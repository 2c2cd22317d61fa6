"""mirror (server -> local) and symbolic links, against real servers.

* ftpferry lists a link to a file inside its root as that file (MLSD),
  says it is a link only in LIST (``-rw-r--r-- ... name -> target``), lists
  a link to a directory and a dangling one as links (``l...``, and
  ``OS.unix=slink:target`` in MLSD), and hides where a link leaving its
  root points;
* pyftpdlib follows links in MLSD and lists them as ``l... name -> target``
  in LIST, with the target as written (absolute, ``../..``);
* a hostile pyftpdlib (``--inject-listing``) lists a link and a file, or a
  link and a directory, under one name.

Whatever the listings say, nothing may be written outside the mirror's
destination: each test that could write there checks a directory next to
it, by snapshot, before and after.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.client.conftest import (
    Remote,
    start_ftpferry,
    start_hostile_pyftpdlib,
    start_pyftpdlib,
)

from .conftest import Cli

pytestmark = pytest.mark.integration

PAST = time.time() - 7200


def snapshot(top: Path) -> dict[str, tuple[str, bytes | str, float]]:
    """Every entry under ``top`` (links not followed): kind, content or target, mtime."""
    found: dict[str, tuple[str, bytes | str, float]] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            relative = path.relative_to(top).as_posix()
            if path.is_symlink():
                found[relative] = ("link", os.readlink(path), info.st_mtime)
            elif path.is_dir():
                found[relative] = ("dir", "", info.st_mtime)
            else:
                found[relative] = ("file", path.read_bytes(), info.st_mtime)
    return found


class Outside:
    """A directory next to the destination that a mirror must never touch."""

    def __init__(self, top: Path) -> None:
        self.top = top
        top.mkdir(parents=True, exist_ok=True)
        self.target = top / "target.txt"
        self.target.write_bytes(b"must not change\n")
        os.utime(self.target, (PAST, PAST))
        self.before = snapshot(top)

    def assert_untouched(self) -> None:
        assert snapshot(self.top) == self.before


def mirror_json(cli: Cli, url: str, dest: Path, *extra: str) -> dict[str, Any]:
    result = cli("mirror", "--json", *extra, url, dest)
    assert "Traceback" not in result.stderr, result.stderr
    document: dict[str, Any] = result.json()
    assert (result.returncode == 0) == document["ok"], result.stderr
    return document


def links_of(document: dict[str, Any]) -> dict[str, str]:
    return {link["path"]: link["target"] for link in document["links"]}


def skipped_of(document: dict[str, Any]) -> dict[str, str]:
    return {item["path"]: item["reason"] for item in document["skipped"]}


# -- ftpferry -------------------------------------------------------------------------------


@pytest.fixture
def ftpferry_site(tmp_path: Path) -> Iterator[Remote]:
    """ftpferry serving a root whose ``site`` has links of every kind."""
    server = start_ftpferry(tmp_path)
    root = server.root
    site = root / "site"
    (site / "sub").mkdir(parents=True)
    (site / "data.txt").write_bytes(b"data\n")
    (site / "sub" / "inner.txt").write_bytes(b"inner\n")
    (root / "beside.txt").write_bytes(b"inside the server root, outside the mirror\n")
    (site / "file-link").symlink_to("data.txt")
    (site / "up-link").symlink_to("../beside.txt")
    (site / "dangling").symlink_to("not-there-yet")
    (site / "dir-link").symlink_to("sub")
    (site / "loop").symlink_to(".")
    (site / "sub" / "back").symlink_to("..")
    (site / "escape").symlink_to(tmp_path / "outside" / "target.txt")
    (site / "escape-dir").symlink_to("../../..")
    yield server
    server.stop()


def test_ftpferry_links_are_made_with_their_target_text(
    cli: Cli, ftpferry_site: Remote, tmp_path: Path, mode: str
) -> None:
    outside = Outside(tmp_path / "outside")
    dest = tmp_path / "copy"
    first = mirror_json(cli, ftpferry_site.url(path="site"), dest, "--mode", mode)
    assert first["ok"] is True, first["errors"]

    assert links_of(first) == {
        "file-link": "data.txt",
        "up-link": "../beside.txt",
        "dangling": "not-there-yet",
        "dir-link": "sub",
        "loop": ".",
        "sub/back": "..",
    }
    assert os.readlink(dest / "file-link") == "data.txt"
    assert (dest / "file-link").read_bytes() == b"data\n"  # it works locally too
    assert os.readlink(dest / "up-link") == "../beside.txt"
    assert os.readlink(dest / "dangling") == "not-there-yet"
    by_path = {link["path"]: link for link in first["links"]}
    assert by_path["up-link"]["outside"] is True
    assert by_path["file-link"]["outside"] is False

    # A link the server does not describe is skipped, with the reason.
    skipped = skipped_of(first)
    assert set(skipped) == {"escape", "escape-dir"}
    assert "does not say" in skipped["escape"]
    assert not (dest / "escape").exists() and not (dest / "escape").is_symlink()

    # ftpferry lists a link to a directory as the link (as vsftpd and ProFTPD
    # do): it is made as one, loops included, and never walked through.
    assert os.readlink(dest / "dir-link") == "sub"
    assert (dest / "dir-link" / "inner.txt").read_bytes() == b"inner\n"
    assert os.readlink(dest / "loop") == "."
    assert os.readlink(dest / "sub" / "back") == ".."
    assert {item["path"] for item in first["files"]} == {"data.txt", "sub/inner.txt"}

    second = mirror_json(cli, ftpferry_site.url(path="site"), dest, "--mode", mode)
    assert second["ok"] is True
    assert second["files"] == [] and second["links"] == []
    assert second["links_unchanged"] == 6
    outside.assert_untouched()


def test_plain_output_reports_links_and_skips(
    cli: Cli, ftpferry_site: Remote, tmp_path: Path
) -> None:
    result = cli.ok("mirror", ftpferry_site.url(path="site"), tmp_path / "copy")
    lines = result.stderr.splitlines()
    assert "skipped escape: a symbolic link whose target the server does not say" in lines
    summary = lines[-1]
    assert summary.startswith("mirror: downloaded 2 files")
    assert "6 symbolic links made" in summary and "2 skipped" in summary
    assert result.stdout == ""


def test_no_symlinks_skips_them(cli: Cli, ftpferry_site: Remote, tmp_path: Path) -> None:
    dest = tmp_path / "copy"
    document = mirror_json(cli, ftpferry_site.url(path="site"), dest, "--no-symlinks")
    assert document["links"] == []
    assert not any(path.is_symlink() for path in dest.rglob("*"))
    # Without LIST, ftpferry's MLSD presents the file link as the file it leads to.
    assert (dest / "file-link").read_bytes() == b"data\n"


def test_links_replaced_by_files_and_directories_are_never_written_through(
    cli: Cli, ftpferry_site: Remote, tmp_path: Path, mode: str
) -> None:
    """Run 1 makes ``dangling -> not-there-yet`` and ``up-link -> ../beside.txt``;
    the server then puts a file and a directory at those names.  Run 2 must
    replace the local links, not write through them."""
    outside = Outside(tmp_path / "outside")
    dest = tmp_path / "copy"
    mirror_json(cli, ftpferry_site.url(path="site"), dest, "--mode", mode)
    assert dest.joinpath("dangling").is_symlink()
    beside = tmp_path / "beside.txt"  # where copy/up-link points locally
    beside.write_bytes(b"a local file next to the copy\n")
    before_beside = beside.read_bytes()

    site = ftpferry_site.root / "site"
    (site / "dangling").unlink()
    (site / "dangling").mkdir()
    (site / "dangling" / "payload.txt").write_bytes(b"payload\n")
    (site / "up-link").unlink()
    (site / "up-link").write_bytes(b"now a file\n")
    second = mirror_json(cli, ftpferry_site.url(path="site"), dest, "--mode", mode)
    assert second["ok"] is True, second["errors"]

    assert not (dest / "dangling").is_symlink()
    assert (dest / "dangling" / "payload.txt").read_bytes() == b"payload\n"
    assert not (dest / "up-link").is_symlink()
    assert (dest / "up-link").read_bytes() == b"now a file\n"
    assert beside.read_bytes() == before_beside
    assert not (dest.parent / "not-there-yet").exists()
    assert {(item["path"], item["kind"]) for item in second["deleted"]} == {
        ("dangling", "link"),
        ("up-link", "link"),
    }
    outside.assert_untouched()


def test_a_local_link_in_the_way_is_replaced_not_written_through(
    cli: Cli, ftpferry: Remote, tmp_path: Path
) -> None:
    """A link already in the destination (an earlier run, lftp, a person) where the
    server has a file: the download used to follow it and overwrite its target."""
    outside = Outside(tmp_path / "outside")
    ftpferry.put("tree/victim.txt", b"from the server, longer\n")
    ftpferry.put("tree/sub/deeper.txt", b"deeper\n")
    dest = tmp_path / "copy"
    dest.mkdir()
    (dest / "victim.txt").symlink_to(outside.target)
    (dest / "sub").symlink_to(outside.top)
    result = cli("mirror", "--json", ftpferry.url(path="tree"), dest)
    outside.assert_untouched()  # the old mirror overwrote target.txt through the link
    document = result.json()
    assert document["ok"] is True, document["errors"]
    assert not (dest / "victim.txt").is_symlink()
    assert (dest / "victim.txt").read_bytes() == b"from the server, longer\n"
    assert not (dest / "sub").is_symlink()
    assert (dest / "sub" / "deeper.txt").read_bytes() == b"deeper\n"


def test_delete_removes_links_the_server_no_longer_has(
    cli: Cli, ftpferry: Remote, tmp_path: Path
) -> None:
    ftpferry.put("tree/keep.txt", b"keep\n")
    dest = tmp_path / "copy"
    dest.mkdir()
    (dest / "stale").symlink_to("keep.txt")
    (dest / "elsewhere").symlink_to(tmp_path)
    kept = mirror_json(cli, ftpferry.url(path="tree"), dest)
    assert (dest / "stale").is_symlink() and kept["deleted"] == []
    document = mirror_json(cli, ftpferry.url(path="tree"), dest, "--delete")
    assert {(item["path"], item["kind"]) for item in document["deleted"]} == {
        ("stale", "link"),
        ("elsewhere", "link"),
    }
    assert not (dest / "stale").is_symlink() and not (dest / "elsewhere").is_symlink()
    assert tmp_path.is_dir() and (dest / "keep.txt").is_file()


def test_a_link_where_a_local_file_is_needs_delete(
    cli: Cli, ftpferry_site: Remote, tmp_path: Path
) -> None:
    dest = tmp_path / "copy"
    dest.mkdir()
    (dest / "file-link").write_bytes(b"a local file with data\n")
    document = mirror_json(cli, ftpferry_site.url(path="site"), dest)
    assert document["ok"] is False
    assert {"path": "file-link", "reason": "a file is where a symbolic link belongs"} in document[
        "conflicts"
    ]
    assert (dest / "file-link").read_bytes() == b"a local file with data\n"
    document = mirror_json(cli, ftpferry_site.url(path="site"), dest, "--delete")
    assert os.readlink(dest / "file-link") == "data.txt"


def test_directory_loop_no_longer_breaks_the_mirror(cli: Cli, tmp_path: Path) -> None:
    """``loop -> .`` used to be listed ~800 levels deep until the server refused a
    4 KiB command line, and then the whole mirror failed.  pyftpdlib's MLSD
    shows the link as a directory (``--no-symlinks`` reads MLSD alone), with
    the ``unique`` fact of the directory it leads to."""
    remote = start_pyftpdlib(tmp_path)
    try:
        remote.put("tree/a.txt", b"a\n")
        (remote.root / "tree" / "loop").symlink_to(".")
        (remote.root / "tree" / "twice").symlink_to(".")
        started = time.monotonic()
        document = mirror_json(cli, remote.url(path="tree"), tmp_path / "copy", "--no-symlinks")
    finally:
        remote.stop()
    assert time.monotonic() - started < 60
    assert document["ok"] is True, document["errors"]
    skipped = skipped_of(document)
    assert set(skipped) == {"loop", "twice"}
    assert skipped["loop"] == "a directory loop: the same directory as '.'"
    copy = tmp_path / "copy"
    assert sorted(path.relative_to(copy).as_posix() for path in copy.rglob("*")) == ["a.txt"]


def test_directory_loops_end_without_unique_facts(cli: Cli, tmp_path: Path) -> None:
    """A LIST-only server that lists links to directories as directories (as
    ProFTPD with ``ShowSymlinks off``) gives no ``unique`` fact to tell a loop
    by: three links back to the top used to be listed until paths overflowed.
    Now each loop is gone round once and then skipped, and reported."""
    remote = start_pyftpdlib(tmp_path, "--no-mlst", "--list-follows-links")
    try:
        remote.put("tree/a.txt", b"a\n")
        remote.put("tree/sub/b.txt", b"b\n")
        for name in ("l1", "l2", "l3"):
            (remote.root / "tree" / name).symlink_to(".")
        (remote.root / "tree" / "sub" / "up").symlink_to("..")
        started = time.monotonic()
        document = mirror_json(cli, remote.url(path="tree"), tmp_path / "copy", "--parallel", "2")
    finally:
        remote.stop()
    assert time.monotonic() - started < 60
    assert document["ok"] is True, document["errors"]
    skipped = skipped_of(document)
    assert "l1/l1" in skipped and "directory loop" in skipped["l1/l1"]
    copy = tmp_path / "copy"
    assert (copy / "a.txt").read_bytes() == b"a\n"
    assert (copy / "sub" / "b.txt").read_bytes() == b"b\n"
    assert max(len(path.relative_to(copy).parts) for path in copy.rglob("*")) <= 5


# -- pyftpdlib: targets as written ------------------------------------------------------------


def test_pyftpdlib_absolute_and_climbing_targets(cli: Cli, tmp_path: Path, mode: str) -> None:
    outside = Outside(tmp_path / "outside")
    server = start_pyftpdlib(tmp_path)
    try:
        root = server.root
        (root / "real.txt").write_bytes(b"real\n")
        (root / "evil").symlink_to(outside.target)  # absolute, to an existing file
        (root / "up").symlink_to("../..")  # climbs out of any destination
        (root / "gone").symlink_to(tmp_path / "outside" / "new.txt")  # dangling, absolute
        dest = tmp_path / "dest" / "copy"
        first = mirror_json(cli, server.url(), dest, "--mode", mode)
        assert first["ok"] is True, first["errors"]
        assert links_of(first) == {
            "evil": str(outside.target),
            "up": "../..",
            "gone": str(tmp_path / "outside" / "new.txt"),
        }
        assert all(link["outside"] for link in first["links"])
        assert os.readlink(dest / "evil") == str(outside.target)

        # The server replaces the links with a file and directories of files.
        (root / "evil").unlink()
        (root / "evil").write_bytes(b"overwrite attempt\n")
        (root / "up").unlink()
        (root / "up" / "outside").mkdir(parents=True)
        (root / "up" / "outside" / "target.txt").write_bytes(b"overwrite attempt\n")
        (root / "gone").unlink()
        (root / "gone").write_bytes(b"create attempt\n")
        second = mirror_json(cli, server.url(), dest, "--mode", mode)
        assert second["ok"] is True, second["errors"]
        assert (dest / "evil").read_bytes() == b"overwrite attempt\n"
        assert not (dest / "evil").is_symlink() and not (dest / "up").is_symlink()
        assert (dest / "up" / "outside" / "target.txt").read_bytes() == b"overwrite attempt\n"
        outside.assert_untouched()
        assert not (tmp_path / "outside" / "new.txt").exists()
    finally:
        server.stop()


# -- a hostile server: one name, two kinds -----------------------------------------------------


def link_lines(name: str, target: str) -> dict[str, list[str]]:
    return {
        "LIST": [f"lrwxrwxrwx   1 owner    group    {len(target)} Jan 01  2024 {name} -> {target}"],
        "MLSD": [f"modify=20240101000000;type=OS.unix=slink:{target}; {name}"],
    }


@pytest.mark.parametrize(
    "target_kind", ["absolute", "climbing"], ids=["evil->/outside", "evil->../.."]
)
def test_hostile_link_and_file_of_one_name(cli: Cli, tmp_path: Path, target_kind: str) -> None:
    """The listing says ``evil -> TARGET`` and, at the same name, a file (and a
    directory ``evil2`` with a file in it, next to ``evil2 -> TARGET``)."""
    outside = Outside(tmp_path / "outside")
    dest = tmp_path / "dest" / "copy"
    target = str(outside.top) if target_kind == "absolute" else "../../outside"
    file_target = f"{target}/target.txt"
    evil, evil2 = link_lines("evil", file_target), link_lines("evil2", target)
    server = start_hostile_pyftpdlib(
        tmp_path,
        {"": {"LIST": evil["LIST"] + evil2["LIST"], "MLSD": evil["MLSD"] + evil2["MLSD"]}},
    )
    try:
        server.put("evil", b"written through the link?\n")
        server.put("evil2/target.txt", b"written through the link?\n")
        server.put("honest.txt", b"honest\n")
        for _ in range(2):  # a second run must not be fooled either
            document = mirror_json(cli, server.url(), dest)
            skipped = skipped_of(document)
            assert skipped == {
                "evil": "listed more than once",
                "evil2": "listed more than once",
            }
            assert document["links"] == []
            assert (dest / "honest.txt").read_bytes() == b"honest\n"
            assert not (dest / "evil").exists() and not (dest / "evil").is_symlink()
            assert not (dest / "evil2").exists() and not (dest / "evil2").is_symlink()
            outside.assert_untouched()
    finally:
        server.stop()


def test_hostile_file_in_mlsd_link_in_list(cli: Cli, tmp_path: Path) -> None:
    """MLSD says ``evil`` is a file, LIST says it is a link to a file outside: the
    link is made, nothing is downloaded to that name, and a second run leaves it."""
    outside = Outside(tmp_path / "outside")
    dest = tmp_path / "copy"
    injected = {
        "": {
            "LIST": link_lines("evil", str(outside.target))["LIST"],
            "MLSD": ["modify=20240101000000;size=5;type=file; evil"],
        }
    }
    server = start_hostile_pyftpdlib(tmp_path, injected)
    try:
        server.put("real.txt", b"real\n")
        for run in (1, 2):
            document = mirror_json(cli, server.url(), dest)
            assert document["ok"] is True, document["errors"]
            sent = [item["path"] for item in document["files"]]
            assert sent == (["real.txt"] if run == 1 else [])
            assert links_of(document) == ({"evil": str(outside.target)} if run == 1 else {})
            assert os.readlink(dest / "evil") == str(outside.target)
            outside.assert_untouched()
    finally:
        server.stop()
