"""FTPS (RFC 4217) against a real server: curl, lftp and ftplib, explicit and implicit.

Each client uploads, downloads (sha256 compared) and lists, in passive and
in active mode, over TLS on both the control and the data connection.  The
certificate is either the server's own self-signed one (clients skip
verification) or issued by a throw-away trustme CA (clients verify it, host
name included).  Then the policies: ``--require-tls``, per-user
``tls_required``, ``--tls-require-session-reuse`` and ``min_version``, and
what happens when a client speaks the wrong protocol to a port.
"""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import re
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from ftpferry.protocol.blocks import BlockDecoder
from tests.conftest import PASSWORD, USER, RawClient, ServerProcess, have, start_server
from tests.integration.support import (
    check_ok,
    explain,
    fresh_area,
    random_bytes,
    run_client,
    sha256,
    sha256_file,
)
from tests.security.support import (
    ImplicitFTP_TLS,
    ReusingFTP_TLS,
    TlsRawClient,
    can_log_in,
    closing_ftp,
    download,
    implicit_port,
    insecure_context,
    listing,
    log_tail,
    read_until_closed,
    tls_login,
    upload,
    user_table,
    write_config,
)

pytestmark = pytest.mark.integration

REPLY_LINE = re.compile(rb"^(\d{3}[ -]| )")


# -- servers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Explicit FTPS on the control port and implicit FTPS on another, self-signed."""
    proc = start_server(
        tmp_path_factory.mktemp("ftps"), "--tls-self-signed", "--tls-implicit-port", "0", "-v"
    )
    yield proc
    proc.stop()


@dataclass
class CaSite:
    """A server whose certificate a trustme CA issued, and the CA's PEM for clients."""

    server: ServerProcess
    ca_pem: Path


@pytest.fixture(scope="module")
def ca_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaSite]:
    """A server with a certificate for 127.0.0.1 and localhost from a private CA."""
    base = tmp_path_factory.mktemp("ftps-ca")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    ca_pem, cert_pem, key_pem = base / "ca.pem", base / "cert.pem", base / "key.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    issued.private_key_pem.write_to_path(str(key_pem))
    cert_pem.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    proc = start_server(
        base, "--tls-cert", str(cert_pem), "--tls-key", str(key_pem), "--tls-implicit-port", "0"
    )
    yield CaSite(proc, ca_pem)
    proc.stop()


def verifying_context(ca_pem: Path) -> ssl.SSLContext:
    """A client context that trusts only the test CA and checks the host name."""
    context = ssl.create_default_context(cafile=str(ca_pem))
    assert context.check_hostname
    return context


# -- the banner and the generated certificate ------------------------------------------------


