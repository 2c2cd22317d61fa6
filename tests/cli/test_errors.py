"""Failures: one clear line on stderr, the right exit code, no traceback;
the JSON error document; -v shows the dialogue with PASS masked."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.client.conftest import Remote, start_pyftpdlib
from tests.conftest import ftpferry_command

from .conftest import Cli, CliResult

pytestmark = pytest.mark.integration


def one_line_error(result: CliResult, command: str) -> str:
    """The single ``ftpferry CMD: ...`` line, asserting there is nothing else alarming."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("ftpferry ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"ftpferry {command}: ")
    return lines[0]


def wrong_password_url(remote: Remote, path: str = "") -> str:
    return f"ftp://{quote(remote.user)}:wrong@{remote.host}:{remote.port}/{path}"


def test_wrong_password(cli: Cli, remote: Remote) -> None:
    result = cli("ls", wrong_password_url(remote))
    assert result.returncode == 3
    line = one_line_error(result, "ls")
    assert "login refused: 530" in line
    assert "wrong" not in result.stderr


def test_missing_file(cli: Cli, remote: Remote) -> None:
    result = cli("get", remote.url(path="no/such file.txt"))
    assert result.returncode == 1
    line = one_line_error(result, "get")
    assert " 550 " in line and "RETR no/such file.txt" in line
    assert not (cli.cwd / "such file.txt").exists()  # nothing left behind


def test_ls_of_a_missing_directory_fails(cli: Cli, remote: Remote, mode: str) -> None:
    """vsftpd answers LIST of a missing path with an empty listing and 226; an
    empty directory and a missing one must still not look the same."""
    remote.mkdir("empty")
    assert cli.ok("ls", "--mode", mode, remote.url(path="empty")).stdout == ""
    result = cli("ls", "--mode", mode, remote.url(path="no/such dir"))
    assert result.returncode == 1
    assert "no/such dir" in one_line_error(result, "ls")
    mirror = cli("mirror", "--mode", mode, remote.url(path="no/such dir"), cli.cwd / "copy")
    assert mirror.returncode != 0 and "no remote directory" in mirror.stderr
    assert not (cli.cwd / "copy").exists()


def test_a_refused_resume_says_to_try_without_c(cli: Cli, mode: str, tmp_path: Path) -> None:
    """ProFTPD refuses APPE unless AllowStoreRestart is on: ``put -c`` then fails
    with the server's words and what to do, and the partial file is left as it was."""
    remote = start_pyftpdlib(tmp_path, "--refuse-resume")
    try:
        remote.put("part.bin", b"0123")
        local = cli.cwd / "part.bin"
        local.write_bytes(b"0123456789")
        result = cli("put", "-c", "--mode", mode, local, remote.url(path="part.bin"))
        assert result.returncode == 1
        line = one_line_error(result, "put")
        assert "451 Append/Restart not permitted" in line and "without -c" in line
        assert (remote.root / "part.bin").read_bytes() == b"0123"
        cli.ok("put", "--mode", mode, local, remote.url(path="part.bin"))
        assert (remote.root / "part.bin").read_bytes() == b"0123456789"
    finally:
        remote.stop()


def test_missing_local_source(cli: Cli, ftpferry: Remote) -> None:
    result = cli("put", cli.cwd / "absent.txt", ftpferry.url())
    assert result.returncode == 5
    assert "No such file or directory" in one_line_error(result, "put")


def test_connection_refused(cli: Cli) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nothing listens once closed
    result = cli("ls", f"ftp://alice:x@127.0.0.1:{port}/")
    assert result.returncode == 4
    line = one_line_error(result, "ls")
    assert f"cannot connect to 127.0.0.1 port {port}: Connection refused" in line


def test_timeout(cli: Cli, silent_server: int) -> None:
    started = time.monotonic()
    result = cli("ls", "--timeout", "0.5", f"ftp://alice:x@127.0.0.1:{silent_server}/")
    assert time.monotonic() - started < 20
    assert result.returncode == 4
    assert "timed out" in one_line_error(result, "ls")


