"""mirror both ways: nested trees with non-ASCII names and spaces, only changed
files, --delete, --parallel, resuming partial copies, passive and active."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.client.conftest import Remote, start_ftpferry, start_pyftpdlib

from .conftest import Cli, sha256

pytestmark = pytest.mark.integration

TREE = {
    "top.txt": b"top level\n",
    "ünïcödé/日本.txt": "日本語のテキスト\n".encode(),
    "ünïcödé/deeper/ëmpty.bin": b"",
    "with space/a file.txt": b"spaces everywhere\n" * 100,
    "with space/big.bin": os.urandom(2_500_000),
    "a/b/c/d/leaf.txt": b"deep\n",
}
EMPTY_DIRS = ("empty dir",)
PAST = time.time() - 7200


def skip_known_server_bug(remote: Remote, mode: str) -> None:
    """pyftpdlib's IO loop now and then loses an active-mode data connection's
    events when several sessions transfer at once (giampaolo/pyftpdlib#548):
    the transfer stalls until the client's data time-out.  Not ours to test."""
    if remote.name == "pyftpdlib" and mode == "active":
        pytest.skip("pyftpdlib#548: concurrent active-mode transfers stall now and then")


def listed_time_precision(remote: Remote) -> float:
    """Seconds a server's listing keeps of a file's time: vsftpd has no MLSD,
    and LIST says ``Nov 26 11:22``."""
    return 60.0 if remote.name == "vsftpd" else 1.0


def sets_times(remote: Remote) -> bool:
    """The server offers MFMT (vsftpd does not)."""
    return remote.name != "vsftpd"


def make_tree(root: Path) -> None:
    """TREE under root, every file two hours old."""
    for relative, data in TREE.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (PAST, PAST))
    for relative in EMPTY_DIRS:
        (root / relative).mkdir(parents=True, exist_ok=True)


def files_of(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


def dirs_of(root: Path) -> set[str]:
    """Every directory under root by relative path."""
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_dir()}


def paths_sent(document: dict[str, object]) -> set[str]:
    files = document["files"]
    assert isinstance(files, list)
    return {item["path"] for item in files}


@pytest.mark.parametrize("parallel", [1, 4])
def test_mirror_download_then_nothing_then_changes(
    cli: Cli, remote: Remote, mode: str, parallel: int, tmp_path: Path
) -> None:
    skip_known_server_bug(remote, mode)
    make_tree(remote.root)
    local = tmp_path / "copy"
    args = ("mirror", "--json", "--mode", mode, "--parallel", str(parallel))

    first = cli.ok(*args, remote.url(path=""), local).json()
    assert first["ok"] is True and first["direction"] == "download"
    assert files_of(local) == TREE
    assert dirs_of(local) >= {"empty dir", "ünïcödé/deeper", "a/b/c/d"}
    assert paths_sent(first) == set(TREE)
    assert first["bytes"] == sum(len(data) for data in TREE.values())
    if remote.name == "vsftpd":
        # Its logins take tens of milliseconds (PAM): the first connection may
        # have moved every small file before the others are in.
        assert 1 <= first["connections"] <= min(parallel, len(TREE))
    else:
        assert first["connections"] == min(parallel, len(TREE))
    assert first["mode"] == mode
    for relative in TREE:
        copied = (local / relative).stat().st_mtime
        assert abs(copied - PAST) < listed_time_precision(remote), relative

    second = cli.ok(*args, remote.url(path=""), local).json()
    assert second["files"] == [] and second["bytes"] == 0
    assert second["unchanged"] == len(TREE)

    changed = remote.root / "with space" / "a file.txt"
    changed.write_bytes(b"changed, same directory\n")
    same_size = remote.root / "top.txt"
    same_size.write_bytes(b"TOP LEVEL\n")  # same size, newer time
    third = cli.ok(*args, remote.url(path=""), local).json()
    assert paths_sent(third) == {"with space/a file.txt", "top.txt"}
    assert {item["reason"] for item in third["files"]} == {"changed"}
    assert (local / "top.txt").read_bytes() == b"TOP LEVEL\n"
    assert (local / "with space" / "a file.txt").read_bytes() == b"changed, same directory\n"