def test_self_signed_certificate_written_next_to_root_and_fingerprint_printed(
    tls_server: ServerProcess,
) -> None:
    parent = tls_server.root.parent
    cert = parent / "ftpferry-selfsigned-cert.pem"
    key = parent / "ftpferry-selfsigned-key.pem"
    assert cert.is_file() and key.is_file()
    assert key.stat().st_mode & 0o077 == 0, "the private key must not be readable by others"
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    digest = hashlib.sha256(der).hexdigest().upper()
    expected = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    assert f"SHA-256 fingerprint {expected}" in tls_server.log()
    # The certificate the server presents is the one on disk.
    address = (tls_server.host, implicit_port(tls_server))
    with (
        socket.create_connection(address, timeout=10) as raw,
        insecure_context().wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.getpeercert(binary_form=True) == der


# -- curl -------------------------------------------------------------------------------------


def curl_version() -> tuple[int, int]:
    """curl's major and minor version."""
    first = subprocess.run(
        ["curl", "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    major, minor = first[1].split(".")[:2]
    return int(major), int(minor)


CURL_MODES = {"passive": (), "active": ("--ftp-port", "127.0.0.1")}


@pytest.fixture(params=list(CURL_MODES))
def curl_mode(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """curl data-channel flags; active FTPS is skipped on curl 7.87/7.88 (curl #10666)."""
    if not have("curl"):
        pytest.skip("curl is not installed")
    if request.param == "active" and curl_version() in {(7, 87), (7, 88)}:
        pytest.skip("curl 7.87/7.88 cannot do active-mode FTPS (regression, curl issue #10666)")
    return CURL_MODES[request.param]


def curl_round_trip(
    server: ServerProcess, area: str, tmp_path: Path, base: list[str], url: str
) -> None:
    """Upload, download and list with curl; check the bytes on both sides."""
    payload = random_bytes(300_000, area)
    local = tmp_path / "local.bin"
    local.write_bytes(payload)
    common = ["curl", "-sS", "-v", "--max-time", "60", "--user", f"{USER}:{PASSWORD}", *base]
    check_ok(run_client([*common, "-T", str(local), f"{url}/{area}/up.bin"]), server)
    assert sha256_file(server.root / area / "up.bin") == sha256(payload)
    result = check_ok(
        run_client([*common, "-o", str(tmp_path / "back.bin"), f"{url}/{area}/up.bin"]), server
    )
    assert sha256_file(tmp_path / "back.bin") == sha256(payload)
    result = check_ok(run_client([*common, f"{url}/{area}/"]), server)
    assert "up.bin" in result.stdout, explain(result, server)
    assert str(len(payload)) in result.stdout, explain(result, server)


def test_curl_explicit_self_signed(
    tls_server: ServerProcess,
    curl_mode: tuple[str, ...],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    area = fresh_area(tls_server, request.node.name)
    curl_round_trip(tls_server, area, tmp_path, ["--ssl-reqd", "-k", *curl_mode], tls_server.url)


def test_curl_explicit_tls12(
    tls_server: ServerProcess, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """TLS 1.2 has no post-handshake session tickets (compare the TLS 1.3 tests)."""
    if not have("curl"):
        pytest.skip("curl is not installed")
    area = fresh_area(tls_server, request.node.name)
    flags = ["--ssl-reqd", "-k", "--tls-max", "1.2"]
    curl_round_trip(tls_server, area, tmp_path, flags, tls_server.url)


def test_curl_explicit_verifies_ca_certificate(
    ca_site: CaSite, curl_mode: tuple[str, ...], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    server = ca_site.server
    area = fresh_area(server, request.node.name)
    flags = ["--ssl-reqd", "--cacert", str(ca_site.ca_pem), *curl_mode]
    curl_round_trip(server, area, tmp_path, flags, server.url)


def test_curl_rejects_untrusted_certificate(ca_site: CaSite) -> None:
    """Without the CA (and without -k) curl must refuse: verification really happens."""
    if not have("curl"):
        pytest.skip("curl is not installed")
    server = ca_site.server
    result = run_client(
        [
            "curl",
            "-sS",
            "--max-time",
            "30",
            "--ssl-reqd",
            "--user",
            f"{USER}:{PASSWORD}",
            server.url,
        ]
    )
    assert result.returncode == 60, explain(result, server)  # CURLE_PEER_FAILED_VERIFICATION
    assert can_log_in(server)


def test_curl_implicit_ftps(
    tls_server: ServerProcess,
    curl_mode: tuple[str, ...],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    area = fresh_area(tls_server, request.node.name)
    url = f"ftps://{tls_server.host}:{implicit_port(tls_server)}"
    curl_round_trip(tls_server, area, tmp_path, ["-k", *curl_mode], url)


def test_curl_implicit_verifies_ca_certificate(
    ca_site: CaSite, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if not have("curl"):
        pytest.skip("curl is not installed")
    server = ca_site.server
    area = fresh_area(server, request.node.name)
    url = f"ftps://localhost:{implicit_port(server)}"
    curl_round_trip(server, area, tmp_path, ["--cacert", str(ca_site.ca_pem)], url)


# -- lftp -------------------------------------------------------------------------------------

LFTP_MODES = {"passive": "set ftp:passive-mode on", "active": "set ftp:passive-mode off"}


@pytest.fixture(params=list(LFTP_MODES))
def lftp_mode(request: pytest.FixtureRequest) -> str:
    """lftp's data-channel setting."""
    if not have("lftp"):
        pytest.skip("lftp is not installed")
    return LFTP_MODES[request.param]


def lftp_round_trip(
    server: ServerProcess, area: str, tmp_path: Path, settings: list[str], host: str
) -> None:
    payload = random_bytes(400_000, area)
    (tmp_path / "local.bin").write_bytes(payload)
    script = "; ".join(
        [
            "set ftp:ssl-force true",
            "set ftp:ssl-protect-data true",
            "set ftp:ssl-protect-list true",
            *settings,
            "set net:max-retries 1",
            "set net:timeout 10",
            "set net:reconnect-interval-base 1",
            "set cmd:fail-exit yes",
            "set xfer:clobber on",
            f"open -u '{USER},{PASSWORD}' -p {server.port} {host}",
            f"cd {area}",
            "put local.bin -o remote.bin",
            "get remote.bin -o back.bin",
            "cls -l",
        ]
    )
    result = check_ok(run_client(["lftp", "-d", "-c", script], cwd=tmp_path), server)
    assert "---> AUTH TLS" in result.stderr, explain(result, server)
    assert "---> PROT P" in result.stderr, explain(result, server)
    assert sha256_file(server.root / area / "remote.bin") == sha256(payload)
    assert sha256_file(tmp_path / "back.bin") == sha256(payload)
    assert "remote.bin" in result.stdout, explain(result, server)


def test_lftp_self_signed(
    tls_server: ServerProcess, lftp_mode: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    area = fresh_area(tls_server, request.node.name)
    settings = ["set ssl:verify-certificate no", lftp_mode]
    lftp_round_trip(tls_server, area, tmp_path, settings, tls_server.host)


def test_lftp_verifies_ca_certificate(
    ca_site: CaSite, lftp_mode: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    server = ca_site.server
    area = fresh_area(server, request.node.name)
    settings = [
        f"set ssl:ca-file {ca_site.ca_pem}",
        "set ssl:verify-certificate yes",
        "set ssl:check-hostname yes",
        lftp_mode,
    ]
    lftp_round_trip(server, area, tmp_path, settings, "localhost")


# -- ftplib -----------------------------------------------------------------------------------


@pytest.fixture(params=[True, False], ids=["passive", "active"])
def passive(request: pytest.FixtureRequest) -> bool:
    """ftplib's data-channel mode."""
    return bool(request.param)


def ftplib_round_trip(ftp: ftplib.FTP, server: ServerProcess, area: str) -> None:
    payload = random_bytes(250_000, area)
    ftp.cwd(area)
    upload(ftp, "up.bin", payload)
    assert sha256_file(server.root / area / "up.bin") == sha256(payload)
    assert sha256(download(ftp, "up.bin")) == sha256(payload)
    lines = listing(ftp)
    assert any(line.endswith(" up.bin") for line in lines), lines
    assert ftp.nlst() == ["up.bin"]


def test_ftplib_explicit(
    tls_server: ServerProcess, passive: bool, request: pytest.FixtureRequest
) -> None:
    area = fresh_area(tls_server, request.node.name)
    with closing_ftp(tls_login(tls_server, passive=passive)) as ftp:
        assert isinstance(ftp.sock, ssl.SSLSocket)
        ftplib_round_trip(ftp, tls_server, area)


def test_ftplib_explicit_verifies_ca_certificate(
    ca_site: CaSite, passive: bool, request: pytest.FixtureRequest
) -> None:
    server = ca_site.server
    area = fresh_area(server, request.node.name)
    context = verifying_context(ca_site.ca_pem)
    with closing_ftp(tls_login(server, context=context, passive=passive)) as ftp:
        ftplib_round_trip(ftp, server, area)


def test_ftplib_refuses_untrusted_server(tls_server: ServerProcess) -> None:
    """A verifying client must not accept the self-signed certificate."""
    ftp = ftplib.FTP_TLS(context=ssl.create_default_context(), timeout=10)
    try:
        ftp.connect(tls_server.host, tls_server.port)
        with pytest.raises(ssl.SSLCertVerificationError):
            ftp.auth()
    finally:
        ftp.close()
    assert can_log_in(tls_server)


def test_ftplib_implicit(
    tls_server: ServerProcess, passive: bool, request: pytest.FixtureRequest
) -> None:
    area = fresh_area(tls_server, request.node.name)
    ftp = tls_login(
        tls_server, cls=ImplicitFTP_TLS, port=implicit_port(tls_server), passive=passive
    )
    with closing_ftp(ftp):
        assert (ftp.welcome or "").startswith("220")
        ftplib_round_trip(ftp, tls_server, area)


def test_ftplib_implicit_verifies_ca_certificate(
    ca_site: CaSite, request: pytest.FixtureRequest
) -> None:
    server = ca_site.server
    area = fresh_area(server, request.node.name)
    ftp = tls_login(
        server,
        context=verifying_context(ca_site.ca_pem),
        cls=ImplicitFTP_TLS,
        port=implicit_port(server),
    )
    with closing_ftp(ftp):
        ftplib_round_trip(ftp, server, area)


def test_implicit_banner_names_port(tls_server: ServerProcess) -> None:
    port = implicit_port(tls_server)
    assert port not in {0, tls_server.port}


def test_tls13_upload_closed_without_reading_tickets(
    tls_server: ServerProcess, request: pytest.FixtureRequest
) -> None:
    """An upload whose client closes the data connection as curl 7.88 and lftp do.

    Such a client never reads what the server sent on the data connection
    after the handshake (TLS 1.3 NewSessionTicket messages), so its kernel
    answers close() with a reset and drops whatever it had not sent yet
    (curl issue #6149).  The server must then either have every byte or say
    the transfer failed: a 226 for a truncated file is silent data loss.
    """
    area = fresh_area(tls_server, request.node.name)
    context = insecure_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    payload = random_bytes(600_000, area)
    with TlsRawClient(tls_server.host, tls_server.port) as client:
        client.starttls(context)
        client.login()
        for line in ("PBSZ 0", "PROT P", "TYPE I", f"CWD {area}"):
            assert client.command(line)[0] in {200, 250}, line
        for attempt in range(3):
            code, text = client.command("EPSV")
            assert code == 229, text
            port = int(text.split("|")[-2])
            name = f"up{attempt}.bin"
            with socket.create_connection((tls_server.host, port), timeout=10) as raw:
                assert client.command(f"STOR {name}")[0] == 150
                data = context.wrap_socket(raw, server_hostname="localhost")
                data.sendall(payload)
                data.close()  # no close_notify, NewSessionTicket left unread
            code, text = client.read_reply()
            stored = (tls_server.root / area / name).read_bytes()
            if code == 226:
                assert len(stored) == len(payload), (
                    f"226 for a truncated upload: {len(stored)} of {len(payload)} bytes stored\n"
                    + log_tail(tls_server, 20)
                )
                assert sha256(stored) == sha256(payload)
            else:
                assert code in {426, 451}, (code, text)


# -- the RFC 4217 command sequence ------------------------------------------------------------


def feature_lines(client: RawClient) -> list[str]:
    code, text = client.command("FEAT")
    assert code == 211, text
    return [line.strip() for line in text.splitlines()[1:-1]]


def test_feat_and_auth_without_tls(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        with RawClient(server.host, server.port) as client:
            features = feature_lines(client)
            assert "EPSV" in features
            assert not any(f.startswith(("AUTH", "PBSZ", "PROT")) for f in features), features
            assert client.command("AUTH TLS")[0] == 502
            assert client.command("PBSZ 0")[0] == 503
            assert client.command("PROT P")[0] == 503
            client.login()
            assert client.command("NOOP")[0] == 200
    finally:
        server.stop()


def test_feat_and_command_sequence_with_tls(tls_server: ServerProcess) -> None:
    with TlsRawClient(tls_server.host, tls_server.port) as client:
        features = feature_lines(client)
        for wanted in ("AUTH TLS", "PBSZ", "PROT"):
            assert wanted in features, features
        assert client.command("PBSZ 0")[0] == 503
        assert client.command("PROT P")[0] == 503
        assert client.command("CCC")[0] == 503
        assert client.command("AUTH KERBEROS_V4")[0] == 504
        client.starttls()
        assert isinstance(client.sock, ssl.SSLSocket)
        assert client.command("AUTH TLS")[0] == 503, "TLS is already active"
        assert client.command("PROT P")[0] == 503, "PROT before PBSZ"
        assert client.command("PBSZ 0")[0] == 200
        assert client.command("PROT S")[0] == 536
        assert client.command("PROT E")[0] == 536
        assert client.command("PROT Q")[0] == 501
        assert client.command("PROT P")[0] == 200
        assert client.command("PROT C")[0] == 200
        assert client.command("CCC")[0] == 533
        client.login()
        assert "AUTH TLS" in feature_lines(client)
        assert client.command("QUIT")[0] == 221


def test_auth_ssl_works(tls_server: ServerProcess) -> None:
    with TlsRawClient(tls_server.host, tls_server.port) as client:
        client.starttls(mechanism="SSL")
        client.login()
        assert client.command("NOOP")[0] == 200


# -- policies ---------------------------------------------------------------------------------


def test_require_tls(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--tls-self-signed", "--require-tls", "-v")
    try:
        with RawClient(server.host, server.port) as client:
            code, text = client.command(f"USER {USER}")
            assert code == 530, text
            assert "TLS" in text
            code, _ = client.command(f"PASS {PASSWORD}")
            assert code in {503, 530}
        # Plain ftplib cannot log in.
        plain = ftplib.FTP(timeout=10)
        try:
            plain.connect(server.host, server.port)
            with pytest.raises(ftplib.error_perm, match=r"^530"):
                plain.login(USER, PASSWORD)
        finally:
            plain.close()
        with closing_ftp(tls_login(server, protect=False)) as ftp:
            assert ftp.sendcmd("PBSZ 0").startswith("200")
            with pytest.raises(ftplib.error_perm, match=r"^534"):
                ftp.sendcmd("PROT C")
            # Still PROT C (the default after AUTH): data in clear text is refused.
            with pytest.raises(ftplib.error_perm, match=r"^521"):
                listing(ftp)
            ftp.prot_p()
            upload(ftp, "secret.bin", b"x" * 1000)
            assert download(ftp, "secret.bin") == b"x" * 1000
            assert any("secret.bin" in line for line in listing(ftp))
    finally:
        server.stop()
    assert "Traceback" not in server.log()


@pytest.fixture
def per_user_server(tmp_path: Path) -> Iterator[ServerProcess]:
    config = write_config(
        tmp_path,
        "[tls]\nself_signed = true\n\n"
        + user_table("strict", "strict-pass", tls_required=True)
        + user_table("relaxed", "relaxed-pass"),
    )
    proc = start_server(tmp_path, "--config", str(config), "-v", user=None)
    yield proc
    proc.stop()


def test_per_user_tls_required(per_user_server: ServerProcess) -> None:
    server = per_user_server
    (server.root / "hello.txt").write_bytes(b"hello\n")
    plain = ftplib.FTP(timeout=10)
    try:
        plain.connect(server.host, server.port)
        with pytest.raises(ftplib.error_perm, match=r"^530.*TLS"):
            plain.login("strict", "strict-pass")
        plain.login("relaxed", "relaxed-pass")
        assert plain.nlst() == ["hello.txt"]
        plain.quit()
    finally:
        plain.close()
    with closing_ftp(
        tls_login(server, user="strict", password="strict-pass", protect=False)
    ) as ftp:
        with pytest.raises(ftplib.error_perm, match=r"^521"):
            listing(ftp)
        assert ftp.sendcmd("PBSZ 0").startswith("200")
        with pytest.raises(ftplib.error_perm, match=r"^534"):
            ftp.sendcmd("PROT C")
        ftp.prot_p()
        assert ftp.nlst() == ["hello.txt"]
    with closing_ftp(
        tls_login(server, user="relaxed", password="relaxed-pass", protect=False)
    ) as ftp:
        ftp.sendcmd("PBSZ 0")
        assert ftp.sendcmd("PROT C").startswith("200")
        assert ftp.nlst() == ["hello.txt"]


@pytest.fixture(scope="module")
def reuse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start_server(
        tmp_path_factory.mktemp("reuse"), "--tls-self-signed", "--tls-require-session-reuse", "-v"
    )
    yield proc
    proc.stop()


def expect_reuse_refusal(ftp: ftplib.FTP_TLS) -> str:
    """Run a LIST with a client that does not resume; return the final error reply."""
    ftp.sendcmd("TYPE A")
    try:
        conn = ftp.transfercmd("LIST")
    except ftplib.error_temp as exc:  # refused before the data connection was used
        return str(exc)
    except (ssl.SSLError, OSError):
        pass
    else:
        with contextlib.suppress(ssl.SSLError, OSError):
            conn.settimeout(10)
            while conn.recv(4096):
                pass
        conn.close()
    with pytest.raises(ftplib.error_temp) as caught:
        ftp.voidresp()
    return str(caught.value)


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
def test_session_reuse_required_refuses_fresh_session(
    reuse_server: ServerProcess, passive: bool
) -> None:
    with closing_ftp(tls_login(reuse_server, passive=passive)) as ftp:
        message = expect_reuse_refusal(ftp)
        assert message.startswith("425"), message
        assert re.search(r"session reuse", message, re.IGNORECASE), message
        # The control connection survives the refusal.
        assert ftp.voidcmd("NOOP").startswith("200")


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
def test_session_reuse_required_accepts_resumed_session(
    reuse_server: ServerProcess, passive: bool, version: str, request: pytest.FixtureRequest
) -> None:
    area = fresh_area(reuse_server, request.node.name)
    context = insecure_context()
    tls_version = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    context.minimum_version = context.maximum_version = tls_version
    ftp = tls_login(reuse_server, context=context, cls=ReusingFTP_TLS, passive=passive)
    with closing_ftp(ftp):
        assert isinstance(ftp.sock, ssl.SSLSocket)
        assert ftp.sock.version() == f"TLSv{version}"
        try:
            ftplib_round_trip(ftp, reuse_server, area)
        except ftplib.Error as exc:
            pytest.fail(f"{exc}\n--- server log ---\n{log_tail(reuse_server)}")


def test_min_version_13(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[tls]\nself_signed = true\nmin_version = "1.3"\n')
    server = start_server(tmp_path, "--config", str(config))
    try:
        old = insecure_context()
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with (
            TlsRawClient(server.host, server.port) as client,
            pytest.raises((ssl.SSLError, OSError)),
        ):
            client.starttls(old)
        with closing_ftp(tls_login(server)) as ftp:
            assert isinstance(ftp.sock, ssl.SSLSocket)
            assert ftp.sock.version() == "TLSv1.3"
            assert ftp.nlst() == []
    finally:
        server.stop()


# -- the wrong protocol on a port -------------------------------------------------------------


def client_hello() -> bytes:
    """The bytes of a real TLS ClientHello."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = insecure_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = outgoing.read()
    assert hello[:1] == b"\x16", hello[:8]
    return hello


def test_tls_client_hello_on_plain_port(tls_server: ServerProcess) -> None:
    with socket.create_connection((tls_server.host, tls_server.port), timeout=10) as sock:
        sock.sendall(client_hello())
        sock.sendall(b"\r\nQUIT\r\n")
        received = read_until_closed(sock, timeout=15)
    lines = received.split(b"\r\n")
    assert lines[-1] == b"", received
    for line in lines[:-1]:
        assert REPLY_LINE.match(line), received
    assert lines[0].startswith(b"220 "), received
    assert lines[-2].startswith(b"221 "), received
    assert tls_server.alive()
    assert can_log_in(tls_server)


def test_curl_ftps_url_on_plain_port(tls_server: ServerProcess) -> None:
    """Implicit FTPS (a ClientHello that waits for a ServerHello) to the plain port."""
    if not have("curl"):
        pytest.skip("curl is not installed")
    url = f"ftps://{tls_server.host}:{tls_server.port}/"
    result = run_client(
        ["curl", "-sS", "-k", "--max-time", "15", "--user", f"{USER}:{PASSWORD}", url],
        timeout=30,
    )
    assert result.returncode != 0, explain(result, tls_server)
    assert tls_server.alive()
    assert can_log_in(tls_server)


def test_plain_text_on_implicit_port(tls_server: ServerProcess) -> None:
    port = implicit_port(tls_server)
    with socket.create_connection((tls_server.host, port), timeout=10) as sock:
        sock.sendall(b"USER x\r\n")
        received = read_until_closed(sock, timeout=15)
    assert b"331" not in received and b"220 " not in received, received
    assert tls_server.alive()
    ftp = tls_login(tls_server, cls=ImplicitFTP_TLS, port=port)
    with closing_ftp(ftp):
        assert ftp.voidcmd("NOOP").startswith("200")
    assert can_log_in(tls_server)


def test_tls_handshake_garbage_after_auth(tls_server: ServerProcess) -> None:
    """AUTH TLS followed by junk instead of a ClientHello: that session ends, the server lives."""
    with RawClient(tls_server.host, tls_server.port) as client:
        assert client.command("AUTH TLS")[0] == 234
        client.send_raw(b"USER alice\r\nPASS x\r\n" + b"\x00" * 64)
        read_until_closed(client.sock, timeout=20)
    assert tls_server.alive()
    assert can_log_in(tls_server)


def _block_file(client: RawClient, data: socket.socket) -> bytes:
    """One file's blocks off a block-mode data connection, then its final reply."""
    decoder = BlockDecoder()
    contents = bytearray()
    while not decoder.done:
        for piece in decoder.feed(data.recv(65536)):
            contents += piece
    assert client.read_reply()[0] == 250
    return bytes(contents)


def test_block_mode_keeps_the_tls_data_connection_and_prot_drops_it(
    tls_server: ServerProcess,
) -> None:
    (tls_server.root / "block.txt").write_bytes(b"kept under TLS\n")
    with TlsRawClient(tls_server.host, tls_server.port) as client:
        client.starttls()
        assert client.command("PBSZ 0")[0] == 200
        assert client.command("PROT P")[0] == 200
        client.login()
        assert client.command("MODE B")[0] == 200
        code, text = client.command("EPSV")
        assert code == 229, text
        raw = socket.create_connection((tls_server.host, int(text.split("|")[3])), timeout=10)
        assert client.command("RETR block.txt")[0] == 150
        with insecure_context().wrap_socket(raw, server_hostname=tls_server.host) as data:
            assert _block_file(client, data) == b"kept under TLS\n"
            assert client.command("RETR block.txt")[0] == 125  # no new connection or handshake
            assert _block_file(client, data) == b"kept under TLS\n"
            # A protection level change must not leave a connection made under the old one.
            assert client.command("PROT C")[0] == 200
            assert data.recv(1) == b""
        assert client.command("RETR block.txt")[0] == 425
