"""The command line as a newcomer meets it: banner, generated credentials, the
printed curl line, start-up errors, --check, signals, hash-password, and the
data-channel settings (masquerade, per-network addresses) seen by a client."""

from __future__ import annotations

import ftplib
import re
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import RawClient, ServerProcess, ftpferry_command, have, start_server


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ftpferry_command(), *args], capture_output=True, text=True, timeout=timeout
    )


def test_no_user_generates_one_and_the_printed_curl_line_works(tmp_path: Path) -> None:
    server = start_server(tmp_path, user=None)
    try:
        banner = server.log()
        match = re.search(r"user: (\S+)\s+password: (\S+)", banner)
        assert match, banner
        user, password = match.groups()
        assert len(password) >= 12
        (server.root / "hello.txt").write_text("hello from the root\n")
        curl_line = re.search(r"try:\s+(curl \S+)", banner)
        assert curl_line, banner
        lftp_line = re.search(r"(lftp -u \S+ -p \d+ \S+)", banner)
        assert lftp_line, banner
        if have("curl"):
            listing = subprocess.run(
                [*shlex.split(curl_line.group(1)), "-s", "-m", "20"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert listing.returncode == 0, listing.stderr
            assert "hello.txt" in listing.stdout
        with ftplib.FTP() as ftp:
            ftp.connect(server.host, server.port, timeout=10)
            ftp.login(user, password)
            assert ftp.nlst() == ["hello.txt"]
        assert password not in server.log().split("Press Ctrl+C")[1]  # never logged later
    finally:
        server.stop()


def test_starts_in_under_a_second_or_so(tmp_path: Path) -> None:
    """The brief says under a second; allow slack for a loaded shared machine."""
    started = time.monotonic()
    server = start_server(tmp_path)
    elapsed = time.monotonic() - started
    server.stop()
    assert elapsed < 5.0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_a_transfer_stops_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    server = start_server(tmp_path)
    big = server.root / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(512 * 1024 * 1024)
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=10)
    ftp.login(server.user, server.password)
    conn = ftp.transfercmd("RETR big.bin")
    conn.settimeout(10)
    assert conn.recv(65536)  # the transfer is running; we stop reading now
    server.process.send_signal(signum)
    server.process.wait(timeout=15)
    conn.close()
    ftp.close()
    log = server.log()
    assert server.process.returncode == 0, log
    assert "Traceback" not in log
    assert "shutting down" in log


def test_invalid_settings_fail_at_start_with_one_line(tmp_path: Path) -> None:
    result = run_cli("serve", "--root", str(tmp_path), "--passive-ports", "40000-39999")
    assert result.returncode == 2
    assert result.stderr.strip() == "ftpferry: passive-ports 40000-39999 is an empty range"
    result = run_cli(
        "serve", "--root", str(tmp_path), "--masquerade-address", "no.such.host.invalid"
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "masquerade-address" in result.stderr


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = run_cli("serve", "--root", str(tmp_path), "--port", str(port))
    assert result.returncode == 1
    assert "cannot listen on 127.0.0.1 port" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_prints_the_plan_and_warns_about_private_addresses(tmp_path: Path) -> None:
    result = run_cli(
        "serve",
        "--check",
        "--host",
        "0.0.0.0",
        "--root",
        str(tmp_path),
        "--passive-ports",
        "31000-31009",
        "--passive-address",
        "192.168.1.0/24=192.168.1.10",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "passive range:  31000-31009 (10 ports)" in out
    assert re.search(r"192\.168\.1\.0/24\s+-> 192\.168\.1\.10", out)
    assert "everyone else" in out
    assert "active mode:" in out
    assert not (tmp_path / "ftp-root").exists()  # --check starts nothing
    plain = run_cli("serve", "--check", "--host", "0.0.0.0", "--root", str(tmp_path))
    assert "warning: listening on every interface (0.0.0.0) with no masquerade address" in (
        plain.stdout
    )
    quiet = run_cli("serve", "--check", "--host", "0.0.0.0", "--masquerade-address", "203.0.113.7")
    assert "warning" not in quiet.stdout
    assert re.search(r"everyone else\s+-> 203\.0\.113\.7", quiet.stdout)


def test_hash_password_makes_a_hash_the_config_accepts(tmp_path: Path) -> None:
    hashed = run_cli("hash-password", "--password", "correct horse").stdout.strip()
    assert hashed.startswith("$argon2id$")
    config = tmp_path / "ftpferry.toml"
    config.write_text(f'[[users]]\nname = "carol"\npassword_hash = "{hashed}"\n')
    server = start_server(tmp_path, "--config", str(config), user=None)
    try:
        with RawClient(server.host, server.port) as client:
            client.login("carol", "correct horse")
        with RawClient(server.host, server.port) as client:
            assert client.command("USER carol")[0] == 331
            assert client.command("PASS wrong")[0] == 530
        assert "correct horse" not in server.log()
    finally:
        server.stop()


def _pasv_address(server: ServerProcess) -> str:
    with RawClient(server.host, server.port) as client:
        client.login(server.user, server.password)
        code, text = client.command("PASV")
        assert code == 227, text
        status_code, status = client.command("STAT")
        assert status_code == 211
        assert "1/" in status and "passive ports in use" in status
    match = re.search(r"\((\d+),(\d+),(\d+),(\d+),\d+,\d+\)", text)
    assert match
    return ".".join(match.groups())


def test_masquerade_address_by_name_is_advertised(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--masquerade-address", "localhost")
    try:
        assert _pasv_address(server) == "127.0.0.1"
    finally:
        server.stop()


def test_passive_address_per_network_wins_over_masquerade(tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        "--masquerade-address",
        "203.0.113.7",
        "--passive-address",
        "127.0.0.0/8=127.0.0.9",
    )
    try:
        assert _pasv_address(server) == "127.0.0.9"
    finally:
        server.stop()


def test_unmatched_client_gets_the_masquerade_address(tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        "--masquerade-address",
        "203.0.113.7",
        "--passive-address",
        "10.0.0.0/8=10.1.2.3",
    )
    try:
        assert _pasv_address(server) == "203.0.113.7"
    finally:
        server.stop()
