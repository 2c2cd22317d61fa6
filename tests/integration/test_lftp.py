"""lftp against ftpferry: passive (PASV and EPSV) and active (PORT) data channels.

lftp is the most demanding of the common clients: it uses FEAT, MLSD,
SIZE, MDTM, MFMT and SITE CHMOD when the server offers them, retries on
errors, and runs several connections at once for ``pget``.  Retries are
turned off (``net:max-retries 1``) and ``cmd:fail-exit`` is on, so any
refused command makes lftp exit non-zero instead of being papered over.
"""

from __future__ import annotations

import calendar
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import (
    PASSWORD,
    USER,
    ServerProcess,
    have,
    ipv6_loopback_available,
    start_server,
)
from tests.integration.support import (
    NESTED_TREE,
    check_ok,
    explain,
    fresh_area,
    make_tree,
    random_bytes,
    run_client,
    tree_digest,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not have("lftp"), reason="lftp is not installed"),
]


@dataclass(frozen=True)
class LftpMode:
    """lftp settings selecting one data-channel command, and the verb to expect."""

    settings: tuple[str, ...]
    verb: str


MODES = {
    "PASV": LftpMode(("set ftp:passive-mode on", "set ftp:prefer-epsv no"), "PASV"),
    "EPSV": LftpMode(("set ftp:passive-mode on", "set ftp:prefer-epsv yes"), "EPSV"),
    "PORT": LftpMode(("set ftp:passive-mode off",), "PORT"),
}
DATA_VERBS = {"PASV", "EPSV", "PORT", "EPRT"}

# 2021-03-04 05:06:07 UTC: a fixed, whole-second time to check MFMT/MLSD round trips.
FIXED_MTIME = calendar.timegm((2021, 3, 4, 5, 6, 7))


@pytest.fixture(params=list(MODES), ids=list(MODES))
def mode(request: pytest.FixtureRequest) -> LftpMode:
    """Each test once per data-channel mode."""
    return MODES[request.param]


@pytest.fixture
def area(shared_server: ServerProcess, request: pytest.FixtureRequest) -> str:
    """A fresh directory on the shared server, so tests never see each other's files."""
    return fresh_area(shared_server, request.node.name)


