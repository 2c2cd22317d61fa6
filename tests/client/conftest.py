"""Servers for the client tests: ftpferry, pyftpdlib and (when possible) vsftpd.

Each runs as a real process on 127.0.0.1 with a fresh root directory.
:class:`Remote` hides the differences the tests need to know about: the
URL, where the served files live on disk, what the server supports, and
(for vsftpd, which serves a system user) who must own the files a test
puts there.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from ftpferry.client import FTPClient, forget_modes
from tests.conftest import PASSWORD, USER, ServerProcess, start_server

HERE = Path(__file__).resolve().parent
VSFTPD_USER = "ffclienttest"
VSFTPD_PASSWORD = "vs pass:1@x"  # a space, a colon and an @: the URL must quote them
SERVER_NAMES = ("ftpferry", "pyftpdlib", "vsftpd")


@dataclass
class Remote:
    """A running server under test, and what the tests need to know about it."""

    name: str
    port: int
    root: Path
    user: str
    password: str
    host: str = "127.0.0.1"
    capabilities: frozenset[str] = frozenset()
    owner: tuple[int, int] | None = None  # uid/gid that must own files put in root
    process: subprocess.Popen[str] | None = None
    ftpferry: ServerProcess | None = None
    log_path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def url(self, scheme: str = "ftp", path: str = "") -> str:
        """``scheme://user:password@host:port/path`` with user and password quoted."""
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"{scheme}://{credentials}@{self.host}:{self.port}/{path}"

    def put(self, relative: str, data: bytes) -> Path:
        """Create a file (and its directories) in the served root."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.chown()
        return path

    def mkdir(self, relative: str) -> Path:
        """Create a directory in the served root."""
        path = self.root / relative
        path.mkdir(parents=True, exist_ok=True)
        self.chown()
        return path

    def chown(self) -> None:
        """Give everything under root to the served user (vsftpd only)."""
        if self.owner is None:
            return
        uid, gid = self.owner
        for dirpath, dirnames, filenames in os.walk(self.root):
            os.chown(dirpath, uid, gid)
            for name in dirnames + filenames:
                os.lchown(os.path.join(dirpath, name), uid, gid)

    def supports(self, capability: str) -> bool:
        """True when the server has ``capability`` (mlst, mfmt, ascii, hash ...)."""
        return capability in self.capabilities

    def log(self) -> str:
        """What the server logged, for assertion messages."""
        if self.ftpferry is not None:
            return self.ftpferry.log()
        if self.log_path is not None and self.log_path.exists():
            return self.log_path.read_text(errors="replace")
        return ""

    def stop(self) -> None:
        """End the server process."""
        if self.ftpferry is not None:
            self.ftpferry.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


# -- ftpferry ---------------------------------------------------------------------------------


def start_ftpferry(tmp_path: Path, *extra: str) -> Remote:
    """``ftpferry serve`` with user alice."""
    server = start_server(tmp_path, *extra)
    return Remote(
        name="ftpferry",
        port=server.port,
        root=server.root,
        user=USER,
        password=PASSWORD,
        capabilities=frozenset({"mlst", "mfmt", "ascii", "epsv", "eprt"}),
        ftpferry=server,
    )


# -- pyftpdlib --------------------------------------------------------------------------------


def start_pyftpdlib(tmp_path: Path, *extra: str) -> Remote:
    """``tests/client/pyftpd_server.py`` with user alice (see its options)."""
    root = tmp_path / "pyftpd-root"
    root.mkdir(exist_ok=True)
    log_path = tmp_path / f"pyftpd-{random.randrange(1 << 30)}.log"
    low = random.randrange(40000, 59000)
    args = [
        sys.executable,
        str(HERE / "pyftpd_server.py"),
        "--root",
        str(root),
        "--user",
        USER,
        "--password",
        PASSWORD,
        "--passive-ports",
        f"{low}-{low + 49}",
        *extra,
    ]
    with log_path.open("w") as log_file:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log_file, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        raise RuntimeError(f"pyftpdlib did not start: {line!r}\n{log_path.read_text()}")
    capabilities = {"ascii", "mlst", "mfmt", "epsv", "eprt"}
    for flag, capability in (
        ("--no-mlst", "mlst"),
        ("--no-mfmt", "mfmt"),
        ("--no-epsv", "epsv"),
        ("--no-eprt", "eprt"),
    ):
        if flag in extra:
            capabilities.discard(capability)
    if "--hash" in extra:
        capabilities.add("hash")
    return Remote(
        name="pyftpdlib",
        port=int(line.split()[1]),
        root=root,
        user=USER,
        password=PASSWORD,
        capabilities=frozenset(capabilities),
        process=process,
        log_path=log_path,
    )


# -- vsftpd -----------------------------------------------------------------------------------


def start_hostile_pyftpdlib(
    tmp_path: Path, injected: dict[str, dict[str, list[str]]], *extra: str
) -> Remote:
    """pyftpdlib whose listings end with the ``injected`` lines (``--inject-listing``):
    ``{"dir": {"LIST": [lines], "MLSD": [lines]}}``, ``dir`` relative to the root."""
    path = tmp_path / "inject.json"
    path.write_text(json.dumps(injected))
    return start_pyftpdlib(tmp_path, "--inject-listing", str(path), *extra)


def _vsftpd_binary() -> str | None:
    return shutil.which("vsftpd") or next(
        (path for path in ("/usr/sbin/vsftpd",) if os.access(path, os.X_OK)), None
    )


def vsftpd_unavailable() -> str | None:
    """Why vsftpd tests cannot run here, or None when they can."""
    if _vsftpd_binary() is None:
        return "vsftpd is not installed"
    if os.geteuid() != 0:
        return "vsftpd serves system users: creating one needs root"
    if shutil.which("useradd") is None or shutil.which("chpasswd") is None:
        return "useradd/chpasswd missing"
    return None


_created_users: list[str] = []


def ensure_vsftpd_user() -> tuple[int, int]:
    """Create the test user (once) with a known password; returns (uid, gid)."""
    try:
        entry = pwd.getpwnam(VSFTPD_USER)
    except KeyError:
        _created_users.append(VSFTPD_USER)
        subprocess.run(
            # vsftpd changes into the home directory before local_root: it must exist.
            ["useradd", "--no-create-home", "--home-dir", "/", "-s", "/bin/bash", VSFTPD_USER],
            check=True,
        )
        entry = pwd.getpwnam(VSFTPD_USER)
    subprocess.run(["chpasswd"], input=f"{VSFTPD_USER}:{VSFTPD_PASSWORD}\n", text=True, check=True)
    return entry.pw_uid, entry.pw_gid


def _wait_for_port(port: int, process: subprocess.Popen[str], log_path: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"vsftpd exited {process.returncode}: {log_path.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError("vsftpd did not listen within 10 s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_vsftpd(tmp_path: Path, *, tls: tuple[Path, Path] | None = None) -> Remote:
    """vsftpd in the foreground on a free loopback port, serving the test user."""
    binary = _vsftpd_binary()
    assert binary is not None
    uid, gid = ensure_vsftpd_user()
    root = tmp_path / "vsftpd-root"
    root.mkdir(exist_ok=True)
    os.chown(root, uid, gid)
    for parent in root.parents:  # the user must be able to reach its root
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)
    empty = tmp_path / "vsftpd-empty"
    empty.mkdir(exist_ok=True)
    port = _free_port()
    low = random.randrange(40000, 59000)
    lines = [
        "listen=YES",
        "listen_ipv6=NO",
        "background=NO",
        "listen_address=127.0.0.1",
        f"listen_port={port}",
        "anonymous_enable=NO",
        "local_enable=YES",
        "write_enable=YES",
        "local_umask=022",
        f"local_root={root}",
        "chroot_local_user=YES",
        "allow_writeable_chroot=YES",
        "seccomp_sandbox=NO",
        "isolate_network=NO",
        "pam_service_name=vsftpd",
        "userlist_enable=NO",
        f"secure_chroot_dir={empty}",
        "pasv_enable=YES",
        f"pasv_min_port={low}",
        f"pasv_max_port={low + 49}",
        "port_enable=YES",
        "connect_from_port_20=NO",
        "ascii_upload_enable=YES",
        "ascii_download_enable=YES",
        "use_localtime=NO",
        "xferlog_enable=NO",
        "dirmessage_enable=NO",
        "max_per_ip=0",
        "utf8_filesystem=YES",
    ]
    if tls is not None:
        cert, key = tls
        lines += [
            "ssl_enable=YES",
            f"rsa_cert_file={cert}",
            f"rsa_private_key_file={key}",
            "force_local_logins_ssl=YES",
            "force_local_data_ssl=YES",
            "require_ssl_reuse=YES",
            "ssl_ciphers=HIGH",
        ]
    config = tmp_path / f"vsftpd-{port}.conf"
    config.write_text("\n".join(lines) + "\n")
    log_path = tmp_path / f"vsftpd-{port}.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [binary, str(config)], stdout=log_file, stderr=subprocess.STDOUT, text=True
        )
    _wait_for_port(port, process, log_path)
    return Remote(
        name="vsftpd",
        port=port,
        root=root,
        user=VSFTPD_USER,
        password=VSFTPD_PASSWORD,
        capabilities=frozenset({"ascii", "epsv", "eprt"}),
        owner=(uid, gid),
        process=process,
        log_path=log_path,
    )


# -- fixtures ---------------------------------------------------------------------------------


def start_named(name: str, tmp_path: Path) -> Remote:
    """Start the server called ``name``; skips the test when it cannot run here."""
    if name == "ftpferry":
        return start_ftpferry(tmp_path)
    if name == "pyftpdlib":
        return start_pyftpdlib(tmp_path)
    reason = vsftpd_unavailable()
    if reason is not None:
        pytest.skip(reason)
    return start_vsftpd(tmp_path)


@pytest.fixture(scope="session", autouse=True)
def _remove_created_users() -> Iterator[None]:
    """Delete the system user the vsftpd tests created, when the session ends."""
    yield
    for name in _created_users:
        subprocess.run(["userdel", name], check=False, capture_output=True)


@pytest.fixture(autouse=True)
def _fresh_mode_memory() -> Iterator[None]:
    """Each test starts with no remembered data-channel modes."""
    forget_modes()
    yield
    forget_modes()


MODES = ("passive", "active")


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """passive, then active."""
    return str(request.param)


def client_for(remote: Remote, mode: str, **options: float) -> FTPClient:
    """A blocking client for ``remote`` in ``mode`` (not yet connected)."""
    return FTPClient.from_url(remote.url(), mode=mode, **options)  # type: ignore[arg-type]


@pytest.fixture(params=SERVER_NAMES)
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Remote]:
    """Each of ftpferry, pyftpdlib and vsftpd in turn."""
    server = start_named(request.param, tmp_path)
    yield server
    server.stop()


@pytest.fixture
def ftpferry(tmp_path: Path) -> Iterator[Remote]:
    """Just ftpferry."""
    server = start_ftpferry(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def pyftpd(tmp_path: Path) -> Iterator[Remote]:
    """Just pyftpdlib, with the hash commands."""
    server = start_pyftpdlib(tmp_path, "--hash")
    yield server
    server.stop()