def test_mirror_download_delete(cli: Cli, ftpferry: Remote, tmp_path: Path) -> None:
    make_tree(ftpferry.root)
    local = tmp_path / "copy"
    cli.ok("mirror", ftpferry.url(), local)
    (ftpferry.root / "top.txt").unlink()
    for path in sorted((ftpferry.root / "ünïcödé").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (ftpferry.root / "ünïcödé").rmdir()
    (local / "local only.txt").write_text("not on the server")

    kept = cli.ok("mirror", "--json", ftpferry.url(), local).json()
    assert kept["deleted"] == []
    assert (local / "top.txt").exists() and (local / "local only.txt").exists()

    result = cli.ok("mirror", "--json", "--delete", ftpferry.url(), local).json()
    deleted = {(item["path"], item["kind"]) for item in result["deleted"]}
    assert deleted == {
        ("top.txt", "file"),
        ("local only.txt", "file"),
        ("ünïcödé/日本.txt", "file"),
        ("ünïcödé/deeper/ëmpty.bin", "file"),
        ("ünïcödé/deeper", "dir"),
        ("ünïcödé", "dir"),
    }
    assert files_of(local) == files_of(ftpferry.root)


@pytest.mark.parametrize("parallel", [1, 4])
def test_mirror_upload_then_nothing_then_changes_and_delete(
    cli: Cli, remote: Remote, mode: str, parallel: int, tmp_path: Path
) -> None:
    skip_known_server_bug(remote, mode)
    local = tmp_path / "site"
    make_tree(local)
    url = remote.url(path="deploy/site")
    args = ("mirror", "--reverse", "--json", "--mode", mode, "--parallel", str(parallel))

    first = cli.ok(*args, local, url).json()
    assert first["direction"] == "upload"
    served = remote.root / "deploy" / "site"
    assert files_of(served) == TREE
    assert "empty dir" in dirs_of(served)
    assert paths_sent(first) == set(TREE)
    assert all(item["mtime_set"] is sets_times(remote) for item in first["files"])
    if sets_times(remote):
        for relative in TREE:
            assert abs((served / relative).stat().st_mtime - PAST) < 1.0, relative

    second = cli.ok(*args, local, url).json()
    assert second["files"] == [] and second["unchanged"] == len(TREE)

    (local / "a" / "b" / "c" / "d" / "leaf.txt").write_bytes(b"a new leaf, longer than before\n")
    (local / "top.txt").unlink()
    third = cli.ok(*args, "--delete", local, url).json()
    assert paths_sent(third) == {"a/b/c/d/leaf.txt"}
    assert {item["path"] for item in third["deleted"]} == {"top.txt"}
    assert files_of(served) == files_of(local)


def test_mirror_resumes_a_partial_download(cli: Cli, ftpferry: Remote, tmp_path: Path) -> None:
    make_tree(ftpferry.root)
    local = tmp_path / "copy"
    cli.ok("mirror", ftpferry.url(), local)
    big = "with space/big.bin"
    whole = TREE[big]
    half = len(whole) // 2
    (local / big).write_bytes(whole[:half])  # an interrupted download: newer, shorter

    result = cli.ok("mirror", "--json", ftpferry.url(), local).json()
    assert len(result["files"]) == 1
    item = result["files"][0]
    assert item["path"] == big and item["reason"] == "resume"
    assert item["offset"] == half and item["bytes"] == len(whole) - half
    assert result["bytes"] == len(whole) - half
    assert sha256(local / big) == sha256(ftpferry.root / big)


def test_mirror_resumes_a_partial_upload(cli: Cli, ftpferry: Remote, tmp_path: Path) -> None:
    local = tmp_path / "site"
    make_tree(local)
    big = "with space/big.bin"
    whole = TREE[big]
    third = len(whole) // 3
    ftpferry.put(f"site/{big}", whole[:third])  # an interrupted upload

    result = cli.ok("mirror", "-R", "--json", local, ftpferry.url(path="site")).json()
    by_path = {item["path"]: item for item in result["files"]}
    assert by_path[big]["reason"] == "resume"
    assert by_path[big]["offset"] == third
    assert by_path[big]["bytes"] == len(whole) - third
    assert sha256(ftpferry.root / "site" / big) == sha256(local / big)


def test_a_refused_resume_sends_the_whole_file(cli: Cli, mode: str, tmp_path: Path) -> None:
    """ProFTPD refuses APPE (and STOR after REST) unless AllowStoreRestart is on:
    the partial copy is then replaced by the whole file, or it could never be
    completed by this run or any later one."""
    remote = start_pyftpdlib(tmp_path, "--refuse-resume")
    try:
        local = tmp_path / "site"
        make_tree(local)
        big = "with space/big.bin"
        whole = TREE[big]
        remote.put(f"site/{big}", whole[: len(whole) // 3])  # an interrupted upload

        result = cli("mirror", "-R", "--json", "--mode", mode, local, remote.url(path="site"))
        assert result.returncode == 0, result.stderr
        by_path = {item["path"]: item for item in result.json()["files"]}
        assert by_path[big]["offset"] == 0 and by_path[big]["bytes"] == len(whole)
        assert "continuing the partial copy was refused" in result.stderr
        assert "451" in result.stderr
        assert sha256(remote.root / "site" / big) == sha256(local / big)
    finally:
        remote.stop()


def test_an_outdated_shorter_copy_is_sent_again_in_full(
    cli: Cli, ftpferry: Remote, tmp_path: Path
) -> None:
    local = tmp_path / "copy"
    make_tree(ftpferry.root)
    cli.ok("mirror", ftpferry.url(), local)
    target = ftpferry.root / "top.txt"
    target.write_bytes(b"a longer version of the top level file\n")  # newer than the copy
    result = cli.ok("mirror", "--json", ftpferry.url(), local).json()
    assert [(item["path"], item["reason"], item["offset"]) for item in result["files"]] == [
        ("top.txt", "changed", 0)
    ]
    assert (local / "top.txt").read_bytes() == target.read_bytes()


def test_mirror_conflicts_and_delete_clears_them(
    cli: Cli, ftpferry: Remote, tmp_path: Path
) -> None:
    ftpferry.put("thing/inside.txt", b"in a directory")
    ftpferry.put("other", b"a file")
    local = tmp_path / "copy"
    local.mkdir()
    (local / "thing").write_text("a file where the server has a directory")
    (local / "other").mkdir()
    (local / "other" / "x.txt").write_text("x")

    refused = cli("mirror", "--json", ftpferry.url(), local)
    assert refused.returncode == 1
    document = refused.json()
    assert {error["stage"] for error in document["errors"]} == {"conflict"}
    assert "a file is where a directory belongs" in refused.stderr

    cli.ok("mirror", "--delete", ftpferry.url(), local)
    assert files_of(local) == {"thing/inside.txt": b"in a directory", "other": b"a file"}


def test_plain_progress_lines_when_stderr_is_not_a_terminal(
    cli: Cli, ftpferry: Remote, tmp_path: Path
) -> None:
    make_tree(ftpferry.root)
    result = cli.ok("mirror", "--parallel", "2", ftpferry.url(), tmp_path / "copy")
    lines = result.stderr.splitlines()
    for relative, data in TREE.items():
        assert any(
            line.startswith(f"downloaded {relative}: {len(data):,} byte") for line in lines
        ), result.stderr
    assert lines[-1].startswith(f"mirror: downloaded {len(TREE)} files")
    assert "\x1b[" not in result.stderr  # no terminal escapes
    assert result.stdout == ""
    quiet = cli.ok("mirror", "-q", "--delete", ftpferry.url(), tmp_path / "copy")
    assert quiet.stderr == ""


def test_parallel_mirror_makes_do_with_the_connections_the_server_allows(
    cli: Cli, tmp_path: Path
) -> None:
    server = start_ftpferry(tmp_path, "--max-connections-per-ip", "2")
    try:
        make_tree(server.root)
        local = tmp_path / "copy"
        result = cli("mirror", "--json", "--parallel", "4", server.url(), local)
        assert result.returncode == 0, result.stderr
        document = result.json()
        assert document["connections"] == 2
        assert files_of(local) == TREE
        assert "no more connections: going on with 2" in result.stderr
    finally:
        server.stop()


def test_mirror_keeps_one_data_connection_per_control_connection(
    cli: Cli, ftpferry: Remote, tmp_path: Path
) -> None:
    make_tree(ftpferry.root)
    down = cli.ok("mirror", "-v", "--parallel", "2", ftpferry.url(), tmp_path / "down")
    assert files_of(tmp_path / "down") == TREE
    (ftpferry.root / "back").mkdir()  # listed first (a refused MLSD costs a connection)
    back = cli.ok("mirror", "-v", "-R", tmp_path / "down", ftpferry.url(path="back"))
    assert files_of(ftpferry.root / "back") == TREE
    for result, connections in ((down, 2), (back, 1)):
        dialogue = result.stderr.splitlines()
        assert sum(line.endswith("-> MODE B") for line in dialogue) == connections
        assert sum(line.endswith("-> EPSV") for line in dialogue) == connections, result.stderr
    back_url = ftpferry.url(path="back")
    stream = cli.ok("mirror", "-v", "--no-block-mode", back_url, tmp_path / "stream")
    assert files_of(tmp_path / "stream") == TREE
    assert "MODE B" not in stream.stderr
    assert sum(line.endswith("-> EPSV") for line in stream.stderr.splitlines()) > len(TREE)


def test_mirror_with_a_server_that_takes_mode_b_without_doing_it(cli: Cli, tmp_path: Path) -> None:
    lying = start_pyftpdlib(tmp_path, "--say-mode-b")
    try:
        make_tree(tmp_path / "site")
        cli.ok("mirror", "-R", "--parallel", "2", tmp_path / "site", lying.url(path="site"))
        assert files_of(lying.root / "site") == TREE  # no block headers stored in a file
        cli.ok("mirror", "--parallel", "2", lying.url(path="site"), tmp_path / "back")
        assert files_of(tmp_path / "back") == TREE
    finally:
        lying.stop()
