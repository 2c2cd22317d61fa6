"""The data channel for real: auto mode falling back to active, PASV address
distrust, EPSV/EPRT fallbacks, active port ranges, IPv6."""

from __future__ import annotations

import contextlib
import io
import logging
import random
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ftpferry.client import (
    DataConnectionError,
    FTPClient,
    forget_modes,
    remembered_mode,
)
from tests.conftest import ipv6_loopback_available

from .conftest import Remote, start_ftpferry, start_pyftpdlib

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def occupied_ports(count: int = 4) -> Iterator[tuple[int, int]]:
    """Bind and listen on ``count`` consecutive loopback ports; yields (low, high)."""
    for _ in range(50):
        low = random.randrange(40000, 60000 - count)
        sockets: list[socket.socket] = []
        try:
            for port in range(low, low + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
                sock.listen(1)
        except OSError:
            for sock in sockets:
                sock.close()
            continue
        try:
            yield low, low + count - 1
        finally:
            for sock in sockets:
                sock.close()
        return
    raise RuntimeError("no free run of ports")


@pytest.fixture
def blocked_passive(tmp_path: Path) -> Iterator[Remote]:
    """ftpferry whose every passive port is held by the test: EPSV/PASV get 425."""
    with occupied_ports() as (low, high):
        server = start_ftpferry(tmp_path, "--passive-ports", f"{low}-{high}")
        yield server
        server.stop()


def test_auto_falls_back_to_active_and_remembers(
    blocked_passive: Remote, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ftpferry.client")
    blocked_passive.put("file.txt", b"through the back door")
    key = ("127.0.0.1", blocked_passive.port)
    with FTPClient.from_url(blocked_passive.url()) as ftp:
        out = io.BytesIO()
        result = ftp.download("file.txt", out)
        assert out.getvalue() == b"through the back door"
        assert result.route is not None and result.route.mode == "active"
        assert ftp.last_data_command == "EPRT"
    assert remembered_mode(*key) == "active"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("passive mode failed" in text and "425" in text for text in warnings), warnings

    caplog.clear()
    with FTPClient.from_url(blocked_passive.url()) as ftp:
        assert ftp.listdir().names() == ["file.txt"]
        assert ftp.last_data_command == "EPRT"
    sent = [r.getMessage() for r in caplog.records]
    assert not any(text.startswith("-> EPSV") for text in sent), "remembered: no passive try"


def test_passive_only_reports_the_425(blocked_passive: Remote) -> None:
    blocked_passive.put("file.txt", b"x")
    with FTPClient.from_url(blocked_passive.url(), mode="passive") as ftp:
        with pytest.raises(DataConnectionError) as caught:
            ftp.download("file.txt", io.BytesIO())
        error = caught.value
        assert error.mode == "EPSV"
        assert error.reply is not None and error.reply.code == 425
        assert "425" in str(error)
        assert ftp.pwd() == "/"
    assert remembered_mode("127.0.0.1", blocked_passive.port) is None


@pytest.fixture
def unreachable_pasv(tmp_path: Path) -> Iterator[Remote]:
    """ftpferry announcing 127.0.0.3 in PASV replies, where nothing listens."""
    server = start_ftpferry(tmp_path, "--masquerade-address", "127.0.0.3")
    yield server
    server.stop()


def test_private_pasv_address_is_replaced_by_the_server_address(
    unreachable_pasv: Remote, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ftpferry.client")
    unreachable_pasv.put("f", b"pasv")
    with FTPClient.from_url(unreachable_pasv.url(), mode="passive", use_epsv=False) as ftp:
        out = io.BytesIO()
        ftp.download("f", out)
        assert out.getvalue() == b"pasv"
        route = ftp.last_route
        assert route is not None
        assert (route.command, route.host) == ("PASV", "127.0.0.1")
        assert route.note is not None and "127.0.0.3" in route.note
    assert any("127.0.0.3" in r.getMessage() for r in caplog.records)


def test_trusted_unreachable_pasv_address_fails_then_auto_uses_active(
    unreachable_pasv: Remote,
) -> None:
    unreachable_pasv.put("f", b"pasv")
    options = {"use_epsv": False, "trust_pasv_address": True, "connect_timeout": 5.0}
    with FTPClient.from_url(unreachable_pasv.url(), mode="passive", **options) as ftp:  # type: ignore[arg-type]
        with pytest.raises(DataConnectionError) as caught:
            ftp.download("f", io.BytesIO())
        error = caught.value
        assert (error.mode, error.address) == ("PASV", "127.0.0.3")
        assert error.port > 0
        assert isinstance(error.os_error, ConnectionRefusedError)
        assert ftp.pwd() == "/"

    forget_modes()
    with FTPClient.from_url(unreachable_pasv.url(), **options) as ftp:  # type: ignore[arg-type]
        out = io.BytesIO()
        ftp.download("f", out)
        assert out.getvalue() == b"pasv"
        assert ftp.last_data_command == "EPRT"
    assert remembered_mode("127.0.0.1", unreachable_pasv.port) == "active"


def test_pasv_and_port_when_extended_commands_are_refused(tmp_path: Path) -> None:
    server = start_pyftpdlib(tmp_path, "--no-epsv", "--no-eprt")
    try:
        server.put("x", b"old-style")
        for mode, command in (("passive", "PASV"), ("active", "PORT")):
            with FTPClient.from_url(server.url(), mode=mode) as ftp:  # type: ignore[arg-type]
                for _ in range(2):  # the second transfer goes straight to the fallback
                    out = io.BytesIO()
                    ftp.download("x", out)
                    assert out.getvalue() == b"old-style"
                    assert ftp.last_data_command == command
    finally:
        server.stop()


def test_active_port_range(ftpferry: Remote) -> None:
    ftpferry.put("r", b"ranged")
    with occupied_ports(2) as (low, high):
        # Two ports of a three-port range are taken: the third must be used.
        options = {"mode": "active", "active_ports": (low, high + 1)}
        with FTPClient.from_url(ftpferry.url(), **options) as ftp:  # type: ignore[arg-type]
            ftp.download("r", io.BytesIO())
            assert ftp.last_route is not None and ftp.last_route.port == high + 1
        options["active_ports"] = (low, high)
        with FTPClient.from_url(ftpferry.url(), **options) as ftp:  # type: ignore[arg-type]
            with pytest.raises(DataConnectionError, match="no free port"):
                ftp.download("r", io.BytesIO())
            assert ftp.pwd() == "/"


def test_active_address_is_advertised(ftpferry: Remote) -> None:
    ftpferry.put("a", b"advertised")
    with FTPClient.from_url(ftpferry.url(), mode="active", active_address="127.0.0.1") as ftp:
        out = io.BytesIO()
        ftp.download("a", out)
        assert ftp.last_route is not None and ftp.last_route.host == "127.0.0.1"
    with FTPClient.from_url(ftpferry.url(), mode="active", active_address="127.0.0.9") as ftp:
        # ftpferry refuses to connect anywhere but the control peer (bounce protection).
        with pytest.raises(DataConnectionError) as caught:
            ftp.download("a", io.BytesIO())
        assert caught.value.reply is not None and caught.value.reply.code == 501


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback")
@pytest.mark.parametrize("mode", ["passive", "active"])
def test_ipv6(tmp_path: Path, mode: str) -> None:
    from tests.conftest import PASSWORD, USER, start_server

    server = start_server(tmp_path, host="::1")
    try:
        (server.root / "six.txt").write_bytes(b"over IPv6")
        with FTPClient(mode=mode) as ftp:  # type: ignore[arg-type]
            ftp.connect("::1", port=server.port, user=USER, password=PASSWORD)
            out = io.BytesIO()
            ftp.download("six.txt", out)
            assert out.getvalue() == b"over IPv6"
            assert ftp.last_data_command == ("EPSV" if mode == "passive" else "EPRT")
            ftp.upload(io.BytesIO(b"back"), "back.txt")
        assert (server.root / "back.txt").read_bytes() == b"back"
        url = f"ftp://{USER}:{PASSWORD.replace(' ', '%20')}@[::1]:{server.port}/"
        with FTPClient.from_url(url, mode=mode) as ftp:  # type: ignore[arg-type]
            assert "six.txt" in ftp.listdir().names()
    finally:
        server.stop()