def lftp(
    server: ServerProcess, mode: LftpMode, *commands: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run lftp commands in one session (``-d`` traces the protocol to stderr).

    The user,password pair is single-quoted for lftp's own parser because
    the password contains a space; local paths are kept relative to ``cwd``
    so they need no quoting.
    """
    script = "; ".join(
        [
            *mode.settings,
            "set net:max-retries 1",
            "set net:timeout 10",
            "set net:reconnect-interval-base 1",
            "set cmd:fail-exit yes",
            "set xfer:clobber on",
            "set ssl-allow no",
            f"open -u '{USER},{PASSWORD}' -p {server.port} {server.host}",
            *commands,
        ]
    )
    return run_client(["lftp", "-d", "-c", script], cwd=cwd)


def check_mode(
    result: subprocess.CompletedProcess[str], mode: LftpMode, server: ServerProcess
) -> None:
    """Assert every data connection lftp opened used the mode's verb."""
    sent = set(re.findall(r"^---> ([A-Z]{3,4})\b", result.stderr, flags=re.MULTILINE))
    assert sent & DATA_VERBS == {mode.verb}, explain(result, server)


def test_put_and_get(
    shared_server: ServerProcess, mode: LftpMode, area: str, tmp_path: Path
) -> None:
    payload = random_bytes(500_000, area)
    (tmp_path / "local.bin").write_bytes(payload)

    result = lftp(
        shared_server,
        mode,
        f"cd {area}",
        "put local.bin -o remote.bin",
        'put local.bin -o "with space ✓.bin"',
        "get remote.bin -o back.bin",
        'get "with space ✓.bin" -o back2.bin',
        cwd=tmp_path,
    )
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    assert (shared_server.root / area / "remote.bin").read_bytes() == payload
    assert (shared_server.root / area / "with space ✓.bin").read_bytes() == payload
    assert (tmp_path / "back.bin").read_bytes() == payload
    assert (tmp_path / "back2.bin").read_bytes() == payload


def test_ls_and_cls(
    shared_server: ServerProcess, mode: LftpMode, area: str, tmp_path: Path
) -> None:
    directory = shared_server.root / area
    (directory / "plain.txt").write_bytes(b"12345")
    (directory / "two words.txt").write_bytes(b"")
    (directory / "héllo wörld ✓.txt").write_bytes(b"x")
    (directory / "sub").mkdir()

    result = lftp(shared_server, mode, f"ls {area}", cwd=tmp_path)
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    long_lines = {line.split(None, 8)[8]: line for line in result.stdout.splitlines()}
    assert set(long_lines) == {"plain.txt", "two words.txt", "héllo wörld ✓.txt", "sub"}
    assert long_lines["sub"].startswith("d")
    assert long_lines["plain.txt"].split()[4] == "5"

    result = lftp(shared_server, mode, f"cls -1 {area}/", cwd=tmp_path)
    check_ok(result, shared_server)
    names = {line.rpartition("/")[2] or line for line in result.stdout.splitlines()}
    assert sorted(result.stdout.splitlines()) == sorted(
        f"{area}/{name}" for name in ("plain.txt", "two words.txt", "héllo wörld ✓.txt", "sub/")
    ), names


def test_mkdir_mv_rm_rmdir(
    shared_server: ServerProcess, mode: LftpMode, area: str, tmp_path: Path
) -> None:
    directory = shared_server.root / area
    (tmp_path / "f.txt").write_bytes(b"file body")

    result = lftp(
        shared_server,
        mode,
        f"cd {area}",
        "mkdir -p one/two/three",
        "put f.txt -o one/f.txt",
        "mv one/f.txt one/two/g.txt",
        cwd=tmp_path,
    )
    check_ok(result, shared_server)
    assert (directory / "one" / "two" / "three").is_dir()
    assert not (directory / "one" / "f.txt").exists()
    assert (directory / "one" / "two" / "g.txt").read_bytes() == b"file body"

    result = lftp(
        shared_server,
        mode,
        f"cd {area}",
        "rm one/two/g.txt",
        "rmdir one/two/three",
        "rmdir one/two",
        "rmdir one",
        cwd=tmp_path,
    )
    check_ok(result, shared_server)
    assert list(directory.iterdir()) == []


def test_mget_mput_glob_and_chmod(
    shared_server: ServerProcess, mode: LftpMode, area: str, tmp_path: Path
) -> None:
    directory = shared_server.root / area
    for name in ("a.log", "b.log", "c.txt"):
        (directory / name).write_bytes(name.encode() * 100)
    (tmp_path / "down").mkdir()
    (tmp_path / "up").mkdir()
    for name in ("x.dat", "y.dat"):
        (tmp_path / "up" / name).write_bytes(name.encode() * 50)

    result = lftp(
        shared_server,
        mode,
        f"cd {area}",
        "mget -O down *.log",
        "mkdir uploads",
        "mput -O uploads up/*.dat",
        "chmod 600 a.log",
        cwd=tmp_path,
    )
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    assert sorted(p.name for p in (tmp_path / "down").iterdir()) == ["a.log", "b.log"]
    assert (tmp_path / "down" / "b.log").read_bytes() == b"b.log" * 100
    assert (directory / "uploads" / "y.dat").read_bytes() == b"y.dat" * 50
    assert stat.S_IMODE((directory / "a.log").stat().st_mode) == 0o600


def test_rmdir_of_non_empty_directory_fails(
    shared_server: ServerProcess, mode: LftpMode, area: str, tmp_path: Path
) -> None:
    (shared_server.root / area / "full").mkdir()
    (shared_server.root / area / "full" / "keep.txt").write_bytes(b"keep")
    result = lftp(shared_server, mode, f"rmdir {area}/full", cwd=tmp_path)
    assert result.returncode != 0, explain(result, shared_server)
    assert (shared_server.root / area / "full" / "keep.txt").read_bytes() == b"keep"


def test_rm_r_removes_a_directory_link_not_what_it_leads_to(
    shared_server: ServerProcess, mode: LftpMode, area: str, tmp_path: Path
) -> None:
    """ftpferry used to list a link to a directory as the directory, so lftp's
    ``rm -r`` went through it and emptied the directory it leads to."""
    directory = shared_server.root / area
    (directory / "victim").mkdir()
    (directory / "victim" / "keep.txt").write_bytes(b"precious")
    (directory / "doomed").mkdir()
    (directory / "doomed" / "x.txt").write_bytes(b"x")
    (directory / "doomed" / "link").symlink_to("../victim")

    result = lftp(shared_server, mode, f"cd {area}", "rm -r doomed", cwd=tmp_path)
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    assert (directory / "victim" / "keep.txt").read_bytes() == b"precious"
    assert not (directory / "doomed").exists()

    (directory / "shown").symlink_to("victim")
    listed = lftp(shared_server, mode, f"ls {area}", cwd=tmp_path)
    check_ok(listed, shared_server)
    line = next(line for line in listed.stdout.splitlines() if " shown" in line)
    assert line.startswith("l") and line.endswith("shown -> victim"), line
    entered = lftp(shared_server, mode, f"cd {area}/shown", "ls", cwd=tmp_path)
    check_ok(entered, shared_server)
    assert "keep.txt" in entered.stdout  # CWD still goes through the link


def test_get_missing_file_fails(
    shared_server: ServerProcess, mode: LftpMode, area: str, tmp_path: Path
) -> None:
    result = lftp(shared_server, mode, f"get {area}/missing.bin -o out.bin", cwd=tmp_path)
    assert result.returncode != 0, explain(result, shared_server)
    assert "550" in result.stderr, explain(result, shared_server)


def _set_tree_mtimes(root: Path, mtime: int) -> None:
    """Give every file a known time, so a mirror's time preservation can be checked."""
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (mtime, mtime))


