"""FTPS: explicit (AUTH TLS) and implicit, self-signed and CA-verified, ftpferry and vsftpd."""

from __future__ import annotations

import io
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from ftpferry.client import FTPClient, LoginError, TLSError

from .conftest import MODES, Remote, start_ftpferry, start_vsftpd, vsftpd_unavailable

pytestmark = pytest.mark.integration


@dataclass
class Certificates:
    """A test CA and a server certificate for 127.0.0.1 and localhost."""

    ca: Path
    cert: Path
    key: Path


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    """Files written by trustme."""
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    paths = Certificates(tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem")
    authority.cert_pem.write_to_path(str(paths.ca))
    issued.cert_chain_pems[0].write_to_path(str(paths.cert))
    issued.private_key_pem.write_to_path(str(paths.key))
    os.chmod(paths.key, 0o600)
    return paths


@pytest.fixture
def self_signed(tmp_path: Path) -> Iterator[Remote]:
    """ftpferry with a generated development certificate."""
    server = start_ftpferry(tmp_path, "--tls-self-signed")
    yield server
    server.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("mode", MODES)
def test_self_signed_without_verification(self_signed: Remote, mode: str) -> None:
    self_signed.put("secret.txt", b"encrypted all the way")
    with FTPClient.from_url(self_signed.url("ftps"), mode=mode, verify=False) as ftp:  # type: ignore[arg-type]
        assert ftp.session.tls
        out = io.BytesIO()
        result = ftp.download("secret.txt", out)
        assert out.getvalue() == b"encrypted all the way"
        assert result.route is not None and result.route.tls
        ftp.upload(io.BytesIO(b"up" * 300_000), "up.bin")
        assert ftp.listdir().get("up.bin") is not None
    assert (self_signed.root / "up.bin").read_bytes() == b"up" * 300_000


def test_self_signed_is_refused_when_verifying(self_signed: Remote) -> None:
    with pytest.raises(TLSError, match="certificate"):
        FTPClient.from_url(self_signed.url("ftps")).__enter__()


@pytest.mark.parametrize("mode", MODES)
def test_ca_verified(tmp_path: Path, certificates: Certificates, mode: str) -> None:
    server = start_ftpferry(
        tmp_path, "--tls-cert", str(certificates.cert), "--tls-key", str(certificates.key)
    )
    try:
        server.put("v.bin", os.urandom(3 * 1024 * 1024))
        for host in ("127.0.0.1", "localhost"):
            url = server.url("ftps").replace("127.0.0.1", host)
            with FTPClient.from_url(url, mode=mode, cafile=str(certificates.ca)) as ftp:  # type: ignore[arg-type]
                out = io.BytesIO()
                ftp.download("v.bin", out)
                assert out.getvalue() == (server.root / "v.bin").read_bytes()
                assert ftp.last_route is not None and ftp.last_route.tls
    finally:
        server.stop()


def test_implicit_tls(tmp_path: Path, certificates: Certificates) -> None:
    implicit_port = _free_port()
    server = start_ftpferry(
        tmp_path,
        "--tls-cert",
        str(certificates.cert),
        "--tls-key",
        str(certificates.key),
        "--tls-implicit-port",
        str(implicit_port),
    )
    try:
        server.put("i.txt", b"implicit")
        with FTPClient(cafile=str(certificates.ca), implicit_tls=True) as ftp:
            ftp.connect("127.0.0.1", port=implicit_port, user=server.user, password=server.password)
            assert ftp.session.tls
            out = io.BytesIO()
            ftp.download("i.txt", out)
            assert out.getvalue() == b"implicit"
        url = server.url("ftps").replace(f":{server.port}/", f":{implicit_port}/")
        with FTPClient.from_url(url, cafile=str(certificates.ca), implicit_tls=True) as ftp:
            assert ftp.listdir().names() == ["i.txt"]
    finally:
        server.stop()


def test_plain_login_refused_when_server_requires_tls(tmp_path: Path) -> None:
    server = start_ftpferry(tmp_path, "--tls-self-signed", "--require-tls")
    try:
        with pytest.raises(LoginError) as caught:
            FTPClient.from_url(server.url()).__enter__()
        assert caught.value.code == 530
        with FTPClient.from_url(server.url("ftps"), verify=False) as ftp:
            assert ftp.pwd() == "/"
    finally:
        server.stop()


def test_auth_tls_refused_by_a_plain_server(ftpferry: Remote) -> None:
    with pytest.raises(TLSError, match="AUTH TLS"):
        FTPClient.from_url(ftpferry.url("ftps"), verify=False).__enter__()


@pytest.mark.skipif(vsftpd_unavailable() is not None, reason=str(vsftpd_unavailable()))
@pytest.mark.parametrize("mode", MODES)
def test_vsftpd_requires_session_reuse(
    tmp_path: Path, certificates: Certificates, mode: str
) -> None:
    """vsftpd (require_ssl_reuse=YES) accepts only data connections that resume
    the control connection's TLS session."""
    server = start_vsftpd(tmp_path, tls=(certificates.cert, certificates.key))
    try:
        payload = os.urandom(2 * 1024 * 1024)
        server.put("vs.bin", payload)
        with FTPClient.from_url(server.url("ftps"), mode=mode, cafile=str(certificates.ca)) as ftp:  # type: ignore[arg-type]
            out = io.BytesIO()
            ftp.download("vs.bin", out)
            assert out.getvalue() == payload
            ftp.upload(io.BytesIO(payload), "back.bin")
            assert "back.bin" in ftp.listdir().names()
        assert (server.root / "back.bin").read_bytes() == payload
    finally:
        server.stop()
