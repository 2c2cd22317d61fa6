"""Helpers shared by the real-client integration tests.

The client matrix (curl, lftp, wget, ftplib) repeats the same chores: run a
command line with a hard time-out, make a nested tree of random files,
compare two trees byte for byte, and, when something fails, show both what
the client said and what the server logged.  They live here so each test
file reads as a list of scenarios.
"""

from __future__ import annotations

import ftplib
import hashlib
import itertools
import os
import random
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.conftest import PASSWORD, USER, ServerProcess

CLIENT_TIMEOUT = 60.0
"""Upper bound for one client command: a hung data channel must fail, not hang."""

NESTED_TREE: dict[str, int] = {
    "top.bin": 70_000,
    "empty.txt": 0,
    "name with spaces.dat": 1_234,
    "a/one.bin": 150_000,
    "a/b/two.bin": 4_096,
    "a/b/c/three.txt": 33,
    "a/héllo wörld ✓.txt": 2_048,
    "a/.hidden": 12,
    "a/b/c/d/four.bin": 262_145,
    "z/last.bin": 999,
}
"""Relative path -> size; deep enough that a client must recurse four levels."""


def run_client(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    timeout: float = CLIENT_TIMEOUT,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a client command line, never letting it run longer than ``timeout``.

    Output is captured as text (undecodable bytes replaced) so assertion
    messages can show it.
    """
    return subprocess.run(
        list(argv),
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
        env={**os.environ, "LC_ALL": "C.UTF-8", **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def log_tail(server: ServerProcess, lines: int = 60) -> str:
    """The end of the server log, for assertion messages."""
    return "\n".join(server.log().splitlines()[-lines:])


def explain(result: subprocess.CompletedProcess[str], server: ServerProcess) -> str:
    """Everything needed to diagnose a failed client run without re-running it."""
    return (
        f"command: {result.args!r}\nexit code: {result.returncode}\n"
        f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-6000:]}\n"
        f"--- server log (tail) ---\n{log_tail(server)}"
    )


def check_ok(
    result: subprocess.CompletedProcess[str], server: ServerProcess
) -> subprocess.CompletedProcess[str]:
    """Assert a zero exit status, with the client's and the server's output on failure."""
    assert result.returncode == 0, explain(result, server)
    return result


def random_bytes(size: int, seed: int | str) -> bytes:
    """Deterministic incompressible bytes, so a failing run can be reproduced."""
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    """Hex digest of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex digest of a file, read in blocks so large files do not fill memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_tree(root: Path, layout: dict[str, int] = NESTED_TREE, seed: str = "tree") -> None:
    """Create ``layout`` (relative path -> size) of random files under ``root``."""
    for relative, size in layout.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(random_bytes(size, f"{seed}:{relative}"))


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 for every regular file under ``root``.

    Comparing two of these checks names, nesting and every byte at once.
    """
    return {
        path.relative_to(root).as_posix(): sha256_file(path)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def ftp_login(server: ServerProcess, *, passive: bool = True, timeout: float = 20) -> ftplib.FTP:
    """An ftplib session logged in as the test user, in the requested data mode."""
    ftp = ftplib.FTP(timeout=timeout)
    ftp.connect(server.host, server.port, timeout=timeout)
    ftp.encoding = "utf-8"
    ftp.login(USER, PASSWORD)
    ftp.set_pasv(passive)
    return ftp


_area_numbers = itertools.count()


def fresh_area(server: ServerProcess, label: str) -> str:
    """Make and return a new directory name under the server root.

    Tests sharing one server each work in their own directory, so listings
    and file names never collide; ``label`` (usually the test id) makes the
    directory easy to find in the server log.
    """
    name = re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")[:60] + f"_{next(_area_numbers)}"
    (server.root / name).mkdir()
    return name


_ERROR_LINE = re.compile(r"^\d\d:\d\d:\d\d [EC] |^Traceback|Exception in callback")


def log_mark(server: ServerProcess) -> int:
    """A position in the server log; pass it to :func:`check_log_clean` later."""
    return len(server.log())


def check_log_clean(server: ServerProcess, mark: int) -> None:
    """Assert the server logged no traceback since ``mark``.

    Clients only see replies; an exception inside the server's event loop
    (a callback failing, a task dying) shows up only in its log, yet it is
    a bug all the same.
    """
    since = server.log()[mark:]
    problems = [line for line in since.splitlines() if _ERROR_LINE.search(line)]
    assert not problems, "server logged errors:\n" + since[-6000:]
