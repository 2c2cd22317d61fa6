"""``mirror --exclude`` and ``mirror --dry-run`` against real servers.

Excluded entries are left out on both sides: not sent, not listed (an
excluded directory is never entered), and not removed by ``--delete``.  A
dry run prints the plan and changes nothing on either side.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.client.conftest import Remote

from .conftest import Cli

pytestmark = pytest.mark.integration

TREE = {
    "keep/a.txt": b"kept\n",
    "c.txt": b"c\n",
    "scratch.tmp": b"temporary\n",
    "deep/er/notes.tmp": b"temporary too\n",
    ".git/HEAD": b"ref: refs/heads/main\n",
    ".git/objects/ab/cdef": b"object\n",
    "logs/1.gz": b"log one\n",
    "logs/old/2.gz": b"log two\n",
    "cache": b"a file called cache\n",
    "web/cache/page.html": b"<p>cached</p>\n",
}
EXCLUDES = ("-x", "*.tmp", "--exclude", ".git", "-x", "logs/*.gz", "-x", "cache/")
KEPT = {"keep/a.txt", "c.txt", "logs/old/2.gz", "cache"}


def make_tree(root: Path, tree: dict[str, bytes]) -> None:
    for relative, data in tree.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def files_of(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_exclude_download_leaves_out_both_sides(
    cli: Cli, remote: Remote, mode: str, tmp_path: Path
) -> None:
    make_tree(remote.root, TREE)
    local = tmp_path / "copy"
    first = cli.ok("mirror", "--json", "-v", "--mode", mode, *EXCLUDES, remote.url(path=""), local)
    assert files_of(local) == KEPT
    assert {item["path"] for item in first.json()["files"]} == KEPT
    # An excluded directory is not even listed.
    listed = [line for line in first.stderr.splitlines() if "-> MLSD" in line or "-> LIST" in line]
    assert listed and not [line for line in listed if ".git" in line or "web/cache" in line]

    (local / ".git").mkdir()
    (local / ".git" / "config").write_text("local only")
    (local / "mine.tmp").write_text("local scratch")
    (local / "old").mkdir()  # not on the server, but it holds an excluded file: it stays
    (local / "old" / "kept.tmp").write_text("excluded")
    (local / "old" / "gone.txt").write_text("not excluded")
    (remote.root / "c.txt").unlink()
    second = cli.ok(
        "mirror", "--json", "--delete", "--mode", mode, *EXCLUDES, remote.url(path=""), local
    ).json()
    assert {item["path"] for item in second["deleted"]} == {"c.txt", "old/gone.txt"}
    assert second["errors"] == []
    assert files_of(local) == (KEPT - {"c.txt"}) | {".git/config", "mine.tmp", "old/kept.tmp"}


def test_exclude_upload_leaves_out_both_sides(
    cli: Cli, ftpferry: Remote, mode: str, tmp_path: Path
) -> None:
    local = tmp_path / "site"
    make_tree(local, TREE)
    target = ftpferry.root / "site"
    target.mkdir()
    (target / "server.tmp").write_bytes(b"the server's own scratch file")
    result = cli.ok(
        "mirror",
        "--json",
        "--reverse",
        "--delete",
        "--mode",
        mode,
        *EXCLUDES,
        local,
        ftpferry.url(path="site"),
    ).json()
    assert {item["path"] for item in result["files"]} == KEPT
    assert result["deleted"] == []
    assert files_of(target) == KEPT | {"server.tmp"}


def test_dry_run_download_prints_the_plan_and_changes_nothing(
    cli: Cli, ftpferry: Remote, tmp_path: Path
) -> None:
    make_tree(ftpferry.root, {"a.txt": b"aaa", "sub/b.txt": b"bb"})
    hour_ago = time.time() - 3600
    os.utime(ftpferry.root / "a.txt", (hour_ago, hour_ago))
    local = tmp_path / "copy"
    (local / "old").mkdir(parents=True)
    (local / "old" / "gone.txt").write_text("only here")
    (local / "a.txt").write_bytes(b"a")  # a shorter copy, newer: an interrupted one, resumed
    before = {p: p.read_bytes() for p in local.rglob("*") if p.is_file()}

    result = cli.ok("mirror", "--dry-run", "--delete", ftpferry.url(path=""), local)
    lines = result.stdout.splitlines()
    assert "would create directory sub" in lines
    assert "would download sub/b.txt (2 bytes, new)" in lines
    assert "would remove file old/gone.txt" in lines
    assert "would remove dir old" in lines
    assert "dry run, nothing changed" in result.stderr
    assert {p: p.read_bytes() for p in local.rglob("*") if p.is_file()} == before
    assert not (local / "sub").exists()

    document = cli.ok("mirror", "-n", "--json", "--delete", ftpferry.url(path=""), local).json()
    assert document["dry_run"] is True and document["ok"] is True
    assert document["mkdirs"] == ["sub"]
    planned = {item["path"]: (item["offset"], item["reason"]) for item in document["files"]}
    assert planned == {"sub/b.txt": (0, "new"), "a.txt": (1, "resume")}
    assert {(item["path"], item["kind"]) for item in document["delete"]} == {
        ("old/gone.txt", "file"),
        ("old", "dir"),
    }

    # The plan was the truth: a real run does exactly that.
    done = cli.ok("mirror", "--json", "--delete", ftpferry.url(path=""), local).json()
    assert {item["path"] for item in done["files"]} == {"sub/b.txt", "a.txt"}
    assert files_of(local) == {"a.txt", "sub/b.txt"}


def test_dry_run_upload_creates_nothing_on_the_server(
    cli: Cli, ftpferry: Remote, tmp_path: Path
) -> None:
    local = tmp_path / "site"
    make_tree(local, {"index.html": b"<p>hi</p>", "img/logo.png": b"png"})
    result = cli.ok("mirror", "-R", "-n", local, ftpferry.url(path="site"))
    lines = result.stdout.splitlines()
    assert lines[0] == "would create the target directory"
    assert "would create directory img" in lines
    assert "would upload img/logo.png (3 bytes, new)" in lines
    assert not (ftpferry.root / "site").exists()


def test_a_bad_pattern_is_a_usage_error_before_connecting(cli: Cli, tmp_path: Path) -> None:
    # Port 9 of loopback: nothing listens there, and nothing is tried.
    result = cli("mirror", "-x", "a//b", "ftp://u:p@127.0.0.1:9/x", tmp_path / "copy")
    assert result.returncode == 2
    assert "'a//b' is not a name or a path pattern" in result.stderr
    assert "connect" not in result.stderr.lower()
