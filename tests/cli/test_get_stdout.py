"""``ftpferry get URL -``: the file on standard output, byte for byte, and nothing else.

Standard output is read as bytes here (the shared ``cli`` fixture decodes
text), and compared by SHA-256 with the file on the server.
"""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest

from tests.client.conftest import Remote
from tests.conftest import ftpferry_command

from .conftest import Cli, run_on_terminal

pytestmark = pytest.mark.integration

ALL_BYTES = bytes(range(256))


def environment(cli: Cli) -> dict[str, str]:
    """The environment ``run_cli`` uses: a clean HOME and no password variable."""
    env = {k: v for k, v in os.environ.items() if k != "FTPFERRY_PASSWORD"}
    env.update({"HOME": str(cli.home), "COLUMNS": "120"})
    return env


def run_binary(cli: Cli, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """``ftpferry ARGS`` with stdout and stderr captured as bytes."""
    return subprocess.run(
        [*ftpferry_command(), *args],
        capture_output=True,
        timeout=timeout,
        env=environment(cli),
        cwd=cli.cwd,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(ALL_BYTES * 4096 + b"\r\n\n\r\x00tail", id="all-256-byte-values"),
        pytest.param(os.urandom(3_000_000), id="random-3MB"),
        pytest.param(b"", id="empty"),
    ],
)
def test_get_to_stdout_is_byte_exact(cli: Cli, remote: Remote, mode: str, payload: bytes) -> None:
    remote.put("dir/blob.bin", payload)
    done = run_binary(cli, "get", "--mode", mode, remote.url(path="dir/blob.bin"), "-")
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr
    assert sha256(done.stdout) == sha256(payload)
    assert len(done.stdout) == len(payload)
    # The summary is on stderr (a pipe here: one plain line), never on stdout.
    expected = {"passive": "EPSV", "active": "EPRT"}[mode]
    assert f"downloaded dir/blob.bin: {len(payload):,} byte" in stderr
    assert expected in stderr
    assert "Traceback" not in stderr
    assert not (cli.cwd / "blob.bin").exists()
    assert not (cli.cwd / "-").exists()


def test_quiet_leaves_stderr_empty(cli: Cli, ftpferry: Remote) -> None:
    ftpferry.put("all.bin", ALL_BYTES)
    done = run_binary(cli, "get", "-q", ftpferry.url(path="all.bin"), "-")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ALL_BYTES
    assert done.stderr == b""


def test_verbose_dialogue_goes_to_stderr_only(cli: Cli, ftpferry: Remote) -> None:
    ftpferry.put("v.bin", ALL_BYTES)
    done = run_binary(cli, "get", "-v", ftpferry.url(path="v.bin"), "-")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ALL_BYTES
    assert b"-> RETR v.bin" in done.stderr
    assert ftpferry.password.encode() not in done.stderr


def test_dot_slash_dash_is_a_file_called_dash(cli: Cli, ftpferry: Remote) -> None:
    ftpferry.put("f.txt", b"into a file named -")
    done = run_binary(cli, "get", ftpferry.url(path="f.txt"), "./-")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""
    assert (cli.cwd / "-").read_bytes() == b"into a file named -"


def test_missing_file_writes_nothing_to_stdout(cli: Cli, ftpferry: Remote) -> None:
    done = run_binary(cli, "get", ftpferry.url(path="missing.bin"), "-")
    assert done.returncode == 1
    assert done.stdout == b""
    lines = done.stderr.decode().splitlines()
    assert any(line.startswith("ftpferry get: 550") for line in lines), lines
    assert "Traceback" not in done.stderr.decode()


def test_directory_url_is_refused(cli: Cli, ftpferry: Remote) -> None:
    ftpferry.mkdir("adir")
    done = run_binary(cli, "get", ftpferry.url(path="adir/"), "-")
    assert done.returncode == 1
    assert done.stdout == b""
    assert b"names a directory" in done.stderr


@pytest.mark.parametrize("option", ["--json", "-c"])
def test_options_that_cannot_work_with_stdout_are_usage_errors(
    cli: Cli, ftpferry: Remote, option: str
) -> None:
    ftpferry.put("x.bin", b"x")
    done = run_binary(cli, "get", option, ftpferry.url(path="x.bin"), "-")
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"standard output" in done.stderr


def test_reader_going_away_is_one_line_not_a_traceback(cli: Cli, ftpferry: Remote) -> None:
    """``ftpferry get URL - | head -c 1000``: the pipe closes mid-download."""
    ftpferry.put("big.bin", os.urandom(16 * 1024 * 1024))
    process = subprocess.Popen(
        [*ftpferry_command(), "get", ftpferry.url(path="big.bin"), "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=environment(cli),
        cwd=cli.cwd,
    )
    assert process.stdout is not None and process.stderr is not None
    head = process.stdout.read(1000)
    process.stdout.close()
    try:
        returncode = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert len(head) == 1000
    assert returncode == 5, stderr
    assert "broken pipe" in stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert len(stderr.splitlines()) <= 2, stderr  # the download line is not printed


def test_no_progress_bars_when_stdout_is_the_terminal(cli: Cli, ftpferry: Remote) -> None:
    """With stdout and stderr on one terminal, bars would be drawn into the file."""
    text = b"terminal-safe-text-" * 2000  # no newlines: the terminal would rewrite them
    ftpferry.put("t.txt", text)
    returncode, output = run_on_terminal(
        cli, "get", ftpferry.url(path="t.txt"), "-", stdout_too=True
    )
    assert returncode == 0, output[-2000:]
    assert text in output
    assert b"\x1b[?25l" not in output  # rich hides the cursor while it draws bars
    assert b"downloaded t.txt" in output  # the plain line instead, after the file
    assert output.index(b"downloaded t.txt") > output.index(text)
