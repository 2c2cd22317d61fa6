"""Helpers shared by the security tests: config files, TLS clients, raw sockets.

Every test here runs against a real ``ftpferry serve`` process started by
:func:`tests.conftest.start_server`; these helpers only build what such a
test needs around it (a TOML config with hashed passwords, ftplib clients
that speak implicit FTPS or resume the TLS session on data connections, a
raw control connection that can be upgraded to TLS).
"""

from __future__ import annotations

import contextlib
import ftplib
import functools
import io
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from tests.conftest import PASSWORD, USER, RawClient, ServerProcess, ftpferry_command

IMPLICIT_PORT = re.compile(r"implicit TLS on port (\d+)")
AUDIT_BANNED = re.compile(r"ftpferry\.audit: banned (\S+)")


@functools.cache
def hash_password(password: str) -> str:
    """An argon2 hash made by the real ``ftpferry hash-password`` command."""
    result = subprocess.run(
        [*ftpferry_command(), "hash-password", "--password", password],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def toml_string(text: str) -> str:
    """A TOML basic string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def user_table(name: str, password: str, **extra: bool | str) -> str:
    """One ``[[users]]`` table with an argon2 password hash."""
    lines = ["[[users]]", f"name = {toml_string(name)}"]
    lines.append(f"password_hash = {toml_string(hash_password(password))}")
    for key, value in extra.items():
        shown = ("true" if value else "false") if isinstance(value, bool) else toml_string(value)
        lines.append(f"{key} = {shown}")
    return "\n".join(lines) + "\n"


def write_config(directory: Path, text: str, name: str = "ftpferry.toml") -> Path:
    """Write a TOML config file next to the root and return its path."""
    path = directory / name
    path.write_text(text)
    return path


def insecure_context() -> ssl.SSLContext:
    """A client context that accepts any certificate (for self-signed servers)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def implicit_port(server: ServerProcess) -> int:
    """The implicit FTPS port from the server's banner."""
    match = IMPLICIT_PORT.search(server.log())
    assert match, f"no implicit TLS port in banner:\n{server.log()}"
    return int(match.group(1))


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session.

    This is what vsftpd's ``require_ssl_reuse`` (and ftpferry's
    ``--tls-require-session-reuse``) demand; stock ftplib does not do it.
    """

    def ntransfercmd(
        self, cmd: str, rest: int | str | None = None
    ) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            assert isinstance(self.sock, ssl.SSLSocket)
            conn = self.context.wrap_socket(
                conn, server_hostname=self.host, session=self.sock.session
            )
        return conn, size


class ImplicitFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS for implicit FTPS: TLS from the first byte, no AUTH command."""

    def connect(
        self,
        host: str = "",
        port: int = 0,
        timeout: float = -999,
        source_address: tuple[str, int] | None = None,
    ) -> str:
        if host:
            self.host = host
        if port > 0:
            self.port = port
        if timeout != -999:
            self.timeout = timeout
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self.context.wrap_socket(raw, server_hostname=self.host)
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def tls_login(
    server: ServerProcess,
    *,
    context: ssl.SSLContext | None = None,
    cls: type[ftplib.FTP_TLS] = ftplib.FTP_TLS,
    port: int | None = None,
    user: str = USER,
    password: str = PASSWORD,
    passive: bool = True,
    protect: bool = True,
    timeout: float = 20,
) -> ftplib.FTP_TLS:
    """An FTPS (ftplib) session, logged in, with PROT P unless ``protect`` is False."""
    ftp = cls(context=context or insecure_context(), timeout=timeout)
    ftp.encoding = "utf-8"
    ftp.connect(server.host, port or server.port, timeout=timeout)
    ftp.login(user, password)
    if protect:
        ftp.prot_p()
    ftp.set_pasv(passive)
    return ftp


def upload(ftp: ftplib.FTP, name: str, payload: bytes) -> None:
    """STOR ``payload`` as ``name``."""
    ftp.storbinary(f"STOR {name}", io.BytesIO(payload))


def download(ftp: ftplib.FTP, name: str) -> bytes:
    """RETR ``name``."""
    chunks: list[bytes] = []
    ftp.retrbinary(f"RETR {name}", chunks.append)
    return b"".join(chunks)


def listing(ftp: ftplib.FTP, arg: str = "") -> list[str]:
    """LIST lines."""
    lines: list[str] = []
    ftp.retrlines(f"LIST {arg}".rstrip(), lines.append)
    return lines


FtpT = TypeVar("FtpT", bound=ftplib.FTP)


@contextlib.contextmanager
def closing_ftp(ftp: FtpT) -> Iterator[FtpT]:
    """Close an ftplib session however the test ends (QUIT when possible)."""
    try:
        yield ftp
    finally:
        try:
            ftp.quit()
        except (OSError, EOFError, ftplib.Error):
            ftp.close()


class TlsRawClient(RawClient):
    """A raw control connection that can be upgraded with AUTH TLS."""

    def __enter__(self) -> TlsRawClient:
        return self

    def starttls(self, context: ssl.SSLContext | None = None, mechanism: str = "TLS") -> None:
        """Send AUTH, expect 234, and wrap the socket."""
        code, text = self.command(f"AUTH {mechanism}")
        assert code == 234, text
        assert not self.buffer, "bytes after 234 before the handshake"
        host = self.sock.getpeername()[0]
        self.sock = (context or insecure_context()).wrap_socket(self.sock, server_hostname=host)


def read_until_closed(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the peer sends until it closes (bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"peer did not close within {timeout}s; got {data!r}")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            return data
        if not chunk:
            return data
        data += chunk


def greeting_of(server: ServerProcess, timeout: float = 10.0) -> tuple[int, str]:
    """Connect, read the first reply, close."""
    with RawClient(server.host, server.port, timeout=timeout) as client:
        return client.greeting


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def can_log_in(server: ServerProcess, user: str = USER, password: str = PASSWORD) -> bool:
    """True when a fresh plain client gets 220, logs in and gets 200 for NOOP."""
    try:
        with RawClient(server.host, server.port, timeout=10) as client:
            if client.greeting[0] != 220:
                return False
            if client.command(f"USER {user}")[0] != 331:
                return False
            if client.command(f"PASS {password}")[0] != 230:
                return False
            return client.command("NOOP")[0] == 200
    except (OSError, ConnectionError, ValueError):
        return False


def log_tail(server: ServerProcess, lines: int = 60) -> str:
    """The end of the server log, for assertion messages."""
    return "\n".join(server.log().splitlines()[-lines:])
