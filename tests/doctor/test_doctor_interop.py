"""``ftpferry doctor`` against third-party servers: pyftpdlib and vsftpd.

The rules must hold for the replies other servers really send: pyftpdlib
without EPSV (the EPSV-refused finding), vsftpd's "500 Illegal PORT
command" for a foreign address (a refusal, not a missing command), and
vsftpd's ``require_ssl_reuse`` (the doctor must resume TLS sessions).
"""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import trustme

from tests.client.conftest import (
    VSFTPD_USER,
    Remote,
    start_pyftpdlib,
    start_vsftpd,
    vsftpd_unavailable,
)

from .test_doctor_server import doctor

pytestmark = pytest.mark.integration

needs_vsftpd = pytest.mark.skipif(
    vsftpd_unavailable() is not None, reason=str(vsftpd_unavailable())
)


def remote_url(remote: Remote, scheme: str = "ftp") -> str:
    credentials = f"{quote(remote.user, safe='')}:{quote(remote.password, safe='')}"
    return f"{scheme}://{credentials}@{remote.host}:{remote.port}/"


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def vsftpd_user_cleanup() -> Iterator[None]:
    """Remove the vsftpd test user afterwards if this test created it."""
    existed = _user_exists(VSFTPD_USER)
    yield
    if not existed:
        subprocess.run(["userdel", VSFTPD_USER], check=False, capture_output=True)


@pytest.fixture
def certificates(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A trustme CA and a certificate for 127.0.0.1: (ca, cert, key)."""
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    ca, cert, key = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    authority.cert_pem.write_to_path(str(ca))
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    os.chmod(key, 0o600)
    return ca, cert, key


def test_pyftpdlib_healthy(tmp_path: Path) -> None:
    server = start_pyftpdlib(tmp_path)
    try:
        run = doctor("--json", remote_url(server))
        assert run.returncode == 0, run.explain()
        data = run.json()
        assert all(probe["ok"] for probe in data["modes"].values()), run.explain()
        assert not [f for f in data["findings"] if f["severity"] != "info"], run.explain()
    finally:
        server.stop()


def test_pyftpdlib_without_epsv_or_eprt(tmp_path: Path) -> None:
    server = start_pyftpdlib(tmp_path, "--no-epsv", "--no-eprt")
    try:
        run = doctor("--json", remote_url(server))
        assert run.returncode == 0, run.explain()
        data = run.json()
        assert data["modes"]["EPSV"]["setup_reply"]["code"] // 100 == 5, run.explain()
        assert data["modes"]["PASV"]["ok"] and data["modes"]["PORT"]["ok"], run.explain()
        epsv = next(f for f in data["findings"] if f["code"] == "epsv-refused")
        assert epsv["severity"] == "warning"
        assert "use PASV" in epsv["title"]
        assert "eprt-not-supported" in run.codes(), run.explain()
    finally:
        server.stop()


@needs_vsftpd
def test_vsftpd_illegal_port_is_reported_as_a_refusal(
    tmp_path: Path, vsftpd_user_cleanup: None
) -> None:
    server = start_vsftpd(tmp_path)
    try:
        run = doctor("--json", remote_url(server))
        assert run.returncode == 0, run.explain()
        assert all(probe["ok"] for probe in run.json()["modes"].values()), run.explain()
        run = doctor("--json", "--active-address", "127.0.0.2", remote_url(server))
        assert run.returncode == 0, run.explain()
        data = run.json()
        assert data["modes"]["PORT"]["setup_reply"]["code"] // 100 == 5, run.explain()
        assert "active-refused" in run.codes(), run.explain()
        assert "port-not-supported" not in run.codes(), run.explain()
    finally:
        server.stop()


@needs_vsftpd
def test_vsftpd_require_ssl_reuse_is_satisfied(
    tmp_path: Path, certificates: tuple[Path, Path, Path], vsftpd_user_cleanup: None
) -> None:
    """vsftpd refuses data connections that do not resume the control session:
    every mode working proves the doctor resumes it."""
    ca, cert, key = certificates
    server = start_vsftpd(tmp_path, tls=(cert, key))
    try:
        run = doctor("--json", "--cafile", str(ca), remote_url(server, "ftps"))
        assert run.returncode == 0, run.explain()
        data = run.json()
        assert data["tls"]["ok"] and data["tls"]["verified"], run.explain()
        for command, probe in data["modes"].items():
            assert probe["ok"], (command, run.explain())
            assert probe["tls_session_reused"] is True, (command, run.explain())
        # ftp:// to the same server: vsftpd insists on TLS before login.
        run = doctor("--json", remote_url(server))
        assert run.returncode == 1, run.explain()
        assert "login-requires-tls" in run.codes(), run.explain()
    finally:
        server.stop()
