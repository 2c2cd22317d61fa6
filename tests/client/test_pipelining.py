"""Commands sent ahead: EPSV and the transfer command in one write.

Once EPSV has worked on a connection, the client sends it together with
RETR/STOR/LIST.  These tests drive real servers (ftpferry, pyftpdlib,
vsftpd) to show the transfers stay correct, that a refused EPSV leaves the
connection usable, and -- with a deliberately broken server, the one fault
no real server here has -- that a server dropping commands sent ahead is
sent one command at a time from then on.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ftpferry.client import DataConnectionError, FTPClient, FTPError, TemporaryError
from ftpferry.client.modes import pipelining_refused, remembered_mode

from .conftest import Remote, start_ftpferry, start_pyftpdlib
from .test_datachannel import occupied_ports

pytestmark = pytest.mark.integration


def _sent_before_reply(caplog: pytest.LogCaptureFixture, command: str) -> bool:
    """True when the dialogue shows ``command`` going out before EPSV's 229 came back."""
    lines = [r.getMessage() for r in caplog.records if r.name == "ftpferry.client"]
    sent = lines.index(f"-> {command}")
    answered = next(i for i, line in enumerate(lines) if line.startswith("<- 229"))
    return sent < answered


def test_transfers_after_the_first_send_epsv_ahead(
    remote: Remote, caplog: pytest.LogCaptureFixture
) -> None:
    files = {f"f{index}.bin": bytes([index]) * (1000 + index) for index in range(4)}
    for name, data in files.items():
        remote.put(name, data)
    with FTPClient.from_url(remote.url(), mode="passive") as ftp:
        out = io.BytesIO()
        caplog.set_level(logging.DEBUG, logger="ftpferry.client")
        ftp.download("f0.bin", out)
        assert out.getvalue() == files["f0.bin"]
        assert not _sent_before_reply(caplog, "RETR f0.bin"), "the first transfer is lockstep"
        for name in ("f1.bin", "f2.bin", "f3.bin"):
            caplog.clear()
            out = io.BytesIO()
            ftp.download(name, out)
            assert out.getvalue() == files[name]
            assert _sent_before_reply(caplog, f"RETR {name}"), name
        caplog.clear()
        ftp.upload(io.BytesIO(b"sent ahead"), "up.txt")
        assert _sent_before_reply(caplog, "STOR up.txt")
        assert [entry.name for entry in ftp.listdir("")].count("up.txt") == 1
    assert remote.root.joinpath("up.txt").read_bytes() == b"sent ahead"


