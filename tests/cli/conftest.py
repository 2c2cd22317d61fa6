"""Fixtures for the client command line: real servers, and the CLI as a subprocess.

Every command runs as ``ftpferry ...`` in a child process, exactly as a
user runs it, with stderr a pipe (so progress is the plain one-line kind)
and HOME pointing at an empty directory (so no ~/.netrc of the machine
running the tests gets in the way).
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import select
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.client.conftest import SERVER_NAMES, Remote, start_ftpferry, start_named
from tests.conftest import ftpferry_command

MODES = ("passive", "active")


@dataclass
class CliResult:
    """A finished ``ftpferry`` run."""

    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout as the one JSON document it must be."""
        return json.loads(self.stdout)


def run_cli(
    *args: str | Path,
    home: Path,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> CliResult:
    """Run ``ftpferry ARGS`` and wait for it."""
    environment = {k: v for k, v in os.environ.items() if k != "FTPFERRY_PASSWORD"}
    environment.update({"HOME": str(home), "COLUMNS": "120"})
    environment.update(env or {})
    done = subprocess.run(
        [*ftpferry_command(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def sha256(path: Path) -> str:
    """Hex digest of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Cli:
    """``cli("get", url, dest)`` runs the command line with a clean HOME."""

    def __init__(self, home: Path, cwd: Path) -> None:
        self.home = home
        self.cwd = cwd

    def __call__(self, *args: str | Path, **kwargs: Any) -> CliResult:
        kwargs.setdefault("cwd", self.cwd)
        return run_cli(*args, home=self.home, **kwargs)

    def ok(self, *args: str | Path, **kwargs: Any) -> CliResult:
        """Run and assert exit code 0 and no traceback."""
        result = self(*args, **kwargs)
        assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr}"
        assert "Traceback" not in result.stderr, result.stderr
        return result


def run_on_terminal(
    cli: Cli, *args: str | Path, stdout_too: bool = False, timeout: float = 60
) -> tuple[int, bytes]:
    """``ftpferry ARGS`` with stderr (and, ``stdout_too``, stdout) on a
    pseudo-terminal, so that it draws what it draws for a person; returns
    the exit code and every byte the terminal received."""
    controller, terminal = pty.openpty()
    try:
        env = {k: v for k, v in os.environ.items() if k != "FTPFERRY_PASSWORD"}
        env.update({"HOME": str(cli.home), "COLUMNS": "120", "TERM": "xterm"})
        process = subprocess.Popen(
            [*ftpferry_command(), *map(str, args)],
            stdout=terminal if stdout_too else subprocess.DEVNULL,
            stderr=terminal,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cli.cwd,
        )
        os.close(terminal)
        terminal = -1
        seen = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif process.poll() is not None:
                break
        return process.wait(timeout=30), bytes(seen)
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The command line, with HOME and the working directory in tmp_path."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return Cli(home, work)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """passive, then active."""
    return str(request.param)


@pytest.fixture
def ftpferry(tmp_path: Path) -> Iterator[Remote]:
    """A fresh ``ftpferry serve``."""
    server = start_ftpferry(tmp_path)
    yield server
    server.stop()


@pytest.fixture(params=SERVER_NAMES)
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Remote]:
    """ftpferry, pyftpdlib, then vsftpd (skipped where it cannot run)."""
    server = start_named(str(request.param), tmp_path)
    yield server
    server.stop()