def _file_mtimes(root: Path) -> dict[str, int]:
    """Relative path -> whole-second mtime of each file."""
    return {
        path.relative_to(root).as_posix(): int(path.stat().st_mtime)
        for path in root.rglob("*")
        if path.is_file()
    }


def test_mirror_download(
    shared_server: ServerProcess, mode: LftpMode, area: str, tmp_path: Path
) -> None:
    source = shared_server.root / area / "tree"
    make_tree(source, seed=area)
    (source / "empty dir").mkdir()
    _set_tree_mtimes(source, FIXED_MTIME)

    result = lftp(shared_server, mode, f"mirror --parallel=4 {area}/tree local", cwd=tmp_path)
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    local = tmp_path / "local"
    assert tree_digest(local) == tree_digest(source)
    assert set(tree_digest(local)) == set(NESTED_TREE)
    assert (local / "empty dir").is_dir()
    assert set(_file_mtimes(local).values()) == {FIXED_MTIME}


def test_mirror_upload(
    shared_server: ServerProcess, mode: LftpMode, area: str, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    make_tree(local, seed=area)
    (local / "empty dir").mkdir()
    _set_tree_mtimes(local, FIXED_MTIME)

    result = lftp(shared_server, mode, f"mirror -R local {area}/uploaded", cwd=tmp_path)
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    uploaded = shared_server.root / area / "uploaded"
    assert tree_digest(uploaded) == tree_digest(local)
    assert (uploaded / "empty dir").is_dir()
    # lftp sets remote times with MFMT after each upload.
    assert set(_file_mtimes(uploaded).values()) == {FIXED_MTIME}


def test_mirror_round_trip_is_idempotent(
    shared_server: ServerProcess, mode: LftpMode, area: str, tmp_path: Path
) -> None:
    """A second mirror of an unchanged tree transfers nothing (sizes and times agree)."""
    source = shared_server.root / area / "tree"
    make_tree(source, seed=area)
    first = lftp(shared_server, mode, f"mirror {area}/tree local", cwd=tmp_path)
    check_ok(first, shared_server)
    second = lftp(shared_server, mode, f"mirror --verbose=1 {area}/tree local", cwd=tmp_path)
    check_ok(second, shared_server)
    assert "RETR" not in re.findall(r"^---> (\w+)", second.stderr, flags=re.MULTILINE), explain(
        second, shared_server
    )
    assert tree_digest(tmp_path / "local") == tree_digest(source)


def test_pget_segments(
    shared_server: ServerProcess, mode: LftpMode, area: str, tmp_path: Path
) -> None:
    payload = random_bytes(3_000_000, area)
    (shared_server.root / area / "big.bin").write_bytes(payload)
    result = lftp(shared_server, mode, f"pget -n 4 {area}/big.bin -o big.bin", cwd=tmp_path)
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    assert (tmp_path / "big.bin").read_bytes() == payload


def test_get_continue(
    shared_server: ServerProcess, mode: LftpMode, area: str, tmp_path: Path
) -> None:
    payload = random_bytes(400_000, area)
    (shared_server.root / area / "resume.bin").write_bytes(payload)
    (tmp_path / "resume.bin").write_bytes(payload[:123_456])
    result = lftp(shared_server, mode, f"get -c {area}/resume.bin -o resume.bin", cwd=tmp_path)
    check_ok(result, shared_server)
    assert "---> REST 123456" in result.stderr, explain(result, shared_server)
    assert (tmp_path / "resume.bin").read_bytes() == payload


def test_put_continue(
    shared_server: ServerProcess, mode: LftpMode, area: str, tmp_path: Path
) -> None:
    payload = random_bytes(400_000, area)
    (tmp_path / "resume.bin").write_bytes(payload)
    on_server = shared_server.root / area / "resume.bin"
    on_server.write_bytes(payload[:100_000])
    result = lftp(shared_server, mode, f"put -c resume.bin -o {area}/resume.bin", cwd=tmp_path)
    check_ok(result, shared_server)
    assert on_server.read_bytes() == payload


def test_mirror_download_parsing_list(
    shared_server: ServerProcess, mode: LftpMode, area: str, tmp_path: Path
) -> None:
    """With MLSD off, lftp must understand our ``ls -l`` LIST lines to recurse."""
    source = shared_server.root / area / "tree"
    make_tree(source, seed=area)
    result = lftp(
        shared_server, mode, "set ftp:use-mlsd no", f"mirror {area}/tree local", cwd=tmp_path
    )
    check_ok(result, shared_server)
    sent = re.findall(r"^---> ([A-Z]{3,4})\b", result.stderr, flags=re.MULTILINE)
    assert "MLSD" not in sent
    assert "LIST" in sent
    assert tree_digest(tmp_path / "local") == tree_digest(source)


@pytest.fixture(scope="module")
def ipv6_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server on ::1 only, shared by the IPv6 tests of this module."""
    if not ipv6_loopback_available():
        pytest.skip("IPv6 loopback ::1 is not available")
    server = start_server(tmp_path_factory.mktemp("ipv6"), host="::1")
    yield server
    server.stop()


IPV6_MODES = {
    "EPSV": LftpMode(("set ftp:passive-mode on",), "EPSV"),
    "EPRT": LftpMode(("set ftp:passive-mode off",), "EPRT"),
}


@pytest.mark.parametrize("mode_name", list(IPV6_MODES))
def test_ipv6_put_get_ls(ipv6_server: ServerProcess, mode_name: str, tmp_path: Path) -> None:
    """Over IPv6 lftp must use EPSV (passive) or EPRT (active), with no fallback.

    On loopback lftp leaves its active data socket unbound and so sends
    ``EPRT |2|::|port|``: the unspecified address, meaning "the address of
    this control connection".  (For IPv4 it substitutes the control address
    itself; see Ftp::Transfer in lftp's ftpclass.cc.)  The server should
    take ``::`` as the client's own address rather than refuse it, or lftp
    silently switches to passive mode.
    """
    mode = IPV6_MODES[mode_name]
    area = fresh_area(ipv6_server, f"v6_{mode_name}")
    payload = random_bytes(600_000, area)
    (tmp_path / "local.bin").write_bytes(payload)
    result = lftp(
        ipv6_server,
        mode,
        f"cd {area}",
        "put local.bin -o remote.bin",
        "get remote.bin -o back.bin",
        "cls -1",
        cwd=tmp_path,
    )
    check_ok(result, ipv6_server)
    check_mode(result, mode, ipv6_server)
    assert (ipv6_server.root / area / "remote.bin").read_bytes() == payload
    assert (tmp_path / "back.bin").read_bytes() == payload
    assert result.stdout.splitlines() == ["remote.bin"]