def test_pipelining_can_be_turned_off(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    remote = start_ftpferry(tmp_path)
    try:
        remote.put("a", b"1")
        with FTPClient.from_url(remote.url(), mode="passive", pipeline=False) as ftp:
            ftp.download("a", io.BytesIO())
            caplog.set_level(logging.DEBUG, logger="ftpferry.client")
            ftp.download("a", io.BytesIO())
            assert not _sent_before_reply(caplog, "RETR a")
    finally:
        remote.stop()


def _hold_passive_port(remote: Remote) -> socket.socket:
    """A second session that takes the server's only passive port with EPSV."""
    sock = socket.create_connection(("127.0.0.1", remote.port), timeout=10)
    reader = sock.makefile("rb")

    def ask(line: str) -> bytes:
        if line:
            sock.sendall(line.encode() + b"\r\n")
        return reader.readline()

    assert ask("").startswith(b"220")
    assert ask(f"USER {remote.user}").startswith(b"331")
    assert ask(f"PASS {remote.password}").startswith(b"230")
    assert ask("EPSV").startswith(b"229")
    return sock


def test_refused_epsv_ahead_leaves_the_connection_usable(tmp_path: Path) -> None:
    with occupied_ports(1) as (held, _):
        pass  # a port that was free a moment ago: the server's whole range
    remote = start_ftpferry(tmp_path, "--passive-ports", f"{held}-{held}")
    try:
        remote.put("a", b"first")
        with FTPClient.from_url(remote.url(), mode="passive", timeout=10) as ftp:
            out = io.BytesIO()
            ftp.download("a", out)  # lockstep; commands go ahead from now on
            holder = _hold_passive_port(remote)
            with holder, pytest.raises(DataConnectionError) as failure:
                ftp.download("a", io.BytesIO())
            assert failure.value.reply is not None and failure.value.reply.code == 425
            # The RETR that went ahead was answered and its reply dropped: the
            # next command gets its own reply.
            assert ftp.pwd() == "/"
            out = io.BytesIO()
            ftp.download("a", out)
            assert out.getvalue() == b"first"
    finally:
        remote.stop()


def test_a_command_refused_ahead_is_the_error_not_the_data_channel(tmp_path: Path) -> None:
    """ProFTPD (without AllowStoreRestart) answers the APPE sent ahead with 451
    and closes the passive port it opened for it, so connecting there fails.
    That used to be taken for a data-channel failure: ``auto`` mode went on to
    active mode, remembered it for the server, and met the same 451."""
    remote = start_pyftpdlib(tmp_path, "--refuse-resume")
    try:
        remote.put("part.bin", b"0123")
        with FTPClient.from_url(remote.url(), timeout=10) as ftp:  # auto mode
            ftp.listdir()  # lockstep; commands go ahead from now on
            with pytest.raises(TemporaryError) as refused:
                ftp.upload(io.BytesIO(b"0123456789"), "part.bin", resume=True)
            assert refused.value.code == 451
            assert ftp.target is not None
            assert remembered_mode(ftp.target.host, ftp.target.port) == "passive"
            assert ftp.pwd() == "/"  # the reply was read: the connection goes on
            ftp.upload(io.BytesIO(b"0123456789"), "part.bin")
        assert (remote.root / "part.bin").read_bytes() == b"0123456789"
    finally:
        remote.stop()


class _ForgetfulServer:
    """A minimal FTP server that reads one command per ``recv`` and drops the
    rest, as old servers and strict firewalls do with commands sent ahead.
    It serves one file, ``a``, over EPSV."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        passive: socket.socket | None = None
        conn.settimeout(20)
        with contextlib.suppress(OSError), conn:
            conn.sendall(b"220 forgetful\r\n")
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                line = chunk.split(b"\r\n", 1)[0].decode()  # the rest is lost
                verb, _, argument = line.partition(" ")
                verb = verb.upper()
                if verb == "USER":
                    conn.sendall(b"331 password\r\n")
                elif verb in {"PASS", "TYPE"}:
                    conn.sendall(b"230 ok\r\n" if verb == "PASS" else b"200 ok\r\n")
                elif verb == "PWD":
                    conn.sendall(b'257 "/"\r\n')
                elif verb == "SIZE" and argument == "a":
                    conn.sendall(f"213 {len(self.data)}\r\n".encode())
                elif verb == "EPSV":
                    passive = socket.create_server(("127.0.0.1", 0))
                    port = passive.getsockname()[1]
                    conn.sendall(f"229 Entering Extended Passive Mode (|||{port}|)\r\n".encode())
                elif verb == "RETR" and passive is not None:
                    passive.settimeout(5)
                    data_conn, _ = passive.accept()
                    passive.close()
                    passive = None
                    conn.sendall(b"150 here it comes\r\n")
                    with data_conn:
                        data_conn.sendall(self.data)
                    conn.sendall(b"226 done\r\n")
                elif verb == "QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"502 not here\r\n")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def forgetful() -> Iterator[_ForgetfulServer]:
    server = _ForgetfulServer(b"forgetful data")
    yield server
    server.close()


def test_a_server_dropping_commands_sent_ahead_is_sent_one_at_a_time(
    forgetful: _ForgetfulServer,
) -> None:
    url = f"ftp://u:p@127.0.0.1:{forgetful.port}/"
    with FTPClient.from_url(url, mode="passive", timeout=1.0) as ftp:
        out = io.BytesIO()
        ftp.download("a", out)
        assert out.getvalue() == b"forgetful data"
        assert not pipelining_refused("127.0.0.1", forgetful.port)
        with pytest.raises(FTPError):
            ftp.download("a", io.BytesIO())  # the RETR sent ahead is lost
    assert pipelining_refused("127.0.0.1", forgetful.port)
    with FTPClient.from_url(url, mode="passive", timeout=5.0) as ftp:
        for _ in range(3):
            out = io.BytesIO()
            ftp.download("a", out)
            assert out.getvalue() == b"forgetful data"
