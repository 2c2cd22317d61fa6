"""The FTP servers the benchmark compares, one class each.

Every server is started by the harness as a foreground child process on a
loopback port, with its own temporary config file, its own root directory
and a test user; nothing here touches a system-wide instance.  ``start``
raises :class:`ServerError` with a one-line reason when a server cannot run,
so the caller can record "failed: reason" and go on with the next one.

vsftpd, proftpd and pure-ftpd log in real system users, so they need root
(to create the ``ftpbench`` account and to switch to it per session).
Debian lets only one of the three be installed through apt at a time (each
provides and conflicts with ``ftp-server``), so ``bench/install-servers.sh``
apt-installs vsftpd and unpacks the other two into ``bench/.cache/root``;
:func:`find_binary` looks on the PATH first, then there.
"""

from __future__ import annotations

import abc
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar, TextIO

__all__ = [
    "ALL_SERVERS",
    "BENCH_USER",
    "FtpServer",
    "ServerError",
    "find_binary",
    "process_tree",
]

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
VENV_BIN = REPO_DIR / ".venv" / "bin"
CACHE_ROOT = BENCH_DIR / ".cache" / "root"

BENCH_USER = "ftpbench"
START_TIMEOUT = 15.0


class ServerError(RuntimeError):
    """A server that cannot be started here; the message is the reason."""


def find_binary(name: str) -> Path | None:
    """``name`` on the PATH, in /usr/sbin, or unpacked in bench/.cache/root."""
    found = shutil.which(name)
    if found:
        return Path(found)
    for directory in (Path("/usr/sbin"), CACHE_ROOT / "usr" / "sbin", CACHE_ROOT / "usr" / "bin"):
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: split after the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    result: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        if Path(f"/proc/{current}").exists():
            result.append(current)
            stack.extend(children.get(current, []))
    return result


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on (or holds) ``host:port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers do: TIME_WAIT left by an earlier server does not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def pick_ports(start: int, count: int) -> int:
    """The first port at or after ``start`` such that ``count`` ports in a row are free."""
    port = start
    while port + count < 32768:  # stay below Linux's ephemeral range
        if all(port_is_free(p) for p in range(port, port + count)):
            return port
        port += count
    raise ServerError(f"no {count} free loopback ports from {start}")


def wait_for_banner(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float) -> str:
    """Wait until the server answers with a 220 greeting; return that line."""
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"exited with status {proc.returncode} during start-up")
        try:
            with socket.create_connection((host, port), timeout=2.0) as sock:
                sock.settimeout(5.0)
                data = b""
                while b"\n" not in data:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                line = data.decode("latin-1").splitlines()[0] if data else ""
                if line.startswith("220"):
                    with contextlib.suppress(OSError):
                        sock.sendall(b"QUIT\r\n")
                    return line
                last_error = f"greeting {line!r}"
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.1)
    raise ServerError(f"no 220 greeting on port {port} within {timeout:.0f}s ({last_error})")


def ensure_bench_user(password: str) -> None:
    """Create (or reset the password of) the system user the daemons log in."""
    if os.geteuid() != 0:
        raise ServerError("needs root to create the system user it logs in (skipped)")
    try:
        pwd.getpwnam(BENCH_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/bin/sh",
                BENCH_USER,
            ],
            check=True,
            capture_output=True,
        )
    subprocess.run(
        ["chpasswd"], input=f"{BENCH_USER}:{password}\n".encode(), check=True, capture_output=True
    )


def set_bench_home(home: Path) -> None:
    """Point the bench user's home at ``home`` (pure-ftpd serves the home)."""
    subprocess.run(["usermod", "--home", str(home), BENCH_USER], check=True, capture_output=True)


def chown_to_bench_user(path: Path) -> None:
    """Make ``path`` (a server root) owned by the bench user, so uploads work."""
    entry = pwd.getpwnam(BENCH_USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)


