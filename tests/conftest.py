"""Shared fixtures: a real ``ftpferry serve`` process on loopback.

Integration tests never import the server in-process: they start the
installed command line exactly as a user would, read the port from its
banner, and talk to it over real sockets with real clients.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BANNER_URL = re.compile(r"on ftp://(?P<host>\[[^\]]+\]|[^:/]+):(?P<port>\d+)/")
USER = "alice"
PASSWORD = "s3cret pass"  # a space on purpose: clients must quote it properly


def ftpferry_command() -> list[str]:
    """The installed entry point next to this interpreter, else ``python -m``."""
    candidate = Path(sys.executable).with_name("ftpferry")
    if candidate.exists():
        return [str(candidate)]
    return [sys.executable, "-m", "ftpferry"]


def free_passive_range(size: int = 40) -> str:
    """A random passive range unlikely to collide with other test servers."""
    low = random.randrange(40000, 60000 - size)
    return f"{low}-{low + size - 1}"


@dataclass
class ServerProcess:
    """A running ``ftpferry serve``; stop() ends it and returns its log."""

    process: subprocess.Popen[str]
    host: str
    port: int
    root: Path
    log_path: Path
    user: str = USER
    password: str = PASSWORD
    args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """ftp://host:port without credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ftp://{host}:{self.port}"

    def log(self) -> str:
        """Everything the server wrote so far."""
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None

    def stop(self) -> int:
        """SIGTERM, wait, and return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode


def start_server(
    tmp_path: Path,
    *extra: str,
    host: str = "127.0.0.1",
    user: str | None = USER,
    password: str = PASSWORD,
    root: Path | None = None,
    env: dict[str, str] | None = None,
    wait: bool = True,
) -> ServerProcess:
    """Start ``ftpferry serve`` on a free port and wait for its banner."""
    root = root or tmp_path / "root"
    root.mkdir(parents=True, exist_ok=True)
    log_path = tmp_path / f"server-{random.randrange(1 << 30)}.log"
    args = [*ftpferry_command(), "serve", "--host", host, "--port", "0", "--root", str(root)]
    if "--passive-ports" not in extra:
        args += ["--passive-ports", free_passive_range()]
    if user is not None:
        args += ["--user", f"{user}:{password}"]
    args += list(extra)
    log_file = log_path.open("w")
    process = subprocess.Popen(
        args,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    server = ServerProcess(process, host, 0, root, log_path, user or "", password, args)
    if not wait:
        return server
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        match = BANNER_URL.search(server.log())
        if match:
            server.port = int(match.group("port"))
            return server
        if process.poll() is not None:
            raise RuntimeError(f"ftpferry serve exited {process.returncode}:\n{server.log()}")
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"ftpferry serve printed no banner within 15 s:\n{server.log()}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh server with user alice, serving ``tmp_path/root``."""
    proc = start_server(tmp_path)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for a whole test module (faster when tests do not interfere)."""
    proc = start_server(tmp_path_factory.mktemp("shared"))
    yield proc
    proc.stop()


def have(tool: str) -> bool:
    """True when a command-line tool is installed."""
    return shutil.which(tool) is not None


def ipv6_loopback_available() -> bool:
    """True when ::1 can be bound."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


class RawClient:
    """A bare control connection for tests that must see every reply byte."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buffer = b""
        self.greeting = self.read_reply()

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are."""
        self.sock.sendall(data)

    def read_line(self) -> bytes:
        """One CRLF-terminated line."""
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; buffered {self.buffer!r}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def read_reply(self) -> tuple[int, str]:
        """A whole (possibly multi-line) reply: (code, text with lines joined by \\n)."""
        first = self.read_line().decode("utf-8", "replace")
        code = int(first[:3])
        lines = [first[4:]]
        if first[3:4] == "-":
            while True:
                line = self.read_line().decode("utf-8", "replace")
                if line[:3] == first[:3] and line[3:4] == " ":
                    lines.append(line[4:])
                    break
                lines.append(line)
        return code, "\n".join(lines)

    def command(self, line: str) -> tuple[int, str]:
        """Send one command line and read its reply."""
        self.send_raw(line.encode("utf-8", "surrogateescape") + b"\r\n")
        return self.read_reply()

    def login(self, user: str = USER, password: str = PASSWORD) -> None:
        """USER and PASS; asserts success."""
        assert self.command(f"USER {user}")[0] == 331
        code, text = self.command(f"PASS {password}")
        assert code == 230, text

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def raw(server: ServerProcess) -> Iterator[RawClient]:
    """A raw, not yet logged-in control connection to a fresh server."""
    with RawClient(server.host, server.port) as client:
        yield client


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (for time-out tests)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for sock in accepted:
        sock.close()
    listener.close()
