"""Resource limits against a real server: connections, time-outs, command rate,
wildcard listings, the umask and read-only accounts.

Waits are bounded generously (the machine is shared); lower bounds on
durations are loose fractions of the configured value.
"""

from __future__ import annotations

import contextlib
import ftplib
import io
import os
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, USER, RawClient, ServerProcess, start_server
from tests.integration.support import ftp_login
from tests.security.support import (
    can_log_in,
    greeting_of,
    log_tail,
    read_until_closed,
    user_table,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Servers a test starts; all stopped afterwards."""
    started: list[ServerProcess] = []
    yield started
    for proc in started:
        proc.stop()


def launch(
    servers: list[ServerProcess], tmp_path: Path, *flags: str, user: str | None = USER
) -> ServerProcess:
    proc = start_server(tmp_path, *flags, user=user)
    servers.append(proc)
    return proc


class SourcedClient(RawClient):
    """A raw client connecting from a chosen loopback address (127.0.0.2 ...)."""

    def __init__(self, host: str, port: int, source: str, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(
            (host, port), timeout=timeout, source_address=(source, 0)
        )
        self.buffer = b""
        self.greeting = self.read_reply()


def refused_before_greeting(client: RawClient) -> None:
    code, text = client.greeting
    assert code == 421, text
    assert read_until_closed(client.sock, timeout=10) == b""


# -- connection limits ------------------------------------------------------------------------


def test_max_connections(servers: list[ServerProcess], tmp_path: Path) -> None:
    server = launch(servers, tmp_path, "--max-connections", "3")
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(RawClient(server.host, server.port)) for _ in range(3)]
        assert [c.greeting[0] for c in clients] == [220, 220, 220]
        with RawClient(server.host, server.port) as fourth:
            refused_before_greeting(fourth)
        # From another address too: the limit is global.
        with SourcedClient(server.host, server.port, "127.0.0.2") as other:
            refused_before_greeting(other)
        clients[0].command("QUIT")
        clients[0].close()
        assert wait_for(lambda: greeting_of(server)[0] == 220, timeout=10), log_tail(server)
        clients[1].login()
        assert clients[1].command("NOOP")[0] == 200


def test_max_connections_per_ip(servers: list[ServerProcess], tmp_path: Path) -> None:
    server = launch(servers, tmp_path, "--max-connections-per-ip", "2")
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(RawClient(server.host, server.port)) for _ in range(2)]
        assert [c.greeting[0] for c in clients] == [220, 220]
        with RawClient(server.host, server.port) as third:
            refused_before_greeting(third)
        # Another client address is counted separately.
        with SourcedClient(server.host, server.port, "127.0.0.2") as other:
            assert other.greeting[0] == 220
            other.login()
        clients[0].close()
        assert wait_for(lambda: greeting_of(server)[0] == 220, timeout=10), log_tail(server)


# -- time-outs --------------------------------------------------------------------------------


def wait_for_421(client: RawClient, bound: float) -> tuple[float, str]:
    """Seconds until the server sends 421 (and closes), at most ``bound``."""
    client.sock.settimeout(bound)
    started = time.monotonic()
    try:
        code, text = client.read_reply()
    except TimeoutError:
        pytest.fail(f"no 421 within {bound}s")
    elapsed = time.monotonic() - started
    assert code == 421, text
    assert read_until_closed(client.sock, timeout=10) == b""
    return elapsed, text


def test_idle_timeout_logged_in(servers: list[ServerProcess], tmp_path: Path) -> None:
    server = launch(servers, tmp_path, "--idle-timeout", "1", "-v")
    with RawClient(server.host, server.port) as client:
        client.login()
        elapsed, text = wait_for_421(client, bound=10)
    assert "idle" in text.lower(), text
    assert elapsed >= 0.5, elapsed
    assert can_log_in(server)


def test_idle_timeout_before_login(servers: list[ServerProcess], tmp_path: Path) -> None:
    server = launch(servers, tmp_path, "--idle-timeout", "1", "-v")
    with RawClient(server.host, server.port) as client:
        wait_for_421(client, bound=10)


def test_activity_defers_idle_timeout(servers: list[ServerProcess], tmp_path: Path) -> None:
    server = launch(servers, tmp_path, "--idle-timeout", "2")
    with RawClient(server.host, server.port) as client:
        client.login()
        for _ in range(6):  # 3 s of activity, more than the idle time-out
            time.sleep(0.5)
            assert client.command("NOOP")[0] == 200


def test_login_timeout(servers: list[ServerProcess], tmp_path: Path) -> None:
    config = write_config(tmp_path, "[limits]\nlogin_timeout = 1\n")
    server = launch(servers, tmp_path, "--config", str(config))
    with RawClient(server.host, server.port) as client:
        # Active, but never completing USER/PASS: activity does not extend the login time.
        assert client.command(f"USER {USER}")[0] == 331
        time.sleep(0.3)
        assert client.command("NOOP")[0] == 200
        _, text = wait_for_421(client, bound=10)
    assert "login" in text.lower(), text
    # A logged-in session is not subject to the login time-out.
    with RawClient(server.host, server.port) as client:
        client.login()
        time.sleep(2.5)
        assert client.command("NOOP")[0] == 200


# -- command rate -----------------------------------------------------------------------------


def test_command_throttle(servers: list[ServerProcess], tmp_path: Path) -> None:
    config = write_config(tmp_path, "[limits]\nmax_commands_per_second = 20\n")
    server = launch(servers, tmp_path, "--config", str(config))
    with RawClient(server.host, server.port, timeout=30) as client:
        started = time.monotonic()
        client.send_raw(b"NOOP\r\n" * 100)
        codes = [client.read_reply()[0] for _ in range(100)]
        elapsed = time.monotonic() - started
        assert codes == [200] * 100
        # 20 in the first-second burst, then 80 at 20/s: about 4 s.
        assert elapsed >= 3.0, elapsed
        assert elapsed < 30, elapsed
        assert client.command("NOOP")[0] == 200


# -- listings with wildcards ------------------------------------------------------------------


@pytest.fixture(scope="module")
def listing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("wild")
    root = base / "root"
    many = root / "many"
    many.mkdir(parents=True)
    for i in range(2000):
        (many / f"file{i:04d}.txt").write_bytes(b"")
    for i in range(40):
        (many / ("a" * 200 + f"{i:02d}")).write_bytes(b"")
    for a in range(5):
        for b in range(5):
            leaf = root / "tree" / f"a{a}" / f"b{b}"
            leaf.mkdir(parents=True)
            (leaf / "deep.txt").write_bytes(b"deep")
    proc = start_server(base, "--data-timeout", "10")
    yield proc
    proc.stop()


def list_lines(server: ServerProcess, command: str) -> tuple[str, list[str], float]:
    """Run a listing command; (final reply or error, lines, seconds)."""
    lines: list[str] = []
    started = time.monotonic()
    ftp = ftp_login(server, timeout=30)
    try:
        try:
            final = ftp.retrlines(command, lines.append)
        except ftplib.error_perm as exc:
            final = str(exc)
        return final, lines, time.monotonic() - started
    finally:
        ftp.quit()


def test_wildcard_in_last_component(listing_server: ServerProcess) -> None:
    final, lines, elapsed = list_lines(listing_server, "LIST many/file1*")
    assert final.startswith("226"), final
    assert len(lines) == 1000
    assert elapsed < 30
    final, names, _ = list_lines(listing_server, "NLST many/*")
    assert final.startswith("226"), final
    assert len(names) == 2040


@pytest.mark.parametrize(
    "command",
    [
        "LIST */*/*",
        "NLST */*/*",
        "LIST */*",
        "LIST tree/*/*",
        "LIST -la */*/*/*/*/*/*/*/*/*/*/*/*/*/*/*",
        "NLST ../../*",
        "LIST /../*/../*",
        "MLSD */*",
        "STAT */*/*",
    ],
)
def test_wildcards_in_directories_never_recurse(
    listing_server: ServerProcess, command: str
) -> None:
    started = time.monotonic()
    if command.startswith("STAT"):
        with RawClient(listing_server.host, listing_server.port, timeout=30) as client:
            client.login()
            code, text = client.command(command)
        assert code in {211, 212, 213, 450, 501, 550}, (code, text)
        assert "deep.txt" not in text
    else:
        final, lines, _ = list_lines(listing_server, command)
        assert final[:3] in {"226", "550", "501"}, final
        assert not any("deep.txt" in line for line in lines), lines[:20]
        assert len(lines) <= 2040
    assert time.monotonic() - started < 30
    assert can_log_in(listing_server)


def test_pathological_pattern_is_fast(listing_server: ServerProcess) -> None:
    """A pattern that backtracks exponentially in a naive matcher, on 200-letter names."""
    pattern = "*a" * 30 + "*b"
    final, lines, elapsed = list_lines(listing_server, f"LIST many/{pattern}")
    assert final[:3] in {"226", "550"}, final
    assert lines == []
    assert elapsed < 30
    assert can_log_in(listing_server)


# -- umask ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "file_mode", "dir_mode"),
    [("flag", 0o600, 0o700), ("config", 0o640, 0o750)],
)
def test_umask(
    servers: list[ServerProcess], tmp_path: Path, source: str, file_mode: int, dir_mode: int
) -> None:
    if source == "flag":
        server = launch(servers, tmp_path, "--umask", "077")
    else:
        config = write_config(tmp_path, 'umask = "027"\n')
        server = launch(servers, tmp_path, "--config", str(config))
    ftp = ftp_login(server)
    try:
        ftp.storbinary("STOR stored.bin", io.BytesIO(b"data"))
        ftp.storbinary("APPE appended.bin", io.BytesIO(b"data"))
        ftp.mkd("made")
        ftp.mkd("made/inner")
    finally:
        ftp.quit()
    for name in ("stored.bin", "appended.bin"):
        assert stat.S_IMODE((server.root / name).stat().st_mode) == file_mode, name
    for name in ("made", "made/inner"):
        assert stat.S_IMODE((server.root / name).stat().st_mode) == dir_mode, name


# -- read-only accounts -----------------------------------------------------------------------


def tree_state(root: Path) -> dict[str, tuple[int, int, int, bytes]]:
    """Every path under ``root`` with mode, mtime, size and content."""
    state: dict[str, tuple[int, int, int, bytes]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        content = path.read_bytes() if path.is_file() else b""
        state[path.relative_to(root).as_posix()] = (
            info.st_mode,
            info.st_mtime_ns,
            info.st_size,
            content,
        )
    return state


WRITE_COMMANDS = [
    "DELE existing.txt",
    "RNFR existing.txt",
    "RNTO renamed.txt",
    "MKD newdir",
    "XMKD newdir",
    "MKD sub/newdir",
    "RMD emptydir",
    "XRMD emptydir",
    "SITE CHMOD 777 existing.txt",
    "SITE CHMOD 000 sub",
    "MFMT 20200101000000 existing.txt",
]
UPLOAD_COMMANDS = ["STOR new.txt", "STOR existing.txt", "APPE existing.txt", "STOU", "STOU x"]


@pytest.fixture(params=["read_only", "anonymous"])
def reader(
    request: pytest.FixtureRequest, servers: list[ServerProcess], tmp_path: Path
) -> tuple[ServerProcess, str, str]:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "emptydir").mkdir()
    (root / "existing.txt").write_bytes(b"original\n")
    (root / "sub" / "inner.txt").write_bytes(b"inner\n")
    old = time.time() - 86400
    for path in (root / "existing.txt", root / "sub" / "inner.txt"):
        os.utime(path, (old, old))
    if request.param == "anonymous":
        server = launch(servers, tmp_path, "--anonymous", "-v", user=None)
        return server, "anonymous", "guest@example.com"
    config = write_config(tmp_path, user_table("reader", "reader-pass", read_only=True))
    server = launch(servers, tmp_path, "--config", str(config), "-v", user=None)
    return server, "reader", "reader-pass"


def test_read_only_account_cannot_write(reader: tuple[ServerProcess, str, str]) -> None:
    server, user, password = reader
    before = tree_state(server.root)
    with RawClient(server.host, server.port) as client:
        client.login(user, password)
        for line in WRITE_COMMANDS:
            code, text = client.command(line)
            assert code == 550, (line, code, text)
        for line in UPLOAD_COMMANDS:
            code, text = client.command("EPSV")
            assert code == 229, text
            port = int(text.split("|")[-2])
            with socket.create_connection((server.host, port), timeout=10) as data:
                code, text = client.command(line)
                if code == 150:  # wrong, but finish the transfer to see what happens
                    data.sendall(b"overwritten\n")
                    data.close()
                    client.read_reply()
            assert code == 550, (line, code, text)
        # Reading is still allowed.
        assert client.command("SIZE existing.txt")[0] == 213
        assert client.command("CWD sub")[0] == 250
        assert client.command("NOOP")[0] == 200
    assert tree_state(server.root) == before, log_tail(server)
    ftp = ftplib.FTP(timeout=20)
    try:
        ftp.connect(server.host, server.port)
        ftp.login(user, password)
        chunks: list[bytes] = []
        ftp.retrbinary("RETR existing.txt", chunks.append)
        assert b"".join(chunks) == b"original\n"
        assert sorted(ftp.nlst()) == ["emptydir", "existing.txt", "sub"]
    finally:
        ftp.quit()


def test_anonymous_is_refused_without_flag(servers: list[ServerProcess], tmp_path: Path) -> None:
    server = launch(servers, tmp_path)
    with RawClient(server.host, server.port) as client:
        assert client.command("USER anonymous")[0] == 331
        assert client.command("PASS guest@example.com")[0] == 530
        client.login(USER, PASSWORD)
