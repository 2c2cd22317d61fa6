"""``ftpferry doctor`` against a real ``ftpferry serve`` on loopback, as a user runs it."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trustme

from tests.conftest import (
    PASSWORD,
    USER,
    RawClient,
    ServerProcess,
    ftpferry_command,
    ipv6_loopback_available,
    start_server,
)

pytestmark = pytest.mark.integration

DOCTOR_BOUND = 30.0


@dataclass
class DoctorRun:
    """One ``ftpferry doctor`` process: exit code and output."""

    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        return data

    def codes(self) -> list[str]:
        return [finding["code"] for finding in self.json()["findings"]]

    def explain(self) -> str:
        return (
            f"exit {self.returncode}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


def doctor(*args: str, env: dict[str, str] | None = None) -> DoctorRun:
    """Run the installed ``ftpferry doctor`` (never a hang: bounded)."""
    result = subprocess.run(
        [*ftpferry_command(), "doctor", *args],
        capture_output=True,
        text=True,
        timeout=DOCTOR_BOUND,
        check=False,
        env=env or {**os.environ, "HOME": "/nonexistent"},
        stdin=subprocess.DEVNULL,
    )
    return DoctorRun(result.returncode, result.stdout, result.stderr)


def url(server: ServerProcess, scheme: str = "ftp", *, password: str | None = PASSWORD) -> str:
    secret = f":{quote(password, safe='')}" if password is not None else ""
    host = f"[{server.host}]" if ":" in server.host else server.host
    return f"{scheme}://{quote(server.user, safe='')}{secret}@{host}:{server.port}/"


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("plain"))
    (server.root / "readme.txt").write_text("hello\n")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(
        tmp_path_factory.mktemp("tls"), "--tls-self-signed", "--tls-require-session-reuse"
    )
    yield server
    server.stop()


# -- a healthy server -------------------------------------------------------------------------


def test_healthy_server_all_four_modes_work(plain: ServerProcess) -> None:
    run = doctor("--json", url(plain))
    assert run.returncode == 0, run.explain()
    data = run.json()
    assert data["version"] == 1 and data["exit_code"] == 0 and data["any_mode_works"]
    assert list(data["modes"]) == ["PASV", "EPSV", "PORT", "EPRT"]
    for command, probe in data["modes"].items():
        assert probe["ok"], (command, run.explain())
        assert probe["final_reply"]["code"] == 226
        assert probe["bytes_received"] > 0  # the listing of readme.txt
        assert probe["seconds"] < 5
    assert data["modes"]["PASV"]["advertised_host"] == "127.0.0.1"
    assert data["modes"]["PORT"]["arrived"] is True
    assert data["greeting"]["code"] == 220
    assert data["login"] == {
        "user": USER,
        "password_source": "url",
        "ok": True,
        "reply": data["login"]["reply"],
        "needed_password": True,
    }
    assert "EPSV" in data["features"]
    assert not [f for f in data["findings"] if f["severity"] == "error"], run.explain()
    assert all(PASSWORD not in line for line in data["dialogue"])
    assert "-> PASS ****" in data["dialogue"]


def test_healthy_server_plain_table(plain: ServerProcess) -> None:
    run = doctor(url(plain))
    assert run.returncode == 0, run.explain()
    assert "\x1b[" not in run.stdout  # not a terminal: plain text
    for command in ("PASV", "EPSV", "PORT", "EPRT"):
        assert re.search(rf"^  {command}\s+OK\s", run.stdout, flags=re.MULTILINE), run.explain()
    assert "No problems found." in run.stdout
    assert "4 of 4 data-channel modes work" in run.stdout
    assert PASSWORD not in run.stdout + run.stderr


def test_verbose_shows_the_dialogue_without_the_password(plain: ServerProcess) -> None:
    run = doctor("-v", url(plain))
    assert run.returncode == 0, run.explain()
    for line in ("-> USER alice", "-> PASS ****", "-> PASV", "<- 227 ", "-> EPRT |1|127.0.0.1|"):
        assert line in run.stderr, run.explain()
    assert PASSWORD not in run.stderr


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback")
def test_ipv6_server_pasv_and_port_do_not_apply(tmp_path: Path) -> None:
    server = start_server(tmp_path, host="::1")
    try:
        run = doctor("--json", url(server))
        assert run.returncode == 0, run.explain()
        data = run.json()
        assert data["modes"]["EPSV"]["ok"] and data["modes"]["EPRT"]["ok"], run.explain()
        for command in ("PASV", "PORT"):
            assert data["modes"][command]["failure"] == "not-applicable", run.explain()
        assert data["findings"] == [], run.explain()
        assert "2 of 2 data-channel modes work" in doctor(url(server)).stdout
    finally:
        server.stop()


# -- active mode refused ----------------------------------------------------------------------


def test_active_address_other_than_ours_is_refused_by_bounce_protection(
    plain: ServerProcess,
) -> None:
    run = doctor("--json", "--active-address", "127.0.0.2", url(plain))
    assert run.returncode == 0, run.explain()  # passive still works
    data = run.json()
    for command in ("PORT", "EPRT"):
        probe = data["modes"][command]
        assert not probe["ok"]
        assert probe["failure"] == "setup-refused"
        assert probe["setup_reply"]["code"] == 501
        assert probe["advertised_host"] == "127.0.0.2"
    assert data["modes"]["PASV"]["ok"] and data["modes"]["EPSV"]["ok"]
    finding = next(f for f in data["findings"] if f["code"] == "active-refused")
    assert finding["severity"] == "warning"
    assert set(finding["modes"]) == {"PORT", "EPRT"}
    assert "bounce protection" in finding["title"]
    assert any("127.0.0.1" in item and "sees" in item for item in finding["evidence"])


# -- passive range exhausted ------------------------------------------------------------------


def test_exhausted_passive_range_is_named(tmp_path: Path) -> None:
    port = random.randrange(42000, 58000)
    server = start_server(tmp_path, "--passive-ports", f"{port}-{port}")
    try:
        with RawClient(server.host, server.port) as holder:
            holder.login()
            code, text = holder.command("PASV")
            assert code == 227, text  # holds the only passive port
            run = doctor("--json", url(server))
            data = run.json()
        assert run.returncode == 0, run.explain()  # active mode works
        for command in ("PASV", "EPSV"):
            probe = data["modes"][command]
            assert probe["setup_reply"]["code"] == 425, run.explain()
            assert f"{port}-{port}" in probe["setup_reply"]["text"]
        assert data["modes"]["PORT"]["ok"] and data["modes"]["EPRT"]["ok"]
        finding = next(f for f in data["findings"] if f["code"] == "passive-range-exhausted")
        assert f"({port}-{port})" in finding["title"]
        assert finding["severity"] == "error"  # no passive mode works, active does
        assert set(finding["modes"]) == {"PASV", "EPSV"}
    finally:
        server.stop()


# -- FTPS -------------------------------------------------------------------------------------


def fingerprint(server: ServerProcess) -> str:
    match = re.search(r"SHA-256 fingerprint (\S+)", server.log())
    assert match, server.log()
    return match.group(1)


def certificate_path(server: ServerProcess) -> str:
    match = re.search(r"certificate (\S+\.pem)", server.log())
    assert match, server.log()
    return match.group(1)


def test_self_signed_certificate_is_not_trusted_without_insecure(
    self_signed: ServerProcess,
) -> None:
    run = doctor("--json", url(self_signed, "ftps"))
    assert run.returncode == 1, run.explain()
    data = run.json()
    assert data["tls"]["problem"] == "untrusted"
    assert data["tls"]["certificate"]["self_signed"] is True
    assert data["tls"]["certificate"]["sha256"] == fingerprint(self_signed)
    assert data["modes"] == {"PASV": None, "EPSV": None, "PORT": None, "EPRT": None}
    assert data["login"] is None  # stopped before sending the password
    assert run.codes() == ["tls-certificate-untrusted"]
    fix = data["findings"][0]["fix"]
    assert "--cafile" in fix and "--insecure" in fix


def test_insecure_works_and_data_connections_resume_the_tls_session(
    self_signed: ServerProcess,
) -> None:
    """The server requires session reuse: every mode working proves the doctor resumes."""
    run = doctor("--json", "--insecure", url(self_signed, "ftps"))
    assert run.returncode == 0, run.explain()
    data = run.json()
    assert data["tls"]["ok"] and not data["tls"]["verified"]
    assert data["tls"]["version"].startswith("TLSv1.")
    for command, probe in data["modes"].items():
        assert probe["ok"], (command, run.explain())
        assert probe["tls"] and probe["tls_session_reused"] is True, command
    assert not [f for f in data["findings"] if f["severity"] == "error"], run.explain()


def test_cafile_trusts_the_self_signed_certificate(self_signed: ServerProcess) -> None:
    run = doctor("--json", "--cafile", certificate_path(self_signed), url(self_signed, "ftps"))
    assert run.returncode == 0, run.explain()
    data = run.json()
    assert data["tls"]["verified"] is True
    assert all(probe["ok"] for probe in data["modes"].values()), run.explain()


def test_hostname_mismatch_lists_the_certificate_names(tmp_path: Path) -> None:
    """A CA-issued certificate for "localhost" only, reached as 127.0.0.1."""
    authority = trustme.CA()
    issued = authority.issue_cert("localhost")
    ca, cert, key = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    authority.cert_pem.write_to_path(str(ca))
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    server = start_server(tmp_path / "srv", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        run = doctor("--json", "--cafile", str(ca), url(server, "ftps"))
        assert run.returncode == 1, run.explain()
        assert run.json()["tls"]["problem"] == "hostname-mismatch"
        assert run.codes() == ["tls-hostname-mismatch"]
        assert "(localhost)" in run.json()["findings"][0]["fix"]
        by_name = url(server, "ftps").replace("@127.0.0.1:", "@localhost:")
        run = doctor("--json", "--cafile", str(ca), by_name)
        assert run.returncode == 0, run.explain()
        assert run.json()["tls"]["verified"] is True
    finally:
        server.stop()


def test_auth_tls_refused_by_a_plain_server(plain: ServerProcess) -> None:
    run = doctor("--json", url(plain, "ftps"))
    assert run.returncode == 1, run.explain()
    data = run.json()
    assert data["tls"]["problem"] == "auth-refused"
    assert run.codes() == ["tls-auth-refused"]


def test_plain_login_to_a_server_requiring_tls(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--tls-self-signed", "--require-tls")
    try:
        run = doctor("--json", url(server))
        assert run.returncode == 1, run.explain()
        assert "login-requires-tls" in run.codes(), run.explain()
        run = doctor("--json", "--insecure", url(server, "ftps"))
        assert run.returncode == 0, run.explain()
    finally:
        server.stop()


# -- logging in ---------------------------------------------------------------------------------


def test_password_from_environment(plain: ServerProcess, tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "FTPFERRY_PASSWORD": PASSWORD}
    run = doctor("--json", url(plain, password=None), env=env)
    assert run.returncode == 0, run.explain()
    assert run.json()["login"]["password_source"] == "env"


def test_password_from_netrc(tmp_path: Path) -> None:
    server = start_server(tmp_path / "srv", user="bob", password="netrc-pass")
    try:
        home = tmp_path / "home"
        home.mkdir()
        netrc = home / ".netrc"
        netrc.write_text("machine 127.0.0.1 login bob password netrc-pass\n")
        netrc.chmod(0o600)
        env = {k: v for k, v in os.environ.items() if k != "FTPFERRY_PASSWORD"}
        run = doctor("--json", url(server, password=None), env={**env, "HOME": str(home)})
        assert run.returncode == 0, run.explain()
        assert run.json()["login"]["password_source"] == "netrc"
    finally:
        server.stop()


def test_no_password_anywhere(plain: ServerProcess, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FTPFERRY_PASSWORD"}
    run = doctor("--json", url(plain, password=None), env={**env, "HOME": str(tmp_path)})
    assert run.returncode == 1, run.explain()
    assert run.codes() == ["login-no-password"]


def test_wrong_password(plain: ServerProcess) -> None:
    run = doctor("--json", url(plain, password="wrong"))
    assert run.returncode == 1, run.explain()
    assert "login-refused" in run.codes()


# -- the control connection and usage -----------------------------------------------------------


def test_nothing_listening(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    server.stop()  # its port is now closed
    run = doctor("--json", url(server))
    assert run.returncode == 1, run.explain()
    assert run.codes() == ["control-connect-refused"]
    assert run.json()["control"]["outcome"] == "refused"


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("http://example.com/",),
        ("--active-address", "not-an-ip", "ftp://127.0.0.1/"),
        ("--timeout", "0", "ftp://127.0.0.1/"),
        ("--cafile", "/nonexistent.pem", "ftps://127.0.0.1/"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    run = doctor(*args)
    assert run.returncode == 2, run.explain()
    assert "Usage:" in run.stderr or "Error" in run.stderr
