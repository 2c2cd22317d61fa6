"""``--run-as``: bind as root, then serve as an unprivileged user.

The server is started as root on a privileged control port (1021..1099,
whichever is free together with the port below it), so active-mode data
connections must come from port ``control - 1``, which only works if the
process kept CAP_NET_BIND_SERVICE when it dropped root.  The served
directory lives outside pytest's private (mode 0700) temporary tree and
belongs to ``nobody``, because after the switch the server can reach
nothing else.
"""

from __future__ import annotations

import ftplib
import grp
import io
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, USER, RawClient, ServerProcess, ftpferry_command, start_server
from tests.security.support import can_log_in, log_tail

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to bind ports below 1024"),
]

CAP_NET_BIND_SERVICE = 10


def nobody() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' on this system")


def free_privileged_port() -> int:
    """A port in 1021..1099 that is free, with the port below it free as well."""
    for port in range(1021, 1100):
        try:
            for candidate in (port, port - 1):
                with socket.socket() as sock:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    pytest.skip("no free privileged port pair in 1020..1099")


def status_fields(pid: int) -> dict[str, str]:
    """/proc/<pid>/status as a dict."""
    fields: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A directory outside pytest's 0700 tree, owned by nobody."""
    entry = nobody()
    base = Path(tempfile.mkdtemp(prefix="ftpferry-runas-"))
    base.chmod(0o755)
    root = base / "root"
    root.mkdir()
    os.chown(root, entry.pw_uid, entry.pw_gid)
    try:
        yield root
    finally:
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class RunAsServer:
    server: ServerProcess
    port: int
    uid: int
    gid: int


@pytest.fixture
def run_as_server(tmp_path: Path, nobody_dir: Path) -> Iterator[RunAsServer]:
    entry = nobody()
    payload = b"served as nobody\n" * 1000
    target = nobody_dir / "file.bin"
    target.write_bytes(payload)
    port = free_privileged_port()
    server = start_server(
        tmp_path, "--port", str(port), "--run-as", "nobody", "-v", root=nobody_dir
    )
    try:
        assert server.port == port, server.log()
        yield RunAsServer(server, port, entry.pw_uid, entry.pw_gid)
    finally:
        server.stop()


def test_process_runs_as_nobody(run_as_server: RunAsServer) -> None:
    fields = status_fields(run_as_server.server.process.pid)
    uid = run_as_server.uid
    assert fields["Uid"].split() == [str(uid)] * 4, fields["Uid"]
    assert fields["Gid"].split() == [str(run_as_server.gid)] * 4, fields["Gid"]
    assert "0" not in fields["Groups"].split(), fields["Groups"]
    effective = int(fields["CapEff"], 16)
    permitted = int(fields["CapPrm"], 16)
    # Only CAP_NET_BIND_SERVICE survives (or nothing, if the kernel refused).
    assert effective & ~(1 << CAP_NET_BIND_SERVICE) == 0, fields["CapEff"]
    assert permitted & ~(1 << CAP_NET_BIND_SERVICE) == 0, fields["CapPrm"]
    assert effective == 1 << CAP_NET_BIND_SERVICE, (
        f"CAP_NET_BIND_SERVICE was not kept: {fields['CapEff']}\n{log_tail(run_as_server.server)}"
    )


def test_uploads_are_owned_by_nobody(run_as_server: RunAsServer) -> None:
    server = run_as_server.server
    ftp = ftplib.FTP(timeout=20)
    try:
        ftp.connect(server.host, server.port)
        ftp.login(USER, PASSWORD)
        ftp.storbinary("STOR uploaded.bin", io.BytesIO(b"x" * 5000))
        ftp.mkd("made")
        chunks: list[bytes] = []
        ftp.retrbinary("RETR file.bin", chunks.append)
        assert b"".join(chunks) == b"served as nobody\n" * 1000
    finally:
        ftp.quit()
    for name in ("uploaded.bin", "made"):
        info = (server.root / name).stat()
        assert (info.st_uid, info.st_gid) == (run_as_server.uid, run_as_server.gid), name


@pytest.mark.parametrize("verb", ["PORT", "EPRT"])
def test_active_data_connection_comes_from_port_below_control(
    run_as_server: RunAsServer, verb: str
) -> None:
    server = run_as_server.server
    with (
        socket.create_server(("127.0.0.1", 0)) as listener,
        RawClient(server.host, server.port, timeout=20) as client,
    ):
        listener.settimeout(20)
        client.login()
        assert client.command("TYPE I")[0] == 200
        port = listener.getsockname()[1]
        if verb == "PORT":
            line = f"PORT 127,0,0,1,{port >> 8},{port & 0xFF}"
        else:
            line = f"EPRT |1|127.0.0.1|{port}|"
        code, text = client.command(line)
        assert code == 200, text
        client.send_raw(b"RETR file.bin\r\n")
        conn, peer = listener.accept()
        with conn:
            assert peer[1] == run_as_server.port - 1, (peer, log_tail(server))
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        assert client.read_reply()[0] == 150
        code, text = client.read_reply()
        assert code == 226, text
    assert data == b"served as nobody\n" * 1000
    assert can_log_in(server)


def test_run_as_unknown_user_fails_cleanly(nobody_dir: Path) -> None:
    result = subprocess.run(
        [
            *ftpferry_command(),
            "serve",
            "--port",
            "0",
            "--root",
            str(nobody_dir),
            "--run-as",
            "no-such-user-ftpferry",
            "--user",
            "a:b",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no-such-user-ftpferry" in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_run_as_without_root_fails_with_one_line(nobody_dir: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is not installed")
    other = next((name for name in ("daemon", "bin", "root") if _user_exists(name)), None)
    assert other is not None
    result = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup" if _group_exists("nogroup") else f"--regid={nobody().pw_gid}",
            "--clear-groups",
            *ftpferry_command(),
            "serve",
            "--port",
            "0",
            "--root",
            str(nobody_dir),
            "--run-as",
            other,
            "--user",
            "a:b",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=nobody_dir,
    )
    assert result.returncode != 0, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "root" in lines[0] and other in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert "serving" not in result.stdout, "the banner must not appear when start-up fails"


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True