class FtpServer(abc.ABC):
    """One server under test: ``start``, then ``url``/``pid``/``pids``, then ``stop``."""

    name: ClassVar[str]
    #: How memory per session is measured: one process, or the sum over the process tree.
    multi_process: ClassVar[bool] = False
    #: Needs the ``ftpbench`` system user (and so root).
    system_user: ClassVar[bool] = False
    #: Size of the passive port range.
    passive_count: ClassVar[int] = 1000

    def __init__(self, workdir: Path, root: Path, user: str, password: str, port_base: int) -> None:
        self.workdir = workdir
        self.root = root
        self.user = user
        self.password = password
        self.host = "127.0.0.1"
        self.port = pick_ports(port_base, 1)
        self.passive_low = pick_ports(port_base + 100, self.passive_count)
        self.passive_high = self.passive_low + self.passive_count - 1
        self.proc: subprocess.Popen[bytes] | None = None
        self.version = "?"
        self.notes: list[str] = []
        self._log: TextIO | None = None

    # -- what subclasses provide ------------------------------------------------------

    @abc.abstractmethod
    def command(self) -> list[str]:
        """The foreground command line (config files are written here)."""

    def detect_version(self) -> str:
        """A short version string for the results header."""
        return "?"

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Anything to do before the command runs (users, directories)."""

    # -- life cycle ---------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def url(self) -> str:
        """ftp:// URL of the root directory, with credentials."""
        return f"ftp://{self.user}:{self.password}@{self.host}:{self.port}/"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ServerError("not started")
        return self.proc.pid

    def pids(self) -> list[int]:
        """The server's process and every process it forked (sessions)."""
        return process_tree(self.pid)

    def start(self) -> None:
        """Start in the foreground (as our child) and wait for its 220 greeting."""
        self.prepare()
        argv = self.command()
        self.version = self.detect_version()
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            start_new_session=True,  # its own process group, so stop() reaches every child
        )
        try:
            wait_for_banner(self.host, self.port, self.proc, START_TIMEOUT)
        except ServerError as exc:
            self.stop()
            tail = self.log_tail()
            raise ServerError(f"{exc}{'; log: ' + tail if tail else ''}") from None

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])[:300]

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL what is left."""
        proc, self.proc = self.proc, None
        if proc is not None:
            pgid = proc.pid
            tree = process_tree(proc.pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
                proc.wait(timeout=10)
            # Session processes that left the group (setsid) but outlived the master.
            for pid in tree:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


class Ftpferry(FtpServer):
    """This project: one asyncio process."""

    name = "ftpferry"

    def command(self) -> list[str]:
        config = self.workdir / "ftpferry.toml"
        # The per-IP defaults (256 sessions, 1000 logins a minute) would refuse the
        # memory test's 1000 sessions and the crowd that follows, all from 127.0.0.1;
        # the other servers here have no such limits either.
        config.write_text(
            "[limits]\n"
            "max_connections = 20000\n"
            "max_connections_per_ip = 20000\n"
            "idle_timeout = 900.0\n"
            "data_timeout = 60.0\n"
            "\n"
            "[defender]\n"
            "logins_per_minute = 100000\n"
        )
        exe = VENV_BIN / "ftpferry"
        if not exe.exists():
            raise ServerError(f"{exe} missing (run `make serve` or `pip install -e .` first)")
        return [
            str(exe),
            "serve",
            "--config",
            str(config),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--root",
            str(self.root),
            "--user",
            f"{self.user}:{self.password}",
            "--passive-ports",
            f"{self.passive_low}-{self.passive_high}",
        ]

    def detect_version(self) -> str:
        out = subprocess.run(
            [str(VENV_BIN / "ftpferry"), "--version"], capture_output=True, text=True, check=False
        )
        return out.stdout.strip().split()[-1] if out.stdout.strip() else "?"


PYFTPDLIB_SCRIPT = """
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
host, port, root, user, password, low, high = sys.argv[1:8]
authorizer = DummyAuthorizer()
authorizer.add_user(user, password, root, perm="elradfmwMT")
handler = FTPHandler
handler.authorizer = authorizer
handler.passive_ports = range(int(low), int(high) + 1)
handler.timeout = 900
server = FTPServer((host, int(port)), handler)
server.max_cons = 20000
server.max_cons_per_ip = 0
server.serve_forever()
"""


class Pyftpdlib(FtpServer):
    """pyftpdlib's default async server (one process, epoll), via a tiny script."""

    name = "pyftpdlib"

    def command(self) -> list[str]:
        script = self.workdir / "pyftpdlib_server.py"
        script.write_text(PYFTPDLIB_SCRIPT)
        # max_cons defaults to 512, which would cap the memory test; raise it.
        return [
            sys.executable,
            str(script),
            self.host,
            str(self.port),
            str(self.root),
            self.user,
            self.password,
            str(self.passive_low),
            str(self.passive_high),
        ]

    def detect_version(self) -> str:
        out = subprocess.run(
            [sys.executable, "-c", "import pyftpdlib; print(pyftpdlib.__ver__)"],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip() or "?"


def _deb_version(package: str, binary: Path) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False
    )
    if out.returncode == 0 and out.stdout.strip():
        return out.stdout.strip()
    stamp = CACHE_ROOT.parent / f"{package}.version"
    if binary.is_relative_to(CACHE_ROOT) and stamp.exists():
        return stamp.read_text().strip()
    return "?"


class _SystemDaemon(FtpServer):
    """A C daemon that forks per session and logs in the ``ftpbench`` system user."""

    multi_process = True
    system_user = True
    binary_name: ClassVar[str]
    package: ClassVar[str]

    def __init__(self, workdir: Path, root: Path, user: str, password: str, port_base: int) -> None:
        super().__init__(workdir, root, BENCH_USER, password, port_base)
        del user  # these daemons log in the system user

    def binary(self) -> Path:
        found = find_binary(self.binary_name)
        if found is None:
            raise ServerError(f"{self.binary_name} not installed (run bench/install-servers.sh)")
        return found

    def prepare(self) -> None:
        if os.geteuid() != 0:
            raise ServerError("needs root for a system user login (skipped)")
        ensure_bench_user(self.password)
        chown_to_bench_user(self.root)
        set_bench_home(self.root)

    def detect_version(self) -> str:
        return _deb_version(self.package, self.binary())