def test_ctrl_c_exits_130_without_traceback(cli: Cli, silent_server: int) -> None:
    process = subprocess.Popen(
        [*ftpferry_command(), "ls", f"ftp://alice:x@127.0.0.1:{silent_server}/"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert "ftpferry ls: interrupted" in stderr


def test_json_error_document(cli: Cli, ftpferry: Remote) -> None:
    result = cli("get", "--json", ftpferry.url(path="missing.bin"))
    assert result.returncode == 1
    document = result.json()
    assert document["command"] == "get" and document["ok"] is False
    assert ftpferry.password not in document["url"]
    assert document["error"]["kind"] == "reply"
    assert document["error"]["code"] == 550
    assert document["error"]["exit_code"] == 1
    login = cli("ls", "--json", wrong_password_url(ftpferry)).json()
    assert login["error"]["kind"] == "login" and login["error"]["code"] == 530


def test_rm_of_a_directory_needs_r(cli: Cli, ftpferry: Remote) -> None:
    ftpferry.mkdir("keep")
    result = cli("rm", ftpferry.url(path="keep"))
    assert result.returncode == 1
    assert "is a directory" in one_line_error(result, "rm")
    assert (ftpferry.root / "keep").is_dir()


def test_usage_errors_exit_2(cli: Cli) -> None:
    bad_ports = cli("ls", "--active-ports", "9-x", "ftp://h/")
    assert bad_ports.returncode == 2 and "Traceback" not in bad_ports.stderr
    bad_url = cli("ls", "http://example.com/")
    assert bad_url.returncode == 2 and "is not an ftp:// or ftps:// URL" in bad_url.stderr
    low_ports = cli("ls", "--active-ports", "80-90", "ftp://h/")
    assert low_ports.returncode == 2 and "1024-65535" in low_ports.stderr


def test_verbose_shows_the_dialogue_with_the_password_masked(cli: Cli, ftpferry: Remote) -> None:
    ftpferry.put("a.txt", b"a")
    result = cli.ok("get", "-v", "--mode", "active", ftpferry.url(path="a.txt"))
    lines = result.stderr.splitlines()
    assert f"-> USER {ftpferry.user}" in lines
    assert "-> PASS ****" in lines
    assert any(line.startswith("<- 230 ") for line in lines)
    assert any(line.startswith("-> EPRT |1|127.0.0.1|") for line in lines)
    assert "-> RETR a.txt" in lines
    assert ftpferry.password not in result.stderr


def test_verbose_tags_parallel_connections(cli: Cli, ftpferry: Remote, tmp_path: Path) -> None:
    for index in range(6):
        ftpferry.put(f"f{index}.txt", b"x" * index)
    result = cli.ok("mirror", "-v", "--parallel", "3", ftpferry.url(), tmp_path / "copy")
    for number in (1, 2, 3):
        assert f"[{number}] -> PASS ****" in result.stderr
    assert ftpferry.password not in result.stderr


def test_password_from_environment(cli: Cli, ftpferry: Remote) -> None:
    url = f"ftp://{ftpferry.user}@{ftpferry.host}:{ftpferry.port}/"
    missing = cli("ls", url)
    assert missing.returncode == 3
    assert "none was given" in one_line_error(missing, "ls")
    cli.ok("ls", url, env={"FTPFERRY_PASSWORD": ftpferry.password})


def test_password_from_netrc(cli: Cli, ftpferry: Remote) -> None:
    netrc = cli.home / ".netrc"
    netrc.write_text(
        f'machine {ftpferry.host} login {ftpferry.user} password "{ftpferry.password}"\n'
    )
    netrc.chmod(0o600)
    cli.ok("ls", f"ftp://{ftpferry.user}@{ftpferry.host}:{ftpferry.port}/")


def _sent_ahead(stderr: str) -> int:
    """How many RETRs the -v dialogue shows sent before the EPSV reply they follow."""
    lines = stderr.splitlines()
    count = 0
    for index, line in enumerate(lines[:-1]):
        if line == "-> EPSV" and lines[index + 1].startswith("-> RETR "):
            count += 1
    return count


def test_sync_mode_sends_one_command_at_a_time(cli: Cli, ftpferry: Remote, tmp_path: Path) -> None:
    for index in range(4):
        ftpferry.put(f"f{index}.txt", b"y" * index)
    stream = ("--no-block-mode", "--mode", "passive")  # block mode needs no EPSV per file
    ahead = cli.ok("mirror", "-v", *stream, ftpferry.url(), tmp_path / "ahead")
    # The listing (MLSD) went lockstep and proved EPSV; every RETR after it went ahead.
    assert _sent_ahead(ahead.stderr) == 4, ahead.stderr
    lockstep = cli.ok("mirror", "-v", "--sync-mode", *stream, ftpferry.url(), tmp_path / "sync")
    assert _sent_ahead(lockstep.stderr) == 0, lockstep.stderr
    for copy in ("ahead", "sync"):
        assert sorted(p.name for p in (tmp_path / copy).iterdir()) == [
            f"f{index}.txt" for index in range(4)
        ]