class Vsftpd(_SystemDaemon):
    name = "vsftpd"
    binary_name = "vsftpd"
    package = "vsftpd"

    def command(self) -> list[str]:
        binary = self.binary()
        empty = Path("/var/run/vsftpd/empty")
        empty.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "vsftpd.conf"
        config.write_text(
            "\n".join(
                [
                    "listen=YES",
                    "listen_ipv6=NO",
                    "background=NO",
                    f"listen_address={self.host}",
                    f"listen_port={self.port}",
                    "pasv_enable=YES",
                    f"pasv_min_port={self.passive_low}",
                    f"pasv_max_port={self.passive_high}",
                    "anonymous_enable=NO",
                    "local_enable=YES",
                    "write_enable=YES",
                    "local_umask=022",
                    f"local_root={self.root}",
                    "chroot_local_user=YES",
                    "allow_writeable_chroot=YES",
                    "seccomp_sandbox=NO",
                    # A fresh network namespace per connection costs the kernel far more
                    # than the FTP work measured here, and fails in some containers.
                    "isolate_network=NO",
                    "pam_service_name=vsftpd",
                    "userlist_enable=NO",
                    f"secure_chroot_dir={empty}",
                    "max_clients=0",
                    "max_per_ip=0",
                    "idle_session_timeout=900",
                    "data_connection_timeout=120",
                    "xferlog_enable=NO",
                    "dirmessage_enable=NO",
                    "use_localtime=YES",
                    "",
                ]
            )
        )
        self.notes.append("isolate_network=NO")
        return [str(binary), str(config)]


class Proftpd(_SystemDaemon):
    name = "proftpd"
    binary_name = "proftpd"
    package = "proftpd-core"

    def command(self) -> list[str]:
        binary = self.binary()
        config = self.workdir / "proftpd.conf"
        run = self.workdir / "proftpd-run"
        run.mkdir(exist_ok=True)
        config.write_text(
            "\n".join(
                [
                    'ServerName "ftpbench"',
                    "ServerType standalone",
                    "DefaultServer on",
                    f"DefaultAddress {self.host}",
                    "SocketBindTight on",
                    "UseIPv6 off",
                    f"Port {self.port}",
                    f"PassivePorts {self.passive_low} {self.passive_high}",
                    "User nobody",
                    "Group nogroup",
                    "Umask 022",
                    f"DefaultRoot {self.root}",
                    "RequireValidShell off",
                    "AuthPAM off",
                    "AuthOrder mod_auth_unix.c",
                    "UseReverseDNS off",
                    "UseLastlog off",
                    "WtmpLog off",
                    "MaxInstances 20000",
                    "MaxLoginAttempts 10",
                    "TimeoutIdle 900",
                    "TimeoutNoTransfer 900",
                    "TimeoutStalled 120",
                    "AllowOverwrite on",
                    "UseSendfile on",
                    # mod_delay pads USER/PASS replies on purpose (anti timing attack):
                    # off, so the concurrency test measures work, not deliberate sleeps.
                    "DelayEngine off",
                    f"DelayTable {run / 'proftpd.delay'}",
                    f"ScoreboardFile {run / 'proftpd.scoreboard'}",
                    f"PidFile {run / 'proftpd.pid'}",
                    f"SystemLog {self.workdir / 'proftpd-system.log'}",
                    "TransferLog none",
                    "ControlsEngine off",
                    "<Limit LOGIN>",
                    f"  AllowUser {BENCH_USER}",
                    "</Limit>",
                    "",
                ]
            )
        )
        self.notes.append("DelayEngine off")
        return [str(binary), "--nodaemon", "--config", str(config)]


class PureFtpd(_SystemDaemon):
    name = "pure-ftpd"
    binary_name = "pure-ftpd"
    package = "pure-ftpd"
    # pure-ftpd caps its client count at half the passive range (man pure-ftpd, -c).
    passive_count = 2500

    def command(self) -> list[str]:
        uid = pwd.getpwnam(BENCH_USER).pw_uid
        return [
            str(self.binary()),
            "--bind",
            f"{self.host},{self.port}",
            "--passiveportrange",
            f"{self.passive_low}:{self.passive_high}",
            "--noanonymous",
            "--login",
            "unix",
            "--chrooteveryone",
            "--maxclientsnumber",
            "20000",
            "--maxclientsperip",
            "20000",
            "--maxidletime",
            "15",
            "--dontresolve",
            "--minuid",
            str(min(uid, 1000)),
            "--pidfile",
            str(self.workdir / "pure-ftpd.pid"),
        ]


ALL_SERVERS: tuple[type[FtpServer], ...] = (Ftpferry, Pyftpdlib, Vsftpd, Proftpd, PureFtpd)
